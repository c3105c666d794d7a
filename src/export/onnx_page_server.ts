// Serves the in-browser translate page for an exported model: the page, the .onnx file, its contract as JSON,
// and the three onnxruntime-web files the page needs, from this installation's node_modules (no CDN).
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import {
  Asset, closeServer, guardClientErrors, guardHandler, listen, requestPath, securityHeaders, sendBuffer, sendError, sendJson,
  SERVER_TIMEOUTS, urlOf,
} from '../web/http_util';
import { readOnnxContract, OnnxContract } from './onnx_contract';
import { onnxError } from './export_errors';
import { ONNX_PAGE_CSS, ONNX_PAGE_HTML, ONNX_PAGE_JS } from './onnx_page';

/** The WASM build of onnxruntime-web: its loader script, the module it imports and the binary. */
const ORT_FILES: Record<string, string> = {
  'ort.wasm.min.js': 'text/javascript; charset=utf-8',
  'ort-wasm-simd-threaded.mjs': 'text/javascript; charset=utf-8',
  'ort-wasm-simd-threaded.wasm': 'application/wasm',
};

/** Same-origin only, as the other pages, plus what WebAssembly compilation needs (the other headers: securityHeaders). */
const WASM_CSP = {
  'Content-Security-Policy': "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; " +
    "script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

export interface OnnxPageServerOptions { onnx: string; port: number; host: string }
export interface OnnxPageServer { url: string; contract: OnnxContract; close(): Promise<void> }

/** onnxruntime-web's dist folder; a clear error when the package is missing. */
export function ortWebDist(): string {
  try {
    return path.dirname(require.resolve('onnxruntime-web'));
  } catch {
    throw onnxError('ERR_IMG2IMG_ONNX_MODEL', 'the onnxruntime-web package', 'serve --onnx', 'none installed', 'npm install onnxruntime-web');
  }
}

function send(req: http.IncomingMessage, res: http.ServerResponse, type: string, body: Buffer | string, cache: string): void {
  sendBuffer(req, res, type, typeof body === 'string' ? Buffer.from(body, 'utf8') : body, { ...WASM_CSP, 'Cache-Control': cache });
}

export async function startOnnxPageServer(o: OnnxPageServerOptions): Promise<OnnxPageServer> {
  if (!fs.existsSync(o.onnx) || !fs.statSync(o.onnx).isFile()) throw onnxError('ERR_IMG2IMG_ONNX_MODEL', 'an .onnx file', '--onnx', `'${o.onnx}'`, 'it does not exist');
  const model = fs.readFileSync(o.onnx);
  const contract = readOnnxContract(model, `--onnx ${o.onnx}`);
  const dist = ortWebDist();
  const info = { ...contract, file: path.basename(o.onnx), bytes: model.length };
  const assets: Record<string, Asset> = { '/': ONNX_PAGE_HTML, '/index.html': ONNX_PAGE_HTML, '/onnx.js': ONNX_PAGE_JS, '/onnx.css': ONNX_PAGE_CSS };
  // The same guards as the other two servers: a handler's throw is a 5xx and a log line, odd targets are 404s.
  const server = http.createServer(SERVER_TIMEOUTS, guardHandler('serve --onnx', (req, res) => {
    const url = requestPath(req);
    if (req.method !== 'GET' && req.method !== 'HEAD') { sendError(res, 405, 'only GET and HEAD', { Allow: 'GET, HEAD' }); return; }
    const asset = assets[url];
    if (asset) { send(req, res, asset.type, asset.body, 'no-cache'); return; }
    if (url === '/model.onnx') { send(req, res, 'application/octet-stream', model, 'no-cache'); return; }
    if (url === '/model.json') { sendJson(res, 200, info); return; }
    if (url === '/favicon.ico') { res.writeHead(204, { ...securityHeaders(), ...WASM_CSP }); res.end(); return; } // browsers ask; nothing to show
    const ortName = url.startsWith('/ort/') ? url.slice(5) : '';
    if (Object.prototype.hasOwnProperty.call(ORT_FILES, ortName)) {
      fs.readFile(path.join(dist, ortName), (err, body) => {
        if (err) sendError(res, 500, `cannot read onnxruntime-web's ${ortName}: ${err.message}`);
        else send(req, res, ORT_FILES[ortName], body, 'max-age=3600');
      });
      return;
    }
    sendError(res, 404, `no such page: ${url.slice(0, 200)}`);
  }));
  guardClientErrors(server);
  const addr = await listen(server, o.port, o.host, { port: '--port', host: '--host' });
  return { url: urlOf(o.host, addr.port), contract, close: () => closeServer(server) };
}
