// A minimal HTTP translation service with a trained generator:
//   POST /translate  (body: a PNG or JPEG image, at most MAX_UPLOAD_BYTES)  ->  image/png of the same size
//   GET  /health     ->  {"ok": true, ...}
// Run: node dist/examples/server.js <checkpoint dir or file> [port]
// Bad images get HTTP 400 with the decoder's message, oversize bodies 413; requests are served concurrently (the
// generator translates in its own worker thread, so the event loop keeps accepting and answering).
import * as http from 'http';
import { AddressInfo } from 'net';
import { Generator, loadGenerator } from '../src';

export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

export interface TranslationServer { url: string; server: http.Server; generator: Generator; close(): Promise<void> }

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) { reject(Object.assign(new Error(`upload is larger than ${limit} bytes`), { status: 413 })); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, status: number, body: string | Buffer, type = 'application/json'): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export async function startServer(checkpoint: string, port = 0, opts: { maxUploadBytes?: number } = {}): Promise<TranslationServer> {
  const generator = await loadGenerator(checkpoint);
  const limit = opts.maxUploadBytes ?? MAX_UPLOAD_BYTES;
  const server = http.createServer(async (req, res) => {
    try {
      if (req.method === 'GET' && req.url === '/health') {
        send(res, 200, JSON.stringify({ ok: true, generator: generator.network.describe() }));
      } else if (req.method === 'POST' && req.url === '/translate') {
        const declared = Number(req.headers['content-length'] ?? 0);
        if (declared > limit) { send(res, 413, JSON.stringify({ error: `upload is larger than ${limit} bytes` })); req.resume(); return; }
        const body = await readBody(req, limit);
        if (body.length === 0) { send(res, 400, JSON.stringify({ error: 'empty body: POST an image (PNG or JPEG)' })); return; }
        let png: Buffer;
        try {
          png = await generator.translate(body, { output: 'png' });
        } catch (e) {
          send(res, 400, JSON.stringify({ error: (e as Error).message }));
          return;
        }
        send(res, 200, png, 'image/png');
      } else {
        send(res, 404, JSON.stringify({ error: 'POST /translate with an image, or GET /health' }));
      }
    } catch (e) {
      const status = (e as { status?: number }).status ?? 500;
      send(res, status, JSON.stringify({ error: (e as Error).message }));
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: actual } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${actual}`, server, generator,
    close: () => new Promise<void>((resolve) => server.close(() => { generator.dispose(); resolve(); })),
  };
}

if (require.main === module) {
  const [checkpoint, port] = process.argv.slice(2);
  if (!checkpoint) { console.error('usage: node dist/examples/server.js <checkpoint dir or file> [port]'); process.exit(2); }
  startServer(checkpoint, Number(port ?? 8000)).then((s) => {
    console.log(`translating with ${s.generator.network.describe()} at ${s.url}/translate`);
    const stop = () => { void s.close().then(() => process.exit(0)); };
    process.on('SIGINT', stop); process.on('SIGTERM', stop);
  }, (e) => { console.error(e.message); process.exit(1); });
}
