// The embedding API (issue 5): loadGenerator + translate on real images, any size, channels and bit depths,
// off the event loop, queued, disposable, inside worker_threads, tiled.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import type * as TS from 'typescript';
import { spawnSync } from 'child_process';
import { isMainThread, Worker } from 'worker_threads';
import { performance } from 'perf_hooks';
import {
  defineD, defineG, loadGenerator, saveNetworkCheckpoint, manualSeed, noGrad, Tensor, GeneratorDisposedError, AbortError, ImageFileError,
  CheckpointError, OptionError, HelpRequested, getNumThreads, setNumThreads, train, trainInWorker,
} from '../../src';
import type { Generator, RawPixels, TranslateOptions } from '../../src';
import * as api from '../../src';
import { decodeImage, encodeJpeg, encodePng } from '../../src/data/image_io';
import type { RawImage8 } from '../../src/data/image';
import { DEFAULT_MAX_FORWARD_BYTES, forwardBytesPerPixel, runTranslateJob, JobOutput } from '../../src/inference/translate_job';
import { SHARED, REPO_ROOT } from '../helpers/paths';
import { busyMs, Lateness, measureLateness } from '../helpers/lateness';
import { examplesAsApp, readmeSnippets } from '../helpers/readme';
import { parseServeArgs } from '../../scripts/serve';
import { createTestParser } from '../../src/options/test_options';

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

  it('a ResNet takes inputs down to 1x1 (padded to its 8-pixel minimum)', async () => {
    const g = await loadGenerator(resnetFile);
    try {
      for (const [w, h] of [[1, 1], [2, 3], [7, 9]]) {
        const r = await g.translate({ data: new Uint8Array(w * h * 3).fill(90), width: w, height: h, channels: 3 }, { output: 'raw' });
        assert.deepStrictEqual([r.width, r.height], [w, h]);
      }
    } finally { await g.dispose(); }
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

// Issue 16: embedding that never stalls the host app.
describe('translate off the caller\'s thread (issue 16)', function () {
  this.timeout(600000);
  const dir = tmpdir();
  let threadsBefore = 0;
  before(() => {
    // One intra-op thread: the forward then takes one core of a 2-core machine and the lateness measured
    // below is about this package's JS-thread work, not about libtorch starving the process's other threads.
    threadsBefore = getNumThreads();
    setNumThreads(1);
    saveG(dir, { netG: 'resnet_6blocks', ngf: 4, norm: 'instance' });
  });
  after(() => { setNumThreads(threadsBefore); fs.rmSync(dir, { recursive: true, force: true }); });

  function noise(width: number, height: number): RawImage8 {
    const data = new Uint8Array(width * height * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    return { data, width, height, channels: 3, bitDepth: 8 };
  }

  /** The same pipeline on the calling thread, through the generator's network there: what translate gave before issue 16. */
  function inThread(g: Generator, input: Uint8Array | RawPixels, options: { tile?: { size: number; overlap?: number }; output?: 'png' | 'jpeg' | 'raw' }): Promise<JobOutput> {
    return runTranslateJob(input, options, {
      inputNc: g.inputChannels, outputNc: g.outputChannels, multiple: g.multiple, arch: g.description.arch, maxImagePixels: 50e6, mode: g.mode,
      maxForwardBytes: DEFAULT_MAX_FORWARD_BYTES, forwardBytesPerPixel: forwardBytesPerPixel(g.description.width),
      forward: async (data, shape) => {
        const x = Tensor.fromFloat32Array(data, shape);
        const y = await g.network.forwardAsync(x);
        x.dispose();
        try { return y.toFloat32Array(); } finally { y.dispose(); }
      },
      checkCancelled: () => undefined, note: () => undefined,
    });
  }

  /**
   * Encodes big noise images in a throw-away worker thread and reads them back as Buffers: encoding them here
   * would leave hundreds of MB of garbage on this thread's heap, whose collection during the measurement
   * below would be the test's own stall.
   */
  async function bigInputs(): Promise<{ png: Buffer; jpeg: Buffer }> {
    const script = `
      const { workerData, parentPort } = require('worker_threads');
      const fs = require('fs');
      const { encodePng, encodeJpeg } = require(workerData.io);
      const noise = (width, height) => {
        const data = new Uint8Array(width * height * 3);
        for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
        return { data, width, height, channels: 3, bitDepth: 8 };
      };
      fs.writeFileSync(workerData.png, encodePng(noise(2048, 2048)));
      fs.writeFileSync(workerData.jpeg, encodeJpeg(noise(3000, 2000), 90));
      parentPort.postMessage('done');`;
    const files = { png: path.join(dir, 'in.png'), jpeg: path.join(dir, 'in.jpg'), io: path.join(REPO_ROOT, 'dist/src/data/image_io.js') };
    const w = new Worker(script, { eval: true, workerData: files });
    await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
    await w.terminate();
    return { png: fs.readFileSync(files.png), jpeg: fs.readFileSync(files.jpeg) };
  }

  it('the lateness measure sees a block of this thread, and not a wait for a core', async () => {
    const blocked = await measureLateness(async () => {
      await new Promise((r) => setTimeout(r, 30));
      // 60 ms of this thread's CPU time (wall-clock time would shrink the block whenever the OS preempts it).
      const end = busyMs() + 60;
      while (busyMs() < end) { /* a block of this thread */ }
      await new Promise((r) => setTimeout(r, 30));
    });
    assert.ok(blocked.worstOwn >= 50, `a 60 ms block measured as ${blocked.worstOwn.toFixed(1)} ms`);
    const idle = await measureLateness(() => new Promise((r) => setTimeout(r, 200)));
    assert.ok(idle.worstOwn < 5, `an idle wait measured as ${idle.worstOwn.toFixed(1)} ms of own lateness`);
  });

  it('a 10 ms timer stays < 20 ms late while translating a 2048x2048 PNG and a tiled 3000x2000 JPEG', async () => {
    const { png, jpeg } = await bigInputs();
    const g = await loadGenerator(dir);
    try {
      await g.translate(pngOf(64, 64)); // worker warm-up
      const rss0 = process.memoryUsage().rss;
      let peak = rss0;
      const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50);
      // worstOwn: the lateness caused by this thread being busy (see test/helpers/lateness.ts); waits of an idle
      // thread for a core, which other jobs on a shared machine cause, are printed but not held against it.
      const a = await measureLateness(() => g.translate(png));
      const b = await measureLateness(() => g.translate(jpeg, { tile: { size: 512 } }));
      clearInterval(sampler);
      const show = (m: Lateness<unknown>) => `${m.worstOwn.toFixed(1)} ms late from this thread's work (${m.worst.toFixed(1)} ms with waits for a core, ${m.activeMs.toFixed(0)} ms busy in all) over ${m.elapsedMs.toFixed(0)} ms`;
      console.log(`      2048² PNG: ${show(a)}; tiled 3000x2000 JPEG: ${show(b)}; peak RSS ${(peak / 1e6).toFixed(0)} MB (${(rss0 / 1e6).toFixed(0)} MB before)`);
      assert.ok(a.ticks > 20 && b.ticks > 20, 'the translates should be long enough to measure');
      assert.ok(a.worstOwn < 20, `PNG translate: ${show(a)}`);
      assert.ok(b.worstOwn < 20, `tiled JPEG translate: ${show(b)}`);
      assert.deepStrictEqual([decodeImage(a.result, { name: 'a' }).width, decodeImage(b.result, { name: 'b' }).height], [2048, 2000]);
    } finally { await g.dispose(); }
  });

  it('gives the same bytes as the same pipeline run on the calling thread (whole, tiled, PNG and JPEG)', async () => {
    const g = await loadGenerator(dir);
    try {
      const png = encodePng(noise(301, 203));
      const jpeg = encodeJpeg(noise(600, 400), 90);
      const cases: Array<[Uint8Array, { tile?: { size: number; overlap?: number }; output?: 'png' | 'jpeg' }]> = [
        [png, {}], [jpeg, { tile: { size: 256, overlap: 24 } }], [png, { output: 'jpeg' }],
      ];
      for (const [input, options] of cases) {
        const want = await inThread(g, input, options);
        const got = await g.translate(input, options);
        assert.ok('encoded' in want);
        assert.ok(Buffer.from(want.encoded).equals(got), `bytes differ for ${JSON.stringify(options)}`);
      }
    } finally { await g.dispose(); }
  });

  it('a big input crosses to the worker in pieces: a 64 MB Buffer delays a 10 ms timer < 20 ms; 8- and 16-bit pixels arrive intact', async () => {
    const g = await loadGenerator(dir);
    try {
      await g.translate(pngOf(64, 64));
      // A PNG signature and 64 MB of garbage: the worker refuses it at once, so what is measured is the handing over
      // (measured: posted whole 68-81 ms, in pieces 5-6 ms on the shared 2-core test machine; see input_pieces.ts).
      const big = Buffer.alloc(64 << 20, 0x5a);
      Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]).copy(big);
      const m = await measureLateness(() => g.translate(big).then(() => null, (e: Error) => e));
      const show = `${m.worstOwn.toFixed(1)} ms late from this thread's work (${m.worst.toFixed(1)} ms with waits for a core) over ${m.elapsedMs.toFixed(0)} ms`;
      console.log(`      64 MB input: ${show}`);
      assert.ok(m.result instanceof ImageFileError, String(m.result));
      assert.ok(m.worstOwn < 20, show);
      // Pixels over the piece size (1 MB), 8-bit and 16-bit: the same result as the pipeline run on this thread.
      const rgb8 = { data: noise(700, 600).data, width: 700, height: 600, channels: 3 as const };
      const rgb16 = { data: Uint16Array.from(noise(500, 400).data, (v) => v * 257), width: 500, height: 400, channels: 3 as const };
      for (const input of [rgb8, rgb16]) {
        const want = await inThread(g, input, { output: 'raw' });
        const got = await g.translate(input, { output: 'raw' });
        assert.ok('raw' in want && Buffer.from(want.raw.data).equals(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength)), `${input.data.constructor.name} pixels differ`);
      }
      // An abort while the pieces are still going out rejects with AbortError, and the generator goes on working.
      const ac = new AbortController();
      const aborted = g.translate(big, { signal: ac.signal });
      setImmediate(() => ac.abort());
      await assert.rejects(aborted, (e: Error) => e instanceof AbortError);
      assert.strictEqual((await g.translate(pngOf(64, 64), { output: 'raw' })).width, 64);
    } finally { await g.dispose(); }
  });

  it('several generators called at once keep at least one caller\'s throughput (forwards never oversubscribe)', async () => {
    const gens = await Promise.all([0, 1, 2].map(() => loadGenerator(dir)));
    try {
      const input = { data: noise(384, 384).data, width: 384, height: 384, channels: 3 as const };
      await Promise.all(gens.map((g) => g.translate(input, { output: 'raw' })));
      const n = 6;
      const timeIt = async (fn: () => Promise<unknown>) => { const t = performance.now(); await fn(); return performance.now() - t; };
      // Alternate the two orders and keep each one's best: load from other jobs on the machine hits both alike.
      let single = Infinity, concurrent = Infinity;
      for (let round = 0; round < 2; round++) {
        single = Math.min(single, await timeIt(async () => { for (let i = 0; i < n; i++) await gens[0].translate(input, { output: 'raw' }); }));
        concurrent = Math.min(concurrent, await timeIt(() => Promise.all(Array.from({ length: n }, (_, i) => gens[i % 3].translate(input, { output: 'raw' })))));
      }
      console.log(`      ${n} translates: one caller ${single.toFixed(0)} ms, three generators at once ${concurrent.toFixed(0)} ms`);
      // At least one caller's throughput; 15% slack for timing noise on a shared machine.
      assert.ok(concurrent < single * 1.15, `three generators took ${concurrent.toFixed(0)} ms for what one did in ${single.toFixed(0)} ms`);
    } finally { await Promise.all(gens.map((g) => g.dispose())); }
  });

  it('an AbortSignal drops queued calls and the remaining tiles of a running one, rejecting with AbortError', async () => {
    const g = await loadGenerator(dir);
    try {
      const big = { data: noise(1024, 1024).data, width: 1024, height: 1024, channels: 3 as const };
      const small = { data: noise(32, 32).data, width: 32, height: 32, channels: 3 as const };
      const ac = new AbortController();
      let tilesDone = 0, tilesTotal = 0;
      const running = g.translate(big, {
        output: 'raw', tile: { size: 128, overlap: 0 }, signal: ac.signal,
        onProgress: (done, total) => { tilesDone = done; tilesTotal = total; if (done === 1) ac.abort(new Error('user left')); },
      });
      const queued = g.translate(small, { output: 'raw', signal: ac.signal });
      const after = g.translate(small, { output: 'raw' });
      for (const p of [running, queued]) {
        await assert.rejects(p, (e: Error) => e instanceof AbortError && e.name === 'AbortError' && (e as AbortError).code === 'ERR_IMG2IMG_ABORTED' &&
          (e.cause as Error).message === 'user left');
      }
      const r = await after; // the generator goes on with the next call
      assert.strictEqual(r.width, 32);
      assert.strictEqual(tilesTotal, 64);
      assert.ok(tilesDone <= 3, `${tilesDone} of ${tilesTotal} tiles ran after the abort`);
      await assert.rejects(g.translate(small, { signal: AbortSignal.abort() }), AbortError);
    } finally { await g.dispose(); }
  });

  it('types follow `output`, also with options in a variable', async () => {
    const g = await loadGenerator(dir);
    try {
      const input = { data: noise(16, 16).data, width: 16, height: 16, channels: 3 as const };
      const rawOpts: TranslateOptions<'raw'> = { output: 'raw' };
      const raw: RawPixels = await g.translate(input, rawOpts);
      const anyOpts: TranslateOptions = { output: 'raw' };
      const either = await g.translate(input, anyOpts);
      // @ts-expect-error an output chosen at run time may be raw pixels: not assignable to Buffer without a check
      const notBuffer: Buffer = either;
      const png: Buffer = await g.translate(input);
      const jpeg: Buffer = await g.translate(input, { output: 'jpeg' });
      assert.ok(!Buffer.isBuffer(raw) && !Buffer.isBuffer(notBuffer) && Buffer.isBuffer(png) && Buffer.isBuffer(jpeg));
    } finally { await g.dispose(); }
  });

  it('every error class the package exports has a stable ERR_IMG2IMG_ code, documented in the README', () => {
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const classes = Object.entries(api).filter(([, v]) => typeof v === 'function' && v.prototype instanceof Error) as Array<[string, new (...a: unknown[]) => Error]>;
    assert.ok(classes.length >= 10, classes.map(([n]) => n).join(', '));
    for (const [name, Cls] of classes) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
      assert.ok(row, `README's error table has a row for ${name}`);
      // A class with several codes lists them in a static CODES; the others carry one fixed code.
      const many = (Cls as unknown as { CODES?: readonly string[] }).CODES;
      const codes = many ?? [(new Cls('a', 'b') as Error & { code?: string }).code];
      for (const code of codes) {
        assert.match(String(code), /^ERR_IMG2IMG_[A-Z_]+$/, `${name}.code`);
        assert.ok(many ? row!.includes(`\`${String(code).replace(/^ERR_IMG2IMG_/, '_').replace(/^_ONNX_/, '_')}\``) : row!.includes(`| \`${code}\` |`),
          `README documents ${name} (${code})`);
      }
    }
  });

  it('errors are exported classes with stable codes; loadGenerator names the file to pass for a discriminator or a training state', async () => {
    const d = tmpdir();
    try {
      const g = await loadGenerator(dir);
      try {
        await assert.rejects(g.translate(Buffer.from('not an image')), (e: Error) => e instanceof ImageFileError && (e as ImageFileError).code === 'ERR_IMG2IMG_BAD_IMAGE');
      } finally { await g.dispose(); }
      // An image over the pixel limit keeps its class and its own code across the worker thread.
      const small = await loadGenerator(dir, { maxImagePixels: 100 });
      try {
        await assert.rejects(small.translate(pngOf(32, 32)), (e: Error) => e instanceof ImageFileError && (e as ImageFileError).code === 'ERR_IMG2IMG_IMAGE_TOO_LARGE');
      } finally { await small.dispose(); }
      saveG(d, { netG: 'resnet_6blocks', ngf: 4, norm: 'instance' });
      manualSeed(3);
      const netD = defineD({ netD: 'basic', inputNc: 6, ndf: 4, norm: 'batch' });
      saveNetworkCheckpoint(netD, path.join(d, 'latest_net_D.pth'));
      // The same discriminator without its description: recognised from its keys.
      fs.copyFileSync(path.join(d, 'latest_net_D.pth'), path.join(d, 'bare_net_D.pth'));
      fs.copyFileSync(path.join(d, 'latest_net_G.pth'), path.join(d, 'bare_net_G.pth'));
      netD.dispose();
      const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const passG = (file: string) => new RegExp(`pass ${escape(path.join(d, file))} \\(or the run folder\\) instead`);
      await assert.rejects(loadGenerator(path.join(d, 'latest_net_D.pth')), (e: Error) => {
        assert.ok(e instanceof CheckpointError && (e as CheckpointError).code === 'ERR_IMG2IMG_CHECKPOINT', String(e));
        assert.match(e.message, /^Expected a generator checkpoint for loadGenerator but received the discriminator checkpoint \S+latest_net_D\.pth \(a basic discriminator\)/);
        assert.match(e.message, passG('latest_net_G.pth'));
        return true;
      });
      await assert.rejects(loadGenerator(path.join(d, 'bare_net_D.pth')), (e: Error) => /basic discriminator, batch norm, ndf 4, 6 input channels/.test(e.message) && passG('bare_net_G.pth').test(e.message));
      // A real training-state file: written by a tiny pix2pix run's save.
      const state = await tinyTrainingState(d);
      await assert.rejects(loadGenerator(state), (e: Error) => e instanceof CheckpointError &&
        /^Expected a generator checkpoint for loadGenerator but received the training state \S+latest_state\.safetensors/.test(e.message) &&
        /--continue_train/.test(e.message) && /pass \S+latest_net_G\.pth/.test(e.message));
      await assert.rejects(loadGenerator(dir, { mode: 'test' as never }), (e: Error) => e instanceof OptionError && (e as OptionError).code === 'ERR_IMG2IMG_OPTION');
    } finally { fs.rmSync(d, { recursive: true, force: true }); }
  });
});

/** Runs one tiny pix2pix iteration (8x8 crops, ngf 4) into `dir`/state_run and returns its latest_state.safetensors. */
async function tinyTrainingState(dir: string): Promise<string> {
  await train(['--dataroot', path.join(SHARED, 'datasets/facades'), '--name', 'state_run', '--checkpoints_dir', dir, '--model', 'pix2pix',
    '--netG', 'unet_128', '--ngf', '4', '--ndf', '4', '--load_size', '128', '--crop_size', '128', '--max_dataset_size', '1',
    '--n_epochs', '1', '--n_epochs_decay', '0', '--num_threads', '0', '--device', 'cpu', '--seed', '1', '--print_freq', '1', '--display_freq', '1000', '--no_html'],
  { log: () => undefined });
  const file = path.join(dir, 'state_run', 'latest_state.safetensors');
  assert.ok(fs.existsSync(file), 'the run saved its training state');
  return file;
}

describe('command line (issue 16)', function () {
  this.timeout(300000);
  const bin = path.join(REPO_ROOT, 'bin', 'img2img.js');
  const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, IMG2IMG_THREADS: '1' } });

  it('--version prints the package version', () => {
    const r = cli('--version');
    const version = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version;
    assert.strictEqual(r.status, 0, r.stderr);
    assert.strictEqual(r.stdout.trim(), `torch-img2img ${version}`);
  });

  it('a misspelled required flag is named first, with did-you-mean; --use_wandb is refused with what to use', () => {
    const r = cli('train', '--datroot', 'x', '--name', 'y');
    assert.strictEqual(r.status, 2);
    assert.match(r.stderr, /unrecognized arguments: --datroot x \(did you mean --dataroot\?\)/);
    const w = cli('train', '--dataroot', 'x', '--use_wandb');
    assert.strictEqual(w.status, 2);
    assert.match(w.stderr, /Expected --display_port N \(the live training dashboard; wandb is not bundled\) for --use_wandb/);
  });

  it('serve takes the architecture and device flags of test, with the same defaults and did-you-mean', () => {
    const a = parseServeArgs(['--checkpoint', 'c.pth', '--netG', 'unet_128', '--ngf=8', '--norm', 'batch', '--no_dropout'])!;
    assert.deepStrictEqual(a.architecture, { netG: 'unet_128', ngf: 8, norm: 'batch', useDropout: false });
    assert.strictEqual(a.device, createTestParser({ modelNames: ['test'], datasetModes: ['single'] }).getDefault('device'));
    assert.deepStrictEqual(parseServeArgs(['--checkpoint', 'c.pth'])!.architecture, {}, 'the checkpoint describes what is not given');
    assert.throws(() => parseServeArgs(['--checkpoint', 'c.pth', '--netG', 'unet_64']), /Expected one of unet_256, unet_128, resnet_9blocks, resnet_6blocks for --netG/);
    assert.throws(() => parseServeArgs(['--checkpont', 'c.pth']), /unrecognized arguments: --checkpont c\.pth \(did you mean --checkpoint\?\)/);
  });

  it('train --continue_train reads the architecture from the checkpoint sidecar; explicit flags win and conflicts are reported', async () => {
    const d = tmpdir();
    try {
      await tinyTrainingState(d);
      const lines: string[] = [];
      const base = ['--dataroot', path.join(SHARED, 'datasets/facades'), '--name', 'state_run', '--checkpoints_dir', d, '--model', 'pix2pix',
        '--load_size', '128', '--crop_size', '128', '--max_dataset_size', '1', '--num_threads', '0', '--device', 'cpu', '--seed', '1',
        '--display_freq', '1000', '--no_html', '--continue_train', '--epoch_count', '2', '--n_epochs', '2', '--n_epochs_decay', '0'];
      const r = await train([...base, '--no_dropout'], { log: (l) => lines.push(l) });
      assert.strictEqual(r.epochs, 1);
      const notes = lines.join('\n');
      assert.match(notes, /from latest_net_G\.pth: netG=unet_128, ngf=4/);
      assert.match(notes, /from latest_net_D\.pth: ndf=4/);
      assert.match(notes, /--no_dropout true conflicts with latest_net_G\.pth, which was trained with no_dropout=false; using --no_dropout true/);
    } finally { fs.rmSync(d, { recursive: true, force: true }); }
  });
});

describe('train(): training off the caller\'s thread (issue 16)', function () {
  this.timeout(600000);
  const argvFor = (d: string, images: number) => ['--dataroot', path.join(SHARED, 'datasets/facades'), '--name', 'tiny', '--checkpoints_dir', d,
    '--model', 'pix2pix', '--netG', 'unet_128', '--ngf', '8', '--ndf', '8', '--load_size', '128', '--crop_size', '128',
    '--max_dataset_size', String(images), '--n_epochs', '1', '--n_epochs_decay', '0', '--num_threads', '0', '--device', 'cpu',
    '--seed', '1', '--print_freq', '1', '--display_freq', '1', '--no_html', '--threads', '1'];

  // Measured on the shared 2-core AVX2 machine (3 runs, load average 3-14): 0.9, 2.7 and 1.6 ms late from this thread's
  // work (11.6, 34.0 and 110 ms with waits for a core, which other jobs cause); on the calling thread it was 680 ms (measured earlier).
  it('a 10 ms timer stays < 20 ms late during a tiny pix2pix run; callbacks run on the caller\'s thread with plain data', async () => {
    const d = tmpdir();
    try {
      let iterations = 0, visuals = 0, started = 0, epochs = 0;
      const threads = new Set<boolean>();
      const m = await measureLateness(() => train(argvFor(d, 6), {
        onStart: (s) => { started++; threads.add(isMainThread); assert.strictEqual(s.datasetSize, 6); assert.strictEqual(s.opt.netG, 'unet_128'); },
        onIteration: (i) => { iterations++; threads.add(isMainThread); assert.ok(i.losses && Number.isFinite(i.losses.G_GAN)); },
        onVisuals: (v) => {
          visuals++; threads.add(isMainThread);
          const fake = v.visuals.get('fake_B')!;
          assert.ok(fake.data instanceof Uint8Array && fake.width === 128 && fake.height === 128 && fake.channels === 3);
        },
        onEpoch: (e) => { epochs++; threads.add(isMainThread); assert.strictEqual(e.totalIters, 6); },
        log: () => undefined,
      }));
      const show = `${m.worstOwn.toFixed(1)} ms late from this thread's work (${m.worst.toFixed(1)} ms with waits for a core) over a ${m.elapsedMs.toFixed(0)} ms run of 6 iterations`;
      console.log(`      ${show}`);
      assert.ok(m.worstOwn < 20, show);
      assert.strictEqual(m.result.totalIters, 6);
      assert.ok(started === 1 && iterations === 6 && visuals === 6 && epochs === 1, `${started} ${iterations} ${visuals} ${epochs}`);
      assert.deepStrictEqual([...threads], [true]);
      assert.ok(fs.existsSync(path.join(d, 'tiny', 'latest_net_G.pth')));
      assert.strictEqual(trainInWorker, train, 'trainInWorker is the same function (its earlier name)');
    } finally { fs.rmSync(d, { recursive: true, force: true }); }
  });

  it('an AbortSignal stops after the current iteration and saves latest, as Ctrl-C does; errors keep their code', async () => {
    const d = tmpdir();
    try {
      const ac = new AbortController();
      const lines: string[] = [];
      const r = await train(argvFor(d, 50), { onIteration: (i) => { if (i.totalIters === 2) ac.abort(); }, log: (l) => lines.push(l) }, { signal: ac.signal });
      assert.strictEqual(r.interrupted, true);
      assert.ok(r.totalIters < 50, `${r.totalIters} iterations ran`);
      assert.ok(lines.some((l) => /aborted: saving the latest model/.test(l)), lines.join('\n'));
      assert.ok(fs.existsSync(path.join(d, 'tiny', 'latest_net_G.pth')) && fs.existsSync(path.join(d, 'tiny', 'latest_state.safetensors')));
      // An aborted signal before the start: the first iteration runs, then latest is saved.
      const r2 = await train(argvFor(d, 50), { log: () => undefined }, { signal: AbortSignal.abort() });
      assert.ok(r2.interrupted && r2.totalIters === 1, JSON.stringify(r2));
      // A bad option and a callback that throws both reject the run.
      await assert.rejects(train([...argvFor(d, 2), '--netG', 'unet_64']), (e: Error) => e instanceof OptionError && /for --netG/.test(e.message));
      await assert.rejects(train(['--help']), (e: Error) => e instanceof HelpRequested && /--dataroot/.test(e.helpText));
      await assert.rejects(train(argvFor(d, 50), { onIteration: () => { throw new Error('from the callback'); }, log: () => undefined }), /from the callback/);
    } finally { fs.rmSync(d, { recursive: true, force: true }); }
  });
});

describe('README (issue 16)', function () {
  this.timeout(300000);

  it('every TypeScript snippet, and each example importing the package, compiles as a CommonJS module against the package typings', () => {
    // Loaded here, not at the top: the compiler's heap would otherwise sit on this thread during the lateness tests.
    const ts = require('typescript') as typeof TS; // eslint-disable-line @typescript-eslint/no-require-imports
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const snippets = readmeSnippets();
    assert.ok(snippets.length >= 2, 'README has TypeScript snippets');
    const d = tmpdir();
    try {
      const sources: Array<[string, string]> = [...snippets.map((code, i): [string, string] => [`snippet_${i}.ts`, code]),
        ...[...examplesAsApp('torch-img2img')].map(([f, code]): [string, string] => [`example_${f}`, code])];
      const files = sources.map(([name, code]) => {
        const f = path.join(d, name);
        fs.writeFileSync(f, code);
        return f;
      });
      // The same settings a user's CommonJS project has; 'torch-img2img' resolves to this checkout's typings.
      const program = ts.createProgram(files, {
        strict: true, module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, moduleResolution: ts.ModuleResolutionKind.Node10,
        noEmit: true, skipLibCheck: true, esModuleInterop: true, types: ['node'], typeRoots: [path.join(REPO_ROOT, 'node_modules/@types')],
        baseUrl: REPO_ROOT, paths: { 'torch-img2img': ['dist/src/index.d.ts'] },
      });
      const problems = ts.getPreEmitDiagnostics(program).map((x) =>
        `${x.file ? path.basename(x.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(x.messageText, '\n')}`);
      assert.deepStrictEqual(problems, []);
      const examples = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).files as string[];
      assert.ok(examples.includes('examples/'), 'examples/ is shipped');
      // Every example is linked from the README (each one is compiled by tsc -p . and run by its own test).
      const shipped = fs.readdirSync(path.join(REPO_ROOT, 'examples')).filter((f) => f.endsWith('.ts'));
      assert.deepStrictEqual(shipped.sort(), ['server.ts', 'train.ts', 'worker.ts']);
      for (const f of shipped) assert.ok(readme.includes(`](examples/${f})`), `README links examples/${f}`);
    } finally { fs.rmSync(d, { recursive: true, force: true }); }
  });
});
