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

/** Errors go out as `{"error": message}` so that the pages can show the message itself. */
export function sendError(res: http.ServerResponse, status: number, message: string, extra: Record<string, string> = {}): void {
  if (res.headersSent) { res.destroy(); return; }
  sendJson(res, status, { error: message }, extra);
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
