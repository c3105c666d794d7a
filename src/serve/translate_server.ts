// The translate page (`img2img serve`): upload or drop an image, get the generator's translation next to it.
// POST /translate takes the image file as the request body. The size limit is enforced while the body streams
// in (never more than the limit is held); a refused upload is drained, up to a bound, so that the browser reads
// the 413 instead of a reset connection. Uploads slower than a minimum rate, or past a deadline, are 408s and
// never hold a translation slot. Images the decoder refuses are 400s with the decoder's own message and code.
import * as http from 'http';
import * as path from 'path';
import { ImageFileError } from '../data/image_errors';
import { Generator, loadGenerator } from '../inference/generator';
import type { Precision } from '../precision';
import type { ArchitectureOptions } from '../inference/load_network';
import type { Device } from '../device';
import {
  closeServer, formatBytes, guardClientErrors, guardHandler, HttpError, listen, requestPath, sendAsset, sendBuffer, sendError, sendJson,
  SERVER_TIMEOUTS, urlOf,
} from '../web/http_util';
import { TRANSLATE_CSS, TRANSLATE_HTML, TRANSLATE_JS } from './translate_page';

/** Uploads received and waiting or translating at once; more get a 503 (each holds up to the upload limit). */
const MAX_PENDING = 4;
/**
 * Uploads still arriving at once. Counted apart from MAX_PENDING so that slow senders cannot take the
 * translation slots; each of them is cut by the minimum rate or the deadline below.
 */
const MAX_RECEIVING = 16;
/** After refusing an upload, this many more bytes are read and dropped before the connection is cut. */
const DRAIN_BYTES = 64 * 1024 * 1024;
/** The name translate() gives buffers in its messages; replaced by the uploaded file's name. */
const BUFFER_NAME = 'input image buffer';
/** How often an upload's pace is checked. */
const PACE_CHECK_MS = 500;
const SLOW = 'ERR_IMG2IMG_UPLOAD_TOO_SLOW';
const BUSY = 'ERR_IMG2IMG_BUSY';

/** How slow an upload may be: an average below the rate after the grace period, or past the deadline, is a 408. */
export interface UploadPace {
  minBytesPerSecond: number;
  graceMs: number;
  deadlineMs: number;
}

/** 16 KB/s after 10 s (a 20 MB upload at the floor takes 21 minutes, so the deadline of 2 minutes binds first). */
export const DEFAULT_UPLOAD_PACE: UploadPace = { minBytesPerSecond: 16_000, graceMs: 10_000, deadlineMs: 120_000 };

export interface TranslateServerOptions {
  /** A generator checkpoint file (.pth/.safetensors) or a run folder. */
  checkpoint: string;
  port: number;
  host: string;
  maxUploadBytes: number;
  /** 'cpu', 'cuda', 'cuda:N' or '' (auto, the default: CUDA when available). */
  device?: Device;
  mode?: 'eval' | 'train';
  /** Mixed precision of the forwards (loadGenerator's precision / forcePrecision). */
  precision?: Precision;
  forcePrecision?: boolean;
  /** Bounds on slow uploads (default DEFAULT_UPLOAD_PACE). */
  uploadPace?: Partial<UploadPace>;
  /** Where unexpected request failures are logged (default stderr). */
  log?: (line: string) => void;
  /** Architecture for checkpoints that do not describe themselves (as `img2img test` takes it). */
  architecture?: ArchitectureOptions;
}

export interface TranslateServer {
  url: string;
  generator: Generator;
  /** Stops listening, ends open connections and releases the generator. */
  close(): Promise<void>;
}

function uploadName(req: http.IncomingMessage): string {
  const raw = req.headers['x-file-name'];
  if (typeof raw !== 'string' || !raw) return 'the upload';
  let name: string;
  try { name = decodeURIComponent(raw); } catch { name = raw; }
  name = path.basename(name).replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 200);
  return name || 'the upload';
}

/**
 * Reads the body into memory, refusing it with a 413 as soon as it is known to exceed `limit`, and with a 408
 * when it arrives slower than `pace` allows (checked every PACE_CHECK_MS, so a silent sender is caught too).
 */
function readBody(req: http.IncomingMessage, limit: number, pace: UploadPace): Promise<Buffer> {
  const tooLarge = () => new HttpError(413, `the upload is larger than the limit of ${formatBytes(limit)} ` +
    '(the server was started with --max_upload_mb; choose a smaller image)', {}, 'ERR_IMG2IMG_UPLOAD_TOO_LARGE');
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) { reject(tooLarge()); return; }
    const chunks: Buffer[] = [];
    let size = 0;
    const started = Date.now();
    const stop = (err: Error | null) => {
      clearInterval(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      chunks.length = 0;
      if (err) reject(err);
    };
    const timer = setInterval(() => {
      const elapsed = Date.now() - started;
      if (elapsed > pace.deadlineMs) {
        stop(new HttpError(408, `the upload took longer than ${pace.deadlineMs / 1000} s; send it again over a faster connection`, {}, SLOW));
      } else if (elapsed > pace.graceMs && size < (pace.minBytesPerSecond * elapsed) / 1000) {
        stop(new HttpError(408, `the upload arrived at ${Math.round((size * 1000) / elapsed)} bytes/s, below the minimum ` +
          `of ${formatBytes(pace.minBytesPerSecond)}/s; send it again over a faster connection`, {}, SLOW));
      }
    }, Math.min(PACE_CHECK_MS, pace.graceMs));
    timer.unref();
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) { stop(tooLarge()); return; }
      chunks.push(chunk);
    };
    const onEnd = () => {
      const body = Buffer.concat(chunks, size);
      stop(null);
      resolve(body);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', (e) => stop(e));
    req.on('aborted', () => stop(new HttpError(400, 'the upload was interrupted', {}, 'ERR_IMG2IMG_UPLOAD_INTERRUPTED')));
  });
}

/** Reads and drops what is left of a refused body (so the reply is read), cutting the connection past a bound. */
function drain(req: http.IncomingMessage): void {
  let dropped = 0;
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > DRAIN_BYTES) req.socket.destroy();
  });
  req.resume();
}

/** Loads the generator, then serves the page on host:port (0 picks a free port). */
export async function startTranslateServer(options: TranslateServerOptions): Promise<TranslateServer> {
  const { port, host, maxUploadBytes } = options;
  if (!(maxUploadBytes > 0)) throw new Error(`Expected a positive number of bytes for maxUploadBytes but received ${maxUploadBytes}`);
  const generator = await loadGenerator(options.checkpoint, {
    ...options.architecture, device: options.device ?? '', mode: options.mode ?? 'eval', precision: options.precision, forcePrecision: options.forcePrecision,
  });
  const d = generator.description;
  const info = {
    checkpoint: path.basename(generator.checkpoint),
    arch: d.arch, ngf: d.width, norm: d.norm, inputChannels: generator.inputChannels, outputChannels: generator.outputChannels,
    device: generator.device, mode: generator.mode, maxUploadBytes, maxUpload: formatBytes(maxUploadBytes),
  };
  const pace: UploadPace = { ...DEFAULT_UPLOAD_PACE, ...options.uploadPace };
  let pending = 0;
  let receiving = 0;

  /** A 503; whatever the request still sends is read and dropped (nothing, once its body has arrived). */
  const busy = (req: http.IncomingMessage, what: string) => {
    drain(req);
    return new HttpError(503, `the server is busy with ${what}; try again in a moment`, { 'Retry-After': '1' }, BUSY);
  };

  const translate = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (receiving >= MAX_RECEIVING) throw busy(req, `${receiving} uploads arriving`);
    if (pending >= MAX_PENDING) throw busy(req, `${pending} translations`);
    const name = uploadName(req);
    let body: Buffer;
    receiving++;
    try {
      body = await readBody(req, maxUploadBytes, pace);
    } catch (e) {
      if (e instanceof HttpError && e.status === 413) drain(req);
      // a slow sender's connection is closed after the reply instead of waiting for the rest
      if (e instanceof HttpError && e.status === 408) res.once('finish', () => req.socket.destroy());
      throw e;
    } finally {
      receiving--;
    }
    if (body.length === 0) throw new HttpError(400, `${name} is empty (0 bytes)`, {}, 'ERR_IMG2IMG_BAD_IMAGE');
    if (pending >= MAX_PENDING) throw busy(req, `${pending} translations`); // the slots filled while this one arrived
    pending++;
    try {
      const notes: string[] = [];
      const started = Date.now();
      let png: Buffer;
      try {
        png = await generator.translate(body, { output: 'png', onNote: (n) => notes.push(n) });
      } catch (e) {
        const err = e as Error;
        if (err instanceof ImageFileError) {
          const message = err.message.startsWith(BUFFER_NAME) ? name + err.message.slice(BUFFER_NAME.length) : err.message;
          throw new HttpError(400, message, {}, err.code);
        }
        throw err;
      }
      sendBuffer(req, res, 'image/png', png, {
        'Cache-Control': 'no-store',
        'X-Elapsed-Ms': String(Date.now() - started),
        'X-Notes': encodeURIComponent(notes.join('; ')),
      });
    } finally {
      pending--;
    }
  };

  // the server's own request timeout only backs up the upload deadline
  const timeouts = { ...SERVER_TIMEOUTS, requestTimeout: Math.max(SERVER_TIMEOUTS.requestTimeout, pace.deadlineMs + 5000) };
  const server = http.createServer(timeouts, guardHandler('serve', async (req, res) => {
    const route = requestPath(req);
    if (route === '/translate') {
      if (req.method !== 'POST') { sendError(res, 405, 'POST the image file as the request body', { Allow: 'POST' }); return; }
      await translate(req, res);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') { sendError(res, 405, `${req.method} is not allowed here`, { Allow: 'GET, HEAD' }); return; }
    if (route === '/' || route === '/index.html') sendAsset(req, res, TRANSLATE_HTML);
    else if (route === '/translate.js') sendAsset(req, res, TRANSLATE_JS);
    else if (route === '/translate.css') sendAsset(req, res, TRANSLATE_CSS);
    else if (route === '/api/info') sendJson(res, 200, info);
    else if (route === '/favicon.ico') res.writeHead(204).end();
    else sendError(res, 404, `nothing at ${route.slice(0, 200)}`);
  }, options.log));
  guardClientErrors(server);
  try {
    const address = await listen(server, port, host, { port: '--port', host: '--host' });
    return {
      url: urlOf(host, address.port),
      generator,
      async close() {
        await closeServer(server);
        generator.dispose();
      },
    };
  } catch (e) {
    generator.dispose();
    throw e;
  }
}
