// The embedding API (issue 5): loadGenerator + translate on real images, any size, channels and bit depths,
// off the event loop, queued, disposable, inside worker_threads, tiled.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import { Worker } from 'worker_threads';
import { defineG, loadGenerator, saveNetworkCheckpoint, manualSeed, noGrad, Tensor, GeneratorDisposedError } from '../../src';
import { decodeImage } from '../../src/data/image_io';
import { SHARED, REPO_ROOT } from '../helpers/paths';

const FACADE = path.join(SHARED, 'datasets/facades/test/1.jpg');

function tmpdir(): string { return fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-translate-')); }

function saveG(dir: string, opts: Parameters<typeof defineG>[0], file = 'latest_net_G.pth'): string {
  manualSeed(7);
  const g = defineG(opts);
  const f = path.join(dir, file);
  saveNetworkCheckpoint(g, f, { model: 'test' });
  g.dispose();
  return f;
}

function pngOf(width: number, height: number, opts: { colorType?: 0 | 2 | 4 | 6; bitDepth?: 8 | 16 } = {}): Buffer {
  const png = new PNG({ width, height, colorType: opts.colorType ?? 6, inputColorType: 6, bitDepth: opts.bitDepth ?? 8, inputHasAlpha: true });
  for (let i = 0; i < width * height; i++) {
    png.data[i * 4] = (i * 7) % 256; png.data[i * 4 + 1] = (i * 13) % 256; png.data[i * 4 + 2] = (i * 3) % 256; png.data[i * 4 + 3] = 200;
  }
  return PNG.sync.write(png, { colorType: opts.colorType ?? 6, bitDepth: opts.bitDepth ?? 8, inputColorType: 6, inputHasAlpha: true });
}

describe('translate API (loadGenerator / Generator.translate)', function () {
  this.timeout(180000);
  const dir = tmpdir();
  let resnetFile = '';
  before(() => { resnetFile = saveG(dir, { netG: 'resnet_6blocks', ngf: 8, norm: 'instance' }); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('translates a file path, an encoded Buffer and raw pixels; output keeps the input size exactly', async () => {
    const g = await loadGenerator(dir);
    try {
      const fromPath = decodeImage(await g.translate(FACADE), { name: 'out' });
      assert.deepStrictEqual([fromPath.width, fromPath.height, fromPath.channels], [512, 256, 3]);
      const odd = pngOf(101, 37, { colorType: 2 });
      const fromBuf = decodeImage(await g.translate(odd), { name: 'out' });
      assert.deepStrictEqual([fromBuf.width, fromBuf.height], [101, 37]);
      const raw = await g.translate({ data: new Uint8Array(30 * 20 * 3).fill(128), width: 30, height: 20, channels: 3 }, { output: 'raw' });
      assert.deepStrictEqual([raw.width, raw.height, raw.channels, raw.data.length], [30, 20, 3, 1800]);
      const jpg = await g.translate(odd, { output: 'jpeg', quality: 80 });
      assert.strictEqual(jpg[0], 0xff); assert.strictEqual(jpg[1], 0xd8);
    } finally { g.dispose(); }
  });

  it('eval mode is deterministic and equals a direct forward of the reflect-padded image, cropped back', async () => {
    const g = await loadGenerator(resnetFile);
    try {
      const a = await g.translate({ data: new Uint8Array(16 * 12 * 3).map((_, i) => (i * 31) % 256), width: 16, height: 12, channels: 3 }, { output: 'raw' });
      const b = await g.translate({ data: new Uint8Array(16 * 12 * 3).map((_, i) => (i * 31) % 256), width: 16, height: 12, channels: 3 }, { output: 'raw' });
      assert.deepStrictEqual(Buffer.from(a.data), Buffer.from(b.data));
      // 16x12 is already a multiple of 4: the direct forward must give the same pixels.
      const chw = new Float32Array(3 * 12 * 16);
      const src = new Uint8Array(16 * 12 * 3).map((_, i) => (i * 31) % 256);
      for (let p = 0; p < 192; p++) for (let c = 0; c < 3; c++) chw[c * 192 + p] = (Math.fround(src[p * 3 + c] / 255) - 0.5) / 0.5;
      const y = noGrad(() => g.network.forward(Tensor.fromFloat32Array(chw, [1, 3, 12, 16]))).toFloat32Array();
      for (let p = 0; p < 192; p++) {
        const expected = Math.min(255, Math.max(0, Math.trunc(((y[p] + 1) / 2) * 255)));
        assert.ok(Math.abs(a.data[p * 3] - expected) <= 1, `pixel ${p}: ${a.data[p * 3]} vs ${expected}`);
      }
    } finally { g.dispose(); }
  });

  it('pads to unet_128 multiples (128) and crops back; too-small inputs work too', async () => {
    const d = tmpdir();
    saveG(d, { netG: 'unet_128', ngf: 8, norm: 'batch' });
    const g = await loadGenerator(d);
    try {
      for (const [w, h] of [[100, 100], [130, 7], [1, 1]]) {
        const r = await g.translate({ data: new Uint8Array(w * h * 3).fill(90), width: w, height: h, channels: 3 }, { output: 'raw' });
        assert.deepStrictEqual([r.width, r.height], [w, h]);
      }
    } finally { g.dispose(); fs.rmSync(d, { recursive: true, force: true }); }
  });

  it('loads a reference checkpoint without a description by recognising its keys (resnet_9blocks, instance, ngf 8)', async () => {
    const g = await loadGenerator(path.join(SHARED, 'fixtures/parity/networks/G_resnet_9blocks_instance/weights.pth'));
    try {
      assert.strictEqual(g.description.arch, 'resnet_9blocks');
      assert.strictEqual(g.description.norm, 'instance');
      assert.strictEqual(g.description.width, 8);
      const out = decodeImage(await g.translate(FACADE), { name: 'out' });
      assert.strictEqual(out.width, 512);
    } finally { g.dispose(); }
  });

  it('single-channel generators write single-channel PNGs; 16-bit and RGBA inputs are converted with notes', async () => {
    const d = tmpdir();
    saveG(d, { netG: 'resnet_6blocks', ngf: 4, norm: 'instance', inputNc: 1, outputNc: 1 });
    const g = await loadGenerator(d);
    try {
      const notes: string[] = [];
      const out = await g.translate(pngOf(24, 20, { colorType: 6, bitDepth: 16 }), { onNote: (n) => notes.push(n) });
      const dec = PNG.sync.read(out);
      assert.strictEqual((dec as unknown as { colorType: number }).colorType, 0, 'gray PNG');
      assert.ok(notes.some((n) => /alpha/.test(n)), notes.join('; '));
      assert.ok(notes.some((n) => /16-bit/.test(n)), notes.join('; '));
    } finally { g.dispose(); fs.rmSync(d, { recursive: true, force: true }); }
  });

  it('refuses bad inputs with clear errors', async () => {
    const g = await loadGenerator(dir);
    try {
      await assert.rejects(g.translate(Buffer.from('not an image')), /not an image|unrecognised|unknown/i);
      await assert.rejects(g.translate(path.join(SHARED, 'fixtures/bad_inputs/bomb_20000x20000.png')), /megapixels|pixel limit|over the limit/i);
      await assert.rejects(g.translate({ data: new Uint8Array(5), width: 2, height: 2, channels: 3 }, { output: 'raw' }), /Expected 12 values/);
      await assert.rejects(g.translate(42 as never), /Expected a file path/);
    } finally { g.dispose(); }
  });

  it('queues concurrent calls safely; calls issued before dispose() finish, later ones reject with a code', async () => {
    const g = await loadGenerator(dir);
    const input = { data: new Uint8Array(64 * 64 * 3).fill(50), width: 64, height: 64, channels: 3 as const };
    const results = await Promise.all(Array.from({ length: 6 }, () => g.translate(input, { output: 'raw' })));
    for (const r of results) assert.deepStrictEqual(Buffer.from(r.data), Buffer.from(results[0].data));
    const inflight = g.translate(input, { output: 'raw' });
    const queued = g.translate(input, { output: 'raw' });
    const released = g.dispose();
    const [a, b] = await Promise.all([inflight, queued]);
    assert.deepStrictEqual(Buffer.from(a.data), Buffer.from(results[0].data));
    assert.deepStrictEqual(Buffer.from(b.data), Buffer.from(results[0].data));
    await released;
    await assert.rejects(g.translate(input), (e: Error) => e instanceof GeneratorDisposedError && (e as GeneratorDisposedError).code === 'ERR_IMG2IMG_DISPOSED');
  });

  it('works inside a worker_thread', async () => {
    const script = `
      const { parentPort, workerData } = require('worker_threads');
      const { loadGenerator } = require(workerData.api);
      (async () => {
        const g = await loadGenerator(workerData.dir);
        const r = await g.translate({ data: new Uint8Array(32 * 32 * 3).fill(77), width: 32, height: 32, channels: 3 }, { output: 'raw' });
        g.dispose();
        parentPort.postMessage([r.width, r.height]);
      })().catch((e) => parentPort.postMessage(String(e)));`;
    const w = new Worker(script, { eval: true, workerData: { dir, api: path.join(REPO_ROOT, 'dist/src/index.js') } });
    const msg = await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
    await w.terminate();
    assert.deepStrictEqual(msg, [32, 32]);
  });

  it('tiles a 4096x4096 image in bounded memory, output of the same size', async () => {
    const d = tmpdir();
    saveG(d, { netG: 'resnet_6blocks', ngf: 4, norm: 'instance' });
    const g = await loadGenerator(d);
    try {
      const n = 4096;
      const data = new Uint8Array(n * n * 3);
      for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
      const before = process.memoryUsage().rss;
      let peak = before;
      const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
      const r = await g.translate({ data, width: n, height: n, channels: 3 }, { output: 'raw', tile: { size: 512, overlap: 32 } });
      clearInterval(timer);
      assert.deepStrictEqual([r.width, r.height], [n, n]);
      // Whole-image activations of this net at 4096^2 would need several GB; tiles keep the growth far below.
      assert.ok(peak - before < 1.5e9, `rss grew by ${((peak - before) / 1e6).toFixed(0)} MB`);
    } finally { g.dispose(); fs.rmSync(d, { recursive: true, force: true }); }
  });
});
