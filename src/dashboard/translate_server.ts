// The translate page (`img2img serve`): upload or drop an image, get the generator's translation next to it.
// POST /translate takes the image file as the request body. The size limit is enforced while the body streams
// in (never more than the limit is held); a refused upload is drained, up to a bound, so that the browser reads
// the 413 instead of a reset connection. Images the decoder refuses are 400s with the decoder's own message.
import * as http from 'http';
import * as path from 'path';
import { ImageFileError } from '../data/image_errors';
import { Generator, loadGenerator } from '../inference/generator';
import type { ArchitectureOptions } from '../inference/load_network';
import type { Device } from '../architectures';
import { closeServer, formatBytes, guardClientErrors, listen, sendAsset, sendBuffer, sendError, sendJson, urlOf } from './http_util';
import { TRANSLATE_CSS, TRANSLATE_HTML, TRANSLATE_JS } from './translate_page';

/** Uploads buffered or translating at once; more get a 503 (each may hold up to the upload limit). */
const MAX_PENDING = 4;
/** After refusing an upload, this many more bytes are read and dropped before the connection is cut. */
const DRAIN_BYTES = 64 * 1024 * 1024;
/** The name translate() gives buffers in its messages; replaced by the uploaded file's name. */
const BUFFER_NAME = 'input image buffer';

export interface TranslateServerOptions {
  /** A generator checkpoint file (.pth/.safetensors) or a run folder. */
  checkpoint: string;
  port: number;
  host: string;
  maxUploadBytes: number;
  /** 'cpu', 'cuda', 'cuda:N' or '' (auto, the default: CUDA when available). */
  device?: Device;
  mode?: 'eval' | 'train';
  /** Architecture for checkpoints that do not describe themselves (as `img2img test` takes it). */
  architecture?: ArchitectureOptions;
}

export interface TranslateServer {
  url: string;
  generator: Generator;
  /** Stops listening, ends open connections and releases the generator. */
  close(): Promise<void>;
}

/** A refused request: its status and the message the page shows. */
class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

function uploadName(req: http.IncomingMessage): string {
  const raw = req.headers['x-file-name'];
  if (typeof raw !== 'string' || !raw) return 'the upload';
  let name: string;
  try { name = decodeURIComponent(raw); } catch { name = raw; }
  name = path.basename(name).replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 200);
  return name || 'the upload';
}

/** Reads the body into memory, refusing it with a 413 as soon as it is known to exceed `limit`. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new HttpError(413, `the upload is larger than the limit of ${formatBytes(limit)} ` +
    '(the server was started with --max_upload_mb; choose a smaller image)');
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) { reject(tooLarge()); return; }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.off('end', onEnd);
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => resolve(Buffer.concat(chunks, size));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
    req.on('aborted', () => reject(new HttpError(400, 'the upload was interrupted')));
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
  const generator = await loadGenerator(options.checkpoint, { ...options.architecture, device: options.device ?? '', mode: options.mode ?? 'eval' });
  const d = generator.description;
  const info = {
    checkpoint: path.basename(generator.checkpoint),
    arch: d.arch, ngf: d.width, norm: d.norm, inputChannels: generator.inputChannels, outputChannels: generator.outputChannels,
    device: generator.device, mode: generator.mode, maxUploadBytes, maxUpload: formatBytes(maxUploadBytes),
  };
  let pending = 0;

  const translate = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (pending >= MAX_PENDING) {
      drain(req);
      sendError(res, 503, `the server is busy with ${pending} translations; try again in a moment`, { 'Retry-After': '1' });
      return;
    }
    pending++;
    try {
      const name = uploadName(req);
      let body: Buffer;
      try {
        body = await readBody(req, maxUploadBytes);
      } catch (e) {
        if (e instanceof HttpError && e.status === 413) drain(req);
        throw e;
      }
      if (body.length === 0) throw new HttpError(400, `${name} is empty (0 bytes)`);
      const notes: string[] = [];
      const started = Date.now();
      let png: Buffer;
      try {
        png = await generator.translate(body, { output: 'png', onNote: (n) => notes.push(n) });
      } catch (e) {
        const err = e as Error;
        if (err instanceof ImageFileError) {
          const message = err.message.startsWith(BUFFER_NAME) ? name + err.message.slice(BUFFER_NAME.length) : err.message;
          throw new HttpError(400, message);
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

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = url.pathname;
    if (route === '/translate') {
      if (req.method !== 'POST') { sendError(res, 405, 'POST the image file as the request body', { Allow: 'POST' }); return; }
      translate(req, res).catch((e: Error) => {
        if (e instanceof HttpError) sendError(res, e.status, e.message);
        else sendError(res, 500, `translation failed: ${e.message}`);
      });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') { sendError(res, 405, `${req.method} is not allowed here`, { Allow: 'GET, HEAD' }); return; }
    if (route === '/' || route === '/index.html') sendAsset(req, res, TRANSLATE_HTML);
    else if (route === '/translate.js') sendAsset(req, res, TRANSLATE_JS);
    else if (route === '/translate.css') sendAsset(req, res, TRANSLATE_CSS);
    else if (route === '/api/info') sendJson(res, 200, info);
    else if (route === '/favicon.ico') res.writeHead(204).end();
    else sendError(res, 404, `nothing at ${route}`);
  });
  guardClientErrors(server);
  // Slow uploads are fine; a connection that sends nothing for this long is closed.
  server.requestTimeout = 5 * 60_000;
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
