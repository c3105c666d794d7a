/**
 * Issue 15 items 1, 7 and 8 on the HTTP side: `img2img serve` (translate_server) and the training dashboard
 * (dashboard_server) never die of a request. A seeded fuzzer sends random methods, paths, headers and bodies
 * (raw bytes over a socket, so malformed requests too) to both, on 127.0.0.1 only; both must still answer
 * and their memory must stay flat. Slow uploads are cut by the minimum rate without taking the translation
 * slots, and the serve command still stops on SIGTERM after a hostile upload.
 */
import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { saveNetworkCheckpoint } from '../../../src/checkpoint/network_checkpoint';
import { Dashboard, startDashboard } from '../../../src/dashboard/dashboard_server';
import { guardHandler, HttpError } from '../../../src/web/http_util';
import { startTranslateServer, TranslateServer } from '../../../src/serve/translate_server';
import { encodePng } from '../../../src/data/image_io';
import { defineG } from '../../../src/networks';
import { parseOptions } from '../../../src/plugins';
import { manualSeed } from '../../../src/runtime';
import { REPO_ROOT } from '../../helpers/paths';
import { patternImage } from '../data/data_test_helpers';
import { gifLzwCycle, hiddenFrameJpeg, interlacedBomb, progressiveScanFlood, stripEntries, tiff } from '../data/hostile_inputs';

const HOST = '127.0.0.1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

function request(port: number, method: string, target: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port, method, path: target, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends raw bytes and collects whatever comes back until the server closes or `waitMs` passes. */
function rawRequest(port: number, bytes: Buffer, waitMs = 1500): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, HOST);
    const chunks: Buffer[] = [];
    const done = () => { clearTimeout(timer); socket.destroy(); resolve(Buffer.concat(chunks).toString('latin1')); };
    const timer = setTimeout(done, waitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => socket.end(bytes));
  });
}

/** Deterministic pseudo-random numbers (mulberry32), so a failing case can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'BREW', 'get', 'CONNECT', 'TRACE'];
const PATHS = ['/', '//', '///x', '/visuals/1/%zz.png', '/visuals/99999999999999999999/a.png', '/visuals/1/%E0%A4%A.png', '/%',
  '/..%2f..%2fetc/passwd', '/translate', '/translate?x=%zz', '/api/info', '/api/state', '/index.html', '*',
  'http://x//y', 'http://127.0.0.1:1/api/info', '/\u00e9', '/a b', `/${'a'.repeat(9000)}`, '/favicon.ico', '/dashboard.js?#'];
const HOSTILE_BODIES = [gifLzwCycle(), interlacedBomb(1 << 20), hiddenFrameJpeg(), progressiveScanFlood(2000, 2000, 400),
  tiff([{ entries: stripEntries(4, 3, { byteCount: 36 }), data: Buffer.alloc(36) }], (first) => first)];

/** One fuzz case as raw bytes: a request line, random headers and a body, often malformed on purpose. */
function fuzzCase(rnd: () => number): Buffer {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  const junk = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
  // a third of the cases are uploads, so that the upload path sees most of the odd headers and bodies
  const upload = rnd() < 0.35;
  const method = upload ? 'POST' : rnd() < 0.1 ? junk(3).toString('latin1') : pick(METHODS);
  const target = upload ? '/translate' : rnd() < 0.1 ? junk(12).toString('latin1') : pick(PATHS);
  const body = rnd() < 0.4 ? pick(HOSTILE_BODIES) : junk(Math.floor(rnd() * 2000));
  const headers = [`Host: ${HOST}`];
  const length = rnd();
  if (length < 0.5) headers.push(`Content-Length: ${body.length}`);
  else if (length < 0.6) headers.push(`Content-Length: ${pick(['-1', '1e9', 'abc', '99999999999999999999', '0', `${body.length}, ${body.length + 1}`])}`);
  else if (length < 0.7) headers.push('Transfer-Encoding: chunked');
  if (rnd() < 0.3) headers.push(`X-File-Name: ${pick(['%zz', '..%2F..%2Fx', 'a\u0001b', '%E0%A4%A', 'x'.repeat(500)])}`);
  if (rnd() < 0.2) headers.push(`${junk(6).toString('latin1')}: ${junk(10).toString('latin1')}`);
  if (rnd() < 0.1) headers.push('Expect: 100-continue');
  const head = `${method} ${target} HTTP/1.${rnd() < 0.9 ? 1 : 0}\r\n${headers.join('\r\n')}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** Runs `count` fuzz cases, `parallel` at a time, and checks the server still answers `probe` with 200. */
async function fuzz(port: number, seed: number, count: number, probe: string): Promise<void> {
  const rnd = random(seed);
  const cases = Array.from({ length: count }, () => fuzzCase(rnd));
  const parallel = 8;
  for (let i = 0; i < cases.length; i += parallel) {
    await Promise.all(cases.slice(i, i + parallel).map((c) => rawRequest(port, c, 3000)));
  }
  const after = await request(port, 'GET', probe);
  assert.strictEqual(after.status, 200, `${probe} after ${count} fuzz cases (seed ${seed}): ${after.body}`);
}

/** The server's own memory growth across a second fuzz round (the first one warms caches and pools). */
async function fuzzMemoryGrowthMb(port: number, probe: string): Promise<number> {
  await fuzz(port, 1, 150, probe);
  const before = process.memoryUsage().rss;
  await fuzz(port, 2, 150, probe);
  await fuzz(port, 3, 150, probe);
  return (process.memoryUsage().rss - before) / 2 ** 20;
}

const FLAT_MB = 64;

describe('hostile requests (issue 15)', function () {
  this.timeout(120_000);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-requests-'));
  const checkpoint = path.join(root, 'latest_net_G.pth');
  const logged: string[] = [];
  let serve: TranslateServer;
  let port = 0;
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  before(async () => {
    manualSeed(1);
    const g = defineG({ netG: 'resnet_6blocks', ngf: 4, norm: 'instance' });
    saveNetworkCheckpoint(g, checkpoint, { model: 'pix2pix' });
    g.dispose();
    serve = await startTranslateServer({
      checkpoint, port: 0, host: HOST, maxUploadBytes: 2 * 1024 * 1024, device: 'cpu', log: (l) => logged.push(l),
      uploadPace: { minBytesPerSecond: 2000, graceMs: 700, deadlineMs: 4000 },
    });
    port = Number(new URL(serve.url).port);
  });
  after(async () => { await serve?.close(); });

  describe('img2img serve', () => {
    it('answers GET // and odd targets with a 404 instead of exiting (item 1)', async () => {
      for (const target of ['//', '///', '/%', '//translate']) {
        const r = await request(port, 'GET', target);
        assert.strictEqual(r.status, 404, `${target}: ${r.body}`);
        assert.match(JSON.parse(r.body).error, /^nothing at /);
      }
      const raw = await rawRequest(port, Buffer.from(`GET http://${HOST}//x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      assert.match(raw, /^HTTP\/1\.1 404/);
      assert.strictEqual((await request(port, 'GET', '/api/info')).status, 200);
    });

    it('refuses each hostile image upload with a 400 naming the upload', async () => {
      for (const body of HOSTILE_BODIES) {
        const r = await request(port, 'POST', '/translate', body, { 'X-File-Name': 'evil.bin' });
        assert.strictEqual(r.status, 400, r.body);
        assert.match(JSON.parse(r.body).error, /^evil\.bin /);
        assert.strictEqual(JSON.parse(r.body).code, 'ERR_IMG2IMG_BAD_IMAGE');
      }
    });

    it('cuts uploads slower than the minimum rate without locking other uploads out (item 8)', async () => {
      const slow = Array.from({ length: 6 }, () => new Promise<Reply | Error>((resolve) => {
        const req = http.request({ host: HOST, port, method: 'POST', path: '/translate', headers: { 'Content-Length': '1000' } }, (res) => {
          let body = '';
          res.on('data', (c) => { body += c; });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on('error', (e) => resolve(e));
        const drip = setInterval(() => { if (!req.destroyed) req.write(Buffer.from([0x89])); }, 300);
        req.on('close', () => clearInterval(drip));
      }));
      await sleep(200);
      const started = Date.now();
      const png = encodePng(patternImage(20, 12, 3));
      const normal = await request(port, 'POST', '/translate', png, { 'X-File-Name': 'ok.png' });
      assert.strictEqual(normal.status, 200, `a normal upload beside 6 slow ones: ${normal.body}`);
      assert.strictEqual(normal.headers['content-type'], 'image/png');
      const results = await Promise.all(slow);
      const elapsed = Date.now() - started;
      for (const r of results) {
        assert.ok(!(r instanceof Error), String(r));
        assert.strictEqual(r.status, 408, r.body);
        assert.match(JSON.parse(r.body).error, /below the minimum of 2 KB\/s/);
        assert.strictEqual(JSON.parse(r.body).code, 'ERR_IMG2IMG_UPLOAD_TOO_SLOW');
      }
      assert.ok(elapsed < 3000, `slow uploads were cut after ${elapsed} ms (grace 700 ms)`);
    });

    it('cuts an upload that keeps a fair rate but runs past the per-connection deadline', async () => {
      const strict = await startTranslateServer({
        checkpoint, port: 0, host: HOST, maxUploadBytes: 2 * 1024 * 1024, device: 'cpu',
        uploadPace: { minBytesPerSecond: 0, graceMs: 100, deadlineMs: 800 },
      });
      try {
        const started = Date.now();
        const reply = await new Promise<Reply>((resolve, reject) => {
          const req = http.request({ port: Number(new URL(strict.url).port), host: HOST, method: 'POST', path: '/translate', headers: { 'Content-Length': String(1e6) } }, (res) => {
            let body = '';
            res.on('data', (c) => { body += c; });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
          });
          req.on('error', reject);
          const drip = setInterval(() => { if (!req.destroyed) req.write(Buffer.alloc(1000)); }, 50);
          req.on('close', () => clearInterval(drip));
        });
        assert.strictEqual(reply.status, 408, reply.body);
        assert.deepStrictEqual(JSON.parse(reply.body), {
          error: 'the upload took longer than 0.8 s; send it again over a faster connection', code: 'ERR_IMG2IMG_UPLOAD_TOO_SLOW',
        });
        assert.ok(Date.now() - started < 2000, `cut after ${Date.now() - started} ms`);
      } finally {
        await strict.close();
      }
    });

    it('survives a seeded request fuzzer with flat memory (deliverable 2)', async () => {
      const growth = await fuzzMemoryGrowthMb(port, '/api/info');
      assert.ok(growth < FLAT_MB, `rss grew ${growth.toFixed(1)} MB over two rounds of 150 fuzz cases (bound ${FLAT_MB} MB)`);
      assert.deepStrictEqual(logged.filter((l) => !/failed with 5\d\d/.test(l)), []);
    });
  });

  describe('training dashboard', () => {
    let dashboard: Dashboard;
    let dport = 0;
    const dlog: string[] = [];
    before(async () => {
      const opt = parseOptions(['--dataroot', root, '--name', 'fuzz', '--model', 'pix2pix'], { isTrain: true });
      dashboard = await startDashboard({ port: 0, host: HOST, opt, log: (l) => dlog.push(l) });
      dport = Number(new URL(dashboard.url).port);
    });
    after(async () => { await dashboard?.close(); });

    it('answers GET // with a 404 and a bad escape in a visual name with a 400 (item 1)', async () => {
      assert.strictEqual((await request(dport, 'GET', '//')).status, 404);
      const bad = await request(dport, 'GET', '/visuals/1/%zz.png');
      assert.strictEqual(bad.status, 400);
      assert.strictEqual(JSON.parse(bad.body).error, 'Expected a percent-encoded visual name but received "%zz"');
      assert.strictEqual((await request(dport, 'GET', '/api/state')).status, 200);
    });

    it('survives a seeded request fuzzer with flat memory (deliverable 2)', async () => {
      const growth = await fuzzMemoryGrowthMb(dport, '/api/state');
      assert.ok(growth < FLAT_MB, `rss grew ${growth.toFixed(1)} MB over two rounds of 150 fuzz cases (bound ${FLAT_MB} MB)`);
      assert.deepStrictEqual(dlog, []);
    });
  });

  it('turns a handler throw into a 500 with a log line naming the request', async () => {
    const lines: string[] = [];
    const server = http.createServer(guardHandler('test', (req) => {
      if (req.url === '/teapot') throw new HttpError(418, 'short and stout');
      if (req.url === '/async') return Promise.reject(new Error('late failure'));
      throw new Error('boom');
    }, (l) => lines.push(l)));
    await new Promise<void>((r) => server.listen(0, HOST, r));
    const p = (server.address() as net.AddressInfo).port;
    try {
      const boom = await request(p, 'GET', '/x');
      assert.deepStrictEqual([boom.status, JSON.parse(boom.body).error], [500, 'test failed: boom']);
      const late = await request(p, 'GET', '/async');
      assert.deepStrictEqual([late.status, JSON.parse(late.body).error], [500, 'test failed: late failure']);
      const tea = await request(p, 'GET', '/teapot');
      assert.deepStrictEqual([tea.status, JSON.parse(tea.body).error], [418, 'short and stout']);
      assert.deepStrictEqual(lines, ['test: GET "/x" failed with 500: boom', 'test: GET "/async" failed with 500: late failure']);
    } finally {
      server.close();
    }
  });

  it('img2img serve stops on SIGTERM right after a GIF that used to spin forever (item 7)', async () => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/img2img.js'), 'serve', '--checkpoint', checkpoint, '--port', '0'],
      { env: { ...process.env, IMG2IMG_THREADS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { out += c; });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 60_000;
      while (!/ at http:\/\/[^ ]+:(\d+)\//.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`serve did not start: ${out}`);
        await sleep(50);
      }
      const childPort = Number(/ at http:\/\/[^ ]+:(\d+)\//.exec(out)![1]);
      const r = await request(childPort, 'POST', '/translate', gifLzwCycle(), { 'X-File-Name': 'cycle.gif' });
      assert.strictEqual(r.status, 400, r.body);
      const signalled = Date.now();
      child.kill('SIGTERM');
      const code = await exited;
      assert.strictEqual(code, 0, out);
      assert.ok(Date.now() - signalled < 5000, `serve took ${Date.now() - signalled} ms to stop`);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
