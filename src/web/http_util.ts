// What the dashboard and the translate page share on the HTTP side: listening with a readable error, the
// security headers every response carries, embedded assets, JSON errors and closing without leaving handles.
import * as http from 'http';
import type { AddressInfo } from 'net';

/** An asset compiled into the package (HTML, JS or CSS held as a string). */
export interface Asset {
  type: string;
  body: string;
}

/** Same-origin only: the pages load nothing from elsewhere and run no inline script. */
const CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export function securityHeaders(): Record<string, string> {
  return {
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  };
}

export function sendAsset(req: http.IncomingMessage, res: http.ServerResponse, asset: Asset): void {
  const body = Buffer.from(asset.body, 'utf8');
  res.writeHead(200, {
    ...securityHeaders(),
    'Content-Type': asset.type,
    'Content-Length': body.length,
    'Cache-Control': 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export function sendBuffer(req: http.IncomingMessage, res: http.ServerResponse, type: string, body: Buffer,
  extra: Record<string, string> = {}): void {
  res.writeHead(200, { ...securityHeaders(), 'Content-Type': type, 'Content-Length': body.length, ...extra });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown, extra: Record<string, string> = {}): void {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  res.writeHead(status, {
    ...securityHeaders(),
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': body.length,
    'Cache-Control': 'no-store',
    ...extra,
  });
  res.end(body);
}

/** Errors go out as `{"error": message, "code": code}` so that the pages can show the message itself. */
export function sendError(res: http.ServerResponse, status: number, message: string, extra: Record<string, string> = {}, code?: string): void {
  if (res.headersSent) { res.destroy(); return; }
  sendJson(res, status, code ? { error: message, code } : { error: message }, extra);
}

/** Resolves once the server listens; a busy port or a bad host rejects with a message that names both. */
export function listen(server: http.Server, port: number, host: string, options: { port: string; host: string }): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const badHost = err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN';
      const why = err.code === 'EADDRINUSE' ? 'the port is in use' : err.code === 'EACCES' ? 'permission denied'
        : badHost ? 'not an address of this machine' : err.message;
      reject(new Error(`cannot listen on ${host}:${port} (${why}): choose another ${badHost ? options.host : options.port}`));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** The address to print: a wildcard host is shown as localhost, IPv6 in brackets. */
export function urlOf(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' || host === '' ? 'localhost' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/`;
}

/** Stops accepting, drops idle and open connections, and resolves when the server has closed. */
export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) { resolve(); return; }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A refused request: its status and the message the page shows. */
export class HttpError extends Error {
  /** `code`: the stable code of the error behind the refusal (an image error's own code, say). */
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}, readonly code = 'ERR_IMG2IMG_HTTP') {
    super(message);
  }
}

/**
 * The path of a request, never throwing: `new URL('//', base)` and other odd request targets (absolute form,
 * no leading slash, raw spaces) are answered by the routes (as a 404) instead of killing the server.
 */
export function requestPath(req: http.IncomingMessage): string {
  let target = req.url ?? '/';
  const cut = target.search(/[?#]/);
  if (cut >= 0) target = target.slice(0, cut);
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(target); // GET http://host/path HTTP/1.1
  if (absolute) target = target.slice(absolute[0].length) || '/';
  return target;
}

/** decodeURIComponent for one path part; a malformed escape (`%zz`) is a 400 naming the part. */
export function decodePathPart(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new HttpError(400, `Expected a percent-encoded ${what} but received ${JSON.stringify(part.slice(0, 200))}`, {}, 'ERR_IMG2IMG_BAD_REQUEST');
  }
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

/**
 * A request listener that never lets a handler's throw (or rejection) reach the process: an HttpError becomes
 * its status, anything else a 500, and unexpected failures a line on `log` naming the request.
 */
export function guardHandler(server: string, handler: Handler, log: (line: string) => void = (l) => process.stderr.write(l + '\n')): http.RequestListener {
  return (req, res) => {
    const fail = (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      const status = err instanceof HttpError ? err.status : 500;
      if (status >= 500) {
        const target = JSON.stringify((req.url ?? '').slice(0, 200));
        log(`${server}: ${String(req.method).slice(0, 20)} ${target} failed with ${status}: ${err.message}`);
      }
      try {
        if (err instanceof HttpError) sendError(res, status, err.message, err.headers, err.code);
        else sendError(res, status, `${server} failed: ${err.message}`, {}, 'ERR_IMG2IMG_INTERNAL');
      } catch {
        res.destroy();
      }
    };
    try {
      const done = handler(req, res);
      if (done) done.catch(fail);
    } catch (e) {
      fail(e);
    }
  };
}

/**
 * Server settings shared by both servers: request headers must arrive within HEADERS_TIMEOUT_MS, and the
 * timeouts are checked every second (Node's default checks every 30 s, letting slow clients linger).
 */
export const SERVER_TIMEOUTS = { headersTimeout: 10_000, requestTimeout: 120_000, connectionsCheckingInterval: 1000 } as const;

/** A malformed request gets a 400 and its socket closed; it never reaches the handlers. */
export function guardClientErrors(server: http.Server): void {
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
}

/** "20 MB", "97.7 KB": sizes as the page and the messages show them (decimal units, as --max_upload_mb). */
export function formatBytes(n: number): string {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(n % 1e6 === 0 ? 0 : 1)} MB`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(n % 1e3 === 0 ? 0 : 1)} KB`;
  return `${n} bytes`;
}
