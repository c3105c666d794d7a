/**
 * A local HTTP server on 127.0.0.1 (port 0) for the download tests: serves fixed bodies with Range support,
 * and can redirect, fail with a status, ignore Range, or cut a body half-way once — never the internet.
 */
import * as http from 'http';
import { AddressInfo } from 'net';

export interface Route {
  body?: Buffer;
  status?: number;
  /** Redirect to this path or URL (302). */
  redirect?: string;
  /** The first N requests for this route send only half the body, then drop the connection. */
  cutTimes?: number;
  /** Answer 200 with the whole body even when a Range is asked for. */
  ignoreRange?: boolean;
  /** Send no Content-Length (chunked), so the client cannot tell a short body from a complete one. */
  noLength?: boolean;
}

export interface LoggedRequest {
  path: string;
  range?: string;
}

export interface TestServer {
  url: string;
  routes: Map<string, Route>;
  requests: LoggedRequest[];
  close(): Promise<void>;
}

export async function startServer(routes: Record<string, Route> = {}): Promise<TestServer> {
  const table = new Map(Object.entries(routes));
  const requests: LoggedRequest[] = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const range = req.headers.range;
    requests.push({ path, range });
    const route = table.get(path);
    if (!route) {
      res.writeHead(404, { 'Content-Type': 'text/html' });
      res.end('<html><body>404 Not Found</body></html>');
      return;
    }
    if (route.redirect) {
      res.writeHead(302, { Location: route.redirect });
      res.end();
      return;
    }
    if (route.status) {
      res.writeHead(route.status, { 'Content-Type': 'text/html' });
      res.end(route.body ?? `<html>status ${route.status}</html>`);
      return;
    }
    const body = route.body ?? Buffer.alloc(0);
    const match = /^bytes=(\d+)-$/.exec(range ?? '');
    let start = 0;
    if (match && !route.ignoreRange) {
      start = Number(match[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` });
        res.end();
        return;
      }
      res.writeHead(206, { 'Content-Length': body.length - start, 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` });
    } else {
      const length = route.noLength ? {} : { 'Content-Length': body.length };
      res.writeHead(200, { ...length, 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes' });
    }
    const rest = body.subarray(start);
    if (route.cutTimes && route.cutTimes > 0) {
      route.cutTimes--;
      res.write(rest.subarray(0, Math.floor(rest.length / 2)), () => {
        // give the client a moment to receive the first half, then drop the connection
        setTimeout(() => res.socket?.destroy(), 20);
      });
      return;
    }
    res.end(rest);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    routes: table,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
