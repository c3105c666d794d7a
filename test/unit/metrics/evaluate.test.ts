/** img2img eval / evaluate() on a results folder and on two folders; KID against a live numpy transcription. */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writePthRaw } from '../../../src/checkpoint';
import type { RawImage8 } from '../../../src/data/image';
import { decodeImage, encodeJpeg, encodePng } from '../../../src/data/image_io';
import { evaluate, evaluateResults, EvaluateResult, resultSets } from '../../../src/metrics/evaluate';
import { evalCommand } from '../../../src/tools/eval';
import { FID_WEIGHTS_FILE } from '../../../src/metrics/fid_weights_location';
import { polynomialMmd } from '../../../src/metrics/frechet';
import { l1, psnr, ssim } from '../../../src/metrics/image_metrics';
import { Tensor } from '../../../src/tensor';
import { HTML } from '../../../src/util/html';
import { runPythonJson } from '../../helpers/run_python';
import { captureIO } from '../tools/helpers/tool_io';
import { formulaStateDict } from './fid_weights';
import { facadesHalf } from './metrics_helpers';

const N = 4;

describe('metrics/evaluate', () => {
  let root: string;
  let weights: string;
  let resultsDir: string;
  const real: RawImage8[] = [], fake: RawImage8[] = [];

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-eval-'));
    weights = path.join(root, FID_WEIGHTS_FILE);
    writePthRaw(weights, formulaStateDict());
    // A results folder as img2img test writes it; the "fakes" are JPEG-degraded reals (a known, imperfect translation).
    resultsDir = path.join(root, 'results', 'facades', 'test_latest');
    const page = new HTML(resultsDir, 'Experiment = facades');
    for (let n = 1; n <= N; n++) {
      real.push(facadesHalf(n, 'photo'));
      fake.push(decodeImage(encodeJpeg(real[n - 1], 30), { name: 'fake' }) as RawImage8);
      const files = { real_A: facadesHalf(n, 'label'), fake_B: fake[n - 1], real_B: real[n - 1] };
      for (const [label, img] of Object.entries(files)) fs.writeFileSync(path.join(page.imageDir, `${n}_${label}.png`), encodePng(img));
      page.addHeader(String(n));
    }
    page.save();
    for (const [dir, imgs] of [['real', real], ['fake', fake]] as const) {
      fs.mkdirSync(path.join(root, dir));
      imgs.forEach((img, i) => fs.writeFileSync(path.join(root, dir, `${i + 1}.png`), encodePng(img)));
    }
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  const mean = (f: (a: RawImage8, b: RawImage8) => number) => real.reduce((s, r, i) => s + f(r, fake[i]), 0) / N;
  const kid = { subsets: 5, subsetSize: 3, seed: 1 };

  it('img2img eval <results> --json: the pair means, FID and KID; a line in index.html', async () => {
    const io = captureIO();
    const code = await evalCommand([resultsDir, '--json', '--fid_weights', weights, '--kid_subsets', '5', '--kid_subset_size', '3', '--kid_seed', '1'], io);
    assert.strictEqual(code, 0, io.text());
    const r = JSON.parse(io.lines.join('\n')) as EvaluateResult;
    assert.deepStrictEqual(r.images, { real: N, fake: N, pairs: N });
    assert.strictEqual(r.l1, mean(l1));
    assert.strictEqual(r.psnr, mean(psnr));
    assert.strictEqual(r.ssim, mean(ssim));
    assert.ok(Number.isFinite(r.fid) && r.fid! > 0, `fid ${r.fid}`);
    assert.deepStrictEqual({ subsets: r.kid!.subsets, subsetSize: r.kid!.subsetSize, seed: r.kid!.seed }, kid);
    const html = fs.readFileSync(path.join(resultsDir, 'index.html'), 'utf8');
    assert.match(html, /<body><p class="img2img-metrics">L1 \(0-255\): [\d.]+ · PSNR \(dB\): [\d.]+ · SSIM: [\d.]+ · FID: [\d.]+ · KID: /);
    // Evaluating again replaces the line instead of adding one.
    assert.strictEqual(await evalCommand([resultsDir, '--metrics', 'l1', '--fid_weights', weights], captureIO()), 0);
    assert.strictEqual(fs.readFileSync(path.join(resultsDir, 'index.html'), 'utf8').match(/img2img-metrics/g)!.length, 1);

    // evaluate() on two folders with the same names gives the same numbers.
    const api = await evaluate(path.join(root, 'real'), path.join(root, 'fake'), { fidWeights: weights, kid });
    for (const k of ['l1', 'psnr', 'ssim', 'fid'] as const) assert.strictEqual(api[k], r[k], k);
    assert.deepStrictEqual(api.kid, r.kid);
  });

  it('prints a table; without weights FID/KID are left out with a note, and asked for they fail naming the file', async () => {
    const missing = path.join(root, 'none', FID_WEIGHTS_FILE);
    const io = captureIO();
    assert.strictEqual(await evalCommand(['--real', path.join(root, 'real'), '--fake', path.join(root, 'fake'), '--fid_weights', missing], io), 0, io.text());
    assert.match(io.lines.join('\n'), /metric\s+value\nL1 \(0-255\)\s+[\d.]+\nPSNR \(dB\)\s+[\d.]+\nSSIM\s+[\d.]+$/);
    assert.match(io.errors.join('\n'), /FID and KID skipped: no FID Inception weights at .*pt_inception-2015-12-05-6726825d\.pth/);
    const io2 = captureIO();
    assert.strictEqual(await evalCommand([resultsDir, '--metrics', 'fid', '--fid_weights', missing], io2), 1);
    assert.match(io2.errors.join('\n'), /Expected the FID Inception weights pt_inception-2015-12-05-6726825d\.pth .* but received no file at /);
  });

  it('refuses paired metrics on unpaired folders and a folder with no results', async () => {
    const other = path.join(root, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'x.png'), encodePng(real[0]));
    await assert.rejects(evaluate(path.join(root, 'real'), other, { metrics: ['psnr'] }), (e: Error & { code?: string }) => e.code === 'ERR_IMG2IMG_METRIC_NO_PAIRS');
    await assert.rejects(evaluateResults(other), (e: Error & { code?: string }) => e.code === 'ERR_IMG2IMG_METRIC_NO_PAIRS' && /^Expected a results folder/.test(e.message));
    const io = captureIO();
    assert.strictEqual(await evalCommand(['--real', other], io), 2);
  });

  it('CycleGAN results folders are sets, not pairs', () => {
    const png = encodePng(real[0]);
    const make = (name: string, labels: string[]) => {
      const dir = path.join(root, name, 'images');
      fs.mkdirSync(dir, { recursive: true });
      for (const l of labels) fs.writeFileSync(path.join(dir, `1_${l}.png`), png);
      return path.join(root, name);
    };
    const cycle = resultSets(make('cycle', ['real_A', 'fake_B', 'rec_A', 'real_B', 'fake_A', 'rec_B']));
    assert.deepStrictEqual([cycle.paired, cycle.fake.map((f) => path.basename(f))], [false, ['1_fake_B.png']]);
    const single = resultSets(make('single', ['real', 'fake']));
    assert.deepStrictEqual([single.paired, single.real.map((f) => path.basename(f))], [false, ['1_real.png']]);
    assert.strictEqual(resultSets(resultsDir).paired, true);
  });

  it('KID\'s unbiased MMD² equals a numpy transcription of the formula', () => {
    const m = 6, d = 5;
    const x = Array.from({ length: m * d }, (_, i) => Math.sin(i * 1.3) * 2);
    const y = Array.from({ length: m * d }, (_, i) => Math.cos(i * 0.7) + 0.3);
    const ref = runPythonJson<number>(String.raw`
import json, sys
import numpy as np
p = json.load(sys.stdin); m, d = p['m'], p['d']
X = np.array(p['x']).reshape(m, d); Y = np.array(p['y']).reshape(m, d)
k = lambda a, b: (a @ b.T / d + 1) ** 3
Kxx, Kyy, Kxy = k(X, X), k(Y, Y), k(X, Y)
print(json.dumps((Kxx.sum() - np.trace(Kxx)) / (m * (m - 1)) + (Kyy.sum() - np.trace(Kyy)) / (m * (m - 1)) - 2 * Kxy.mean()))
`, JSON.stringify({ m, d, x, y }));
    const tx = Tensor.fromBytes(new Uint8Array(new Float64Array(x).buffer), 'float64', [m, d]);
    const ty = Tensor.fromBytes(new Uint8Array(new Float64Array(y).buffer), 'float64', [m, d]);
    try {
      const ours = polynomialMmd(tx, ty);
      assert.ok(Math.abs(ours - ref) <= 1e-12 * Math.max(1, Math.abs(ref)), `ours ${ours}, numpy ${ref}`);
    } finally {
      tx.dispose(); ty.dispose();
    }
  });
});
