/**
 * Downloads one URL to a file with node's http/https only: the body streams into `<target>.part`, which is
 * renamed to `<target>` once complete and verified, so a file under its final name is always whole.
 * An interrupted download resumes from the size of the .part file (HTTP Range; a server that answers 200
 * instead of 206 restarts it), redirects are followed up to a bound, HTTP errors and bodies shorter than
 * their Content-Length fail with the URL and the byte counts in the message.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import { formatDuration } from './progress';

export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface DownloadOptions {
  /** Redirects followed before giving up (default 5). */
  maxRedirects?: number;
  /** Automatic resumes after a connection is cut or the server has a 5xx moment (default 3). */
  retries?: number;
  /** Wait before the first automatic retry, doubled each time (default 1000 ms). */
  retryDelayMs?: number;
  /** Idle socket time after which the attempt fails (default 60 s). */
  timeoutMs?: number;
  /** Where progress is drawn (a bar on a TTY, a few plain lines otherwise); null = silent. Default stderr. */
  progress?: ProgressSink | null;
  /** Name shown in progress lines (default: the target's file name). */
  label?: string;
  /** SHA-256 (hex) the complete file must have; a mismatch deletes it and fails. null/undefined: not checked. */
  sha256?: string | null;
  /** Checks the complete .part file before it gets its final name; throwing deletes it. */
  verify?: (partFile: string) => void | Promise<void>;
  /** Clock in ms (tests). */
  now?: () => number;
}

export interface DownloadResult {
  file: string;
  bytes: number;
  /** Bytes that were already in the .part file when this call started (0 = fresh download). */
  resumedFrom: number;
  /** URL after redirects. */
  finalUrl: string;
  attempts: number;
}

/** A download that failed; `retryable` when running again (or waiting) may help: cut connections, 5xx. */
export class DownloadError extends Error {
  /** Stable across releases, for callers that branch on the kind of failure. */
  readonly code = 'ERR_IMG2IMG_DOWNLOAD';

  constructor(
    message: string,
    readonly url: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'torch-img2img (node)';

export function partFileOf(target: string): string {
  return `${target}.part`;
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** 1536 → "1.5 KB", 5e6 → "5.0 MB" (decimal units, as download tools show). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

interface Response {
  res: http.IncomingMessage;
  url: string;
}

/** One GET, following redirects; the caller consumes the body of the response it gets. */
function get(url: string, headers: http.OutgoingHttpHeaders, opts: Required<Pick<DownloadOptions, 'maxRedirects' | 'timeoutMs'>>, original = url, hops = 0): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new DownloadError(`cannot download '${url}': not a valid URL`, original, false));
      return;
    }
    const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : null;
    if (!client) {
      reject(new DownloadError(`cannot download ${url}: only http:// and https:// URLs are supported`, original, false));
      return;
    }
    // agent false: one connection per request, closed afterwards (no keep-alive sockets left behind)
    const req = client.get(parsed, { headers: { 'User-Agent': USER_AGENT, ...headers }, agent: false, timeout: opts.timeoutMs }, (res) => {
      const status = res.statusCode ?? 0;
      if (REDIRECT_CODES.has(status) && res.headers.location) {
        res.resume();
        if (hops >= opts.maxRedirects) {
          reject(new DownloadError(`too many redirects (more than ${opts.maxRedirects}) starting at ${original}`, original, false));
          return;
        }
        let next: string;
        try {
          next = new URL(res.headers.location, parsed).toString();
        } catch {
          reject(new DownloadError(`${url} redirected to an invalid location '${res.headers.location}'`, original, false));
          return;
        }
        get(next, headers, opts, original, hops + 1).then(resolve, reject);
        return;
      }
      resolve({ res, url });
    });
    req.on('timeout', () => req.destroy(new Error(`no response for ${Math.round(opts.timeoutMs / 1000)} s`)));
    req.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      const fatal = code === 'ENOTFOUND' || code === 'ECONNREFUSED' || code === 'EAI_AGAIN';
      reject(new DownloadError(`cannot download ${url}: ${err.message}${fatal ? ' (is the server reachable? a mirror can be set with --mirror or IMG2IMG_MIRROR)' : ''}`, original, !fatal || code === 'EAI_AGAIN'));
    });
  });
}

/** `bytes 100-199/1000` → {start: 100, end: 199, total: 1000}; total null for `*`. */
export function parseContentRange(value: string | undefined): { start: number; end: number; total: number | null } | null {
  const match = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec((value ?? '').trim());
  if (!match) return null;
  return { start: Number(match[1]), end: Number(match[2]), total: match[3] === '*' ? null : Number(match[3]) };
}

/** The draw-on-a-TTY / print-a-few-lines-otherwise progress of one download. */
class DownloadProgress {
  private lastDraw = -Infinity;
  private drawnWidth = 0;
  private nextPlainPercent = 10;
  private readonly startedAt: number;

  constructor(
    private readonly sink: ProgressSink | null,
    private readonly label: string,
    private readonly now: () => number,
    private readonly startBytes: number,
  ) {
    this.startedAt = now();
  }

  update(done: number, total: number | null, force = false): void {
    if (!this.sink) return;
    const now = this.now();
    if (this.sink.isTTY) {
      if (!force && now - this.lastDraw < 100) return;
      this.lastDraw = now;
      const columns = this.sink.columns ?? 80;
      let text = this.describe(done, total, Math.max(10, Math.min(30, columns - 60)));
      if (text.length > columns - 1) text = text.slice(0, columns - 1);
      this.sink.write(`\r${text}${' '.repeat(Math.max(0, this.drawnWidth - text.length))}`);
      this.drawnWidth = text.length;
    } else if (total) {
      const percent = Math.floor((done / total) * 100);
      if (percent < this.nextPlainPercent || percent >= 100) return;
      this.nextPlainPercent = (Math.floor(percent / 10) + 1) * 10;
      this.sink.write(`${this.label}: ${percent}% (${formatBytes(done)} of ${formatBytes(total)})\n`);
    }
  }

  /** A message on its own line (e.g. "resuming"), without breaking a bar. */
  note(message: string): void {
    if (!this.sink) return;
    if (this.sink.isTTY && this.drawnWidth > 0) {
      this.sink.write(`\r${' '.repeat(this.drawnWidth)}\r`);
      this.drawnWidth = 0;
    }
    this.sink.write(`${message}\n`);
  }

  finish(done: number): void {
    if (!this.sink) return;
    const seconds = (this.now() - this.startedAt) / 1000;
    const fetched = done - this.startBytes;
    const rate = seconds > 0 ? `, ${formatBytes(fetched / seconds)}/s` : '';
    this.note(`${this.label}: ${formatBytes(done)} downloaded in ${formatDuration(seconds)}${rate}`);
  }

  private describe(done: number, total: number | null, barWidth: number): string {
    const seconds = (this.now() - this.startedAt) / 1000;
    const rate = seconds > 0 ? (done - this.startBytes) / seconds : 0;
    const rateText = rate > 0 ? ` ${formatBytes(rate)}/s` : '';
    if (!total) return `${this.label} ${formatBytes(done)}${rateText}`;
    const fraction = Math.min(1, done / total);
    const filled = Math.round(fraction * barWidth);
    const bar = filled >= barWidth ? '='.repeat(barWidth) : '='.repeat(filled) + '>' + ' '.repeat(barWidth - filled - 1);
    const eta = rate > 0 ? ` ETA ${formatDuration((total - done) / rate)}` : '';
    return `${this.label} [${bar}] ${formatBytes(done)}/${formatBytes(total)} ${Math.floor(fraction * 100)}%${rateText}${eta}`;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface AttemptOutcome {
  finalUrl: string;
}

/**
 * One request: resumes from the .part size when there is one, streams the body into it, and checks that
 * the body had the announced length. Throws DownloadError (retryable for cut connections and 5xx).
 */
interface AttemptHooks {
  progress(done: number, total: number | null): void;
  note(message: string): void;
}

async function attempt(
  url: string,
  part: string,
  options: Required<Pick<DownloadOptions, 'maxRedirects' | 'timeoutMs'>>,
  hooks: AttemptHooks,
  restart = false,
): Promise<AttemptOutcome> {
  const offset = restart ? 0 : sizeOf(part);
  const headers: http.OutgoingHttpHeaders = offset > 0 ? { Range: `bytes=${offset}-` } : {};
  const { res, url: finalUrl } = await get(url, headers, options);
  const status = res.statusCode ?? 0;

  let start: number;
  let expectedBody: number | null;
  let total: number | null;
  if (status === 206) {
    const range = parseContentRange(res.headers['content-range']);
    if (!range || range.start !== offset) {
      // not the range we asked for: start over rather than splice mismatched bytes
      res.resume();
      if (restart) throw new DownloadError(`${finalUrl} answered a plain request with a partial response (${res.headers['content-range'] ?? 'no Content-Range'})`, url, false);
      hooks.note(`${finalUrl} sent another range than asked for (${res.headers['content-range'] ?? 'no Content-Range'}); starting over`);
      return attempt(url, part, options, hooks, true);
    }
    start = offset;
    expectedBody = range.end - range.start + 1;
    total = range.total;
  } else if (status === 200) {
    start = 0; // the server ignored Range (or there was none): the body is the whole file
    if (offset > 0) hooks.note(`${finalUrl} does not support resuming; starting over`);
    const length = res.headers['content-length'];
    expectedBody = length !== undefined ? Number(length) : null;
    total = expectedBody;
  } else if (status === 416 && offset > 0) {
    // nothing left to send: either the .part is already complete or it is longer than the file
    res.resume();
    const total = /\/(\d+)\s*$/.exec(res.headers['content-range'] ?? '');
    if (total && Number(total[1]) === offset) return { finalUrl };
    hooks.note(`${part} does not match ${finalUrl} (the server has no bytes after its ${formatBytes(offset)}); starting over`);
    return attempt(url, part, options, hooks, true);
  } else {
    res.resume();
    const reason = res.statusMessage ? ` ${res.statusMessage}` : '';
    const retryable = status >= 500 || status === 429;
    const hint = status === 404 ? ' (the name may have been withdrawn from the server, or the mirror does not have it)' : '';
    throw new DownloadError(`HTTP ${status}${reason} for ${finalUrl}${hint}`, url, retryable);
  }

  const handle = await fs.promises.open(part, start > 0 ? 'a' : 'w');
  let received = 0;
  try {
    hooks.progress(start, total);
    for await (const chunk of res as AsyncIterable<Buffer>) {
      await handle.write(chunk);
      received += chunk.length;
      hooks.progress(start + received, total);
    }
  } catch (err) {
    const announced = expectedBody !== null ? ` of ${formatBytes(start + expectedBody)}` : '';
    throw new DownloadError(
      `download of ${finalUrl} was cut after ${formatBytes(start + received)}${announced} (${(err as Error).message}); ` +
        `the partial file ${part} is kept and the next run resumes from it`,
      url,
      true,
    );
  } finally {
    await handle.close();
  }
  if (expectedBody !== null && received !== expectedBody) {
    throw new DownloadError(
      `download of ${finalUrl} is truncated: received ${start + received} bytes but the server announced ${start + expectedBody}; ` +
        `the partial file ${part} is kept and the next run resumes from it`,
      url,
      true,
    );
  }
  return { finalUrl };
}

/** SHA-256 of a file, streamed (archives are gigabytes). */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function checkSha256(part: string, expected: string, finalUrl: string, url: string): Promise<void> {
  const actual = await sha256OfFile(part);
  if (actual !== expected.toLowerCase()) {
    throw new DownloadError(`Expected SHA-256 ${expected.toLowerCase()} for ${finalUrl} but received ${actual}; the download was deleted`, url, false);
  }
}

/** Downloads `url` to `target` (see the file comment). `target` appears only when complete and verified. */
export async function downloadFile(url: string, target: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const part = partFileOf(target);
  const retries = options.retries ?? 3;
  const requestOptions = { maxRedirects: options.maxRedirects ?? 5, timeoutMs: options.timeoutMs ?? 60_000 };
  const now = options.now ?? (() => Date.now());
  const label = options.label ?? target.split(/[\\/]/).pop() ?? target;
  const resumedFrom = sizeOf(part);
  const bar = new DownloadProgress(options.progress === undefined ? process.stderr : options.progress, label, now, resumedFrom);
  if (resumedFrom > 0) bar.note(`${label}: resuming from ${formatBytes(resumedFrom)} already in ${part}`);
  let finalUrl = url;
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      const hooks: AttemptHooks = { progress: (done, total) => bar.update(done, total), note: (message) => bar.note(`${label}: ${message}`) };
      ({ finalUrl } = await attempt(url, part, requestOptions, hooks));
      break;
    } catch (err) {
      const retryable = err instanceof DownloadError && err.retryable;
      if (!retryable || attempts > retries) throw err;
      const wait = (options.retryDelayMs ?? 1000) * 2 ** (attempts - 1);
      bar.note(`${label}: ${(err as Error).message.split('; ')[0]}; retrying in ${formatDuration(wait / 1000)} (${attempts}/${retries})`);
      await delay(wait);
    }
  }
  const bytes = sizeOf(part);
  bar.update(bytes, bytes, true);
  if (options.sha256 || options.verify) {
    try {
      if (options.sha256) await checkSha256(part, options.sha256, finalUrl, url);
      await options.verify?.(part);
    } catch (err) {
      fs.rmSync(part, { force: true });
      throw err;
    }
  }
  fs.renameSync(part, target);
  bar.finish(bytes);
  return { file: target, bytes, resumedFrom, finalUrl, attempts };
}
