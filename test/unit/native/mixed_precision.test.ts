// Mixed precision on real libtorch (issue 20, point 2). On a CPU without native bf16 these run the forced path
// (emulated bf16: the same numerics as native bf16, slower), so they check that autocast is really on and that
// its results stay near fp32, not its speed. Tolerances: measured differences on this AVX2 EPYC, times ~2-3 (noted
// at each); bf16 keeps 8 significant bits, so one rounding moves a value by up to 2^-9 = 0.2 % relative, and the
// norms after each convolution amplify that on freshly initialised networks.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { autogradGrad, BaseModel, CUTModel, createModel, defineD, defineG, loadGenerator, l1Loss, manualSeed, noGrad, parseOptions, saveNetworkCheckpoint, Tensor, tidy } from '../../../src';
import { cpuBf16Support } from '../../../src/precision';
import { DynamicLossScaler } from '../../../src/loss_scaler';
import { Adam, stepTogether } from '../../../src/optim';
import { OptionError } from '../../../src/options/option_errors';
import { setFastPath } from '../../../src/runtime';

/** Whether every value is exactly a bf16 number (the low 16 bits of its float32 pattern are zero). */
function allBf16(t: Tensor): boolean {
  const bits = new Uint32Array(t.toFloat32Array().buffer);
  return bits.every((b) => (b & 0xffff) === 0);
}
function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
function randn(shape: number[], seed: number): Tensor { manualSeed(seed); return Tensor.randn(shape); }

// CUT's losses under bf16 vs fp32 (ngf 4, 16 patches, nce_T 0.07 amplifies the feature rounding). Measured on the
// AVX2 EPYC: at most 1.7 % relative at step 1 (NCE) and 8.8 % over 3 steps (NCE, step 2, after Adam's first
// updates diverge); bounds 5 % and 20 %.
const CUT_BF16_FIRST_STEP_REL = 0.05;
const CUT_BF16_LOSS_REL = 0.2;

const STEPS = 3;

/** Losses of STEPS training steps of the model `argv` builds, on seeded random side x side pairs; `check` sees the model after them. */
function trainLosses(argv: string[], side: number, beforeStep: (model: BaseModel, i: number, input: { A: Tensor; B: Tensor }) => void,
  check: (model: BaseModel) => void): Array<Record<string, number>> {
  manualSeed(5);
  const model = createModel(parseOptions(argv, { isTrain: true }));
  const losses: Array<Record<string, number>> = [];
  try {
    for (let i = 0; i < STEPS; i++) {
      const A = randn([1, 3, side, side], 10 + i), B = randn([1, 3, side, side], 20 + i);
      beforeStep(model, i, { A, B });
      model.setInput({ A, B });
      model.optimizeParameters();
      A.dispose(); B.dispose();
      losses.push(model.getCurrentLosses());
    }
    check(model);
  } finally { model.dispose(); }
  return losses;
}

/** Every bf16 loss finite and within bound(step) relative of the fp32 one. */
function assertLossesClose(fp32: Array<Record<string, number>>, bf16: Array<Record<string, number>>, bound: (i: number) => number): void {
  for (let i = 0; i < STEPS; i++) {
    for (const k of Object.keys(fp32[i])) {
      const rel = Math.abs(bf16[i][k] - fp32[i][k]) / Math.max(Math.abs(fp32[i][k]), 1e-3);
      assert.ok(Number.isFinite(bf16[i][k]) && rel < bound(i), `step ${i + 1} ${k}: bf16 ${bf16[i][k]} vs fp32 ${fp32[i][k]} (${(rel * 100).toFixed(2)} %)`);
    }
  }
}

describe('mixed precision (bf16 autocast on CPU, forced where the CPU only emulates it)', function () {
  this.timeout(240000);
  const native = cpuBf16Support().native;

  it('a forward under bf16 computes its convolutions in bf16 and hands back float32', () => {
    const d = defineD({ netD: 'basic', inputNc: 3, ndf: 8, norm: 'batch' });
    const g = defineG({ netG: 'resnet_6blocks', inputNc: 3, outputNc: 3, ngf: 8, norm: 'instance' });
    const u = defineG({ netG: 'unet_128', inputNc: 3, outputNc: 3, ngf: 4, norm: 'batch' });
    try {
      for (const [net, size] of [[d, 64], [g, 32], [u, 128]] as const) {
        const x = randn([1, 3, size, size], 1);
        noGrad(() => tidy(() => {
          const y32 = net.forward(x);
          assert.ok(!allBf16(y32), `${net.describe()}: fp32 outputs are not all bf16 numbers`);
          net.precision = 'bf16';
          const y16 = net.forward(x);
          net.precision = 'fp32';
          assert.strictEqual(y16.dtype, 'float32');
          // D ends in a convolution: it ran in bf16 (and was widened exactly), so every output is a bf16 number.
          if (net === d) assert.ok(allBf16(y16), `${net.describe()}: bf16 forward output is not bf16-rounded`);
          const diff = maxAbsDiff(y32.toFloat32Array(), y16.toFloat32Array());
          const scale = y32.abs().max().item();
          // Measured (seeds 1-3): 3.6-6.6 % of the output range for D, 9.5-13.1 % for resnet_6blocks, 3.6-4.4 % for
          // unet_128; Python torch 1.13's own CPU autocast on the reference's networks: 5.0, 11.6-14.5 and 6.4 %.
          // (The norms rescale these freshly initialised, low-variance activations, so relative errors grow.) Bound 25 %.
          assert.ok(diff > 0 && diff < 0.25 * scale, `${net.describe()}: max |bf16 - fp32| = ${diff} (range ${scale})`);
        }));
        x.dispose();
        for (const [, p] of net.stateDict()) { assert.strictEqual(p.dtype, p.dtype === 'int64' ? 'int64' : 'float32'); p.dispose(); }
      }
    } finally { d.dispose(); g.dispose(); u.dispose(); }
  });

  for (const variant of [{ name: "the reference's", extra: { useDropout: true } }, { name: "CUT's antialiased", extra: { antialias: true, antialiasUp: true } }]) {
    it(`${variant.name} ResNet generator's fused channels-last bf16 inference rounds like the plain autocast path`, async () => {
      // resnet_9blocks ngf 16 at 64x64, seeded weights and input (the reference's with dropout, identity in eval, which
      // must not stop the fused path). Measured on a Sapphire Rapids (native bf16; emulated bf16 rounds the same):
      // mean |bf16 - fp32| plain / fused 0.00500 / 0.00506 (the reference's; max 0.026 / 0.027) and 0.00582 / 0.00572
      // (CUT's; max 0.033 / 0.030); mean |fused - plain| 0.0023 and 0.0021 (the norm statistics' summation order flips
      // some bf16 roundings).
      // Bounds: fused within 1.5x of the plain path's error, and different from it (the fused path ran).
      manualSeed(11);
      const g = defineG({ netG: 'resnet_9blocks', inputNc: 3, outputNc: 3, ngf: 16, norm: 'instance', ...variant.extra });
      g.eval();
      const x = randn([1, 3, 64, 64], 12);
      const mean = (a: Float32Array, b: Float32Array) => { let t = 0; for (let i = 0; i < a.length; i++) t += Math.abs(a[i] - b[i]); return t / a.length; };
      const run = async (precision: 'fp32' | 'bf16', fused: boolean): Promise<Float32Array> => {
        const prev = setFastPath('bf16Block', fused);
        try {
          g.precision = precision;
          const y = await g.forwardAsync(x);
          const sync = noGrad(() => g.forward(x));
          try {
            assert.deepStrictEqual(y.shape, [1, 3, 64, 64]);
            assert.strictEqual(y.dtype, 'float32');
            assert.strictEqual(maxAbsDiff(y.toFloat32Array(), sync.toFloat32Array()), 0, 'the sync and async forwards agree');
            return y.toFloat32Array();
          } finally { y.dispose(); sync.dispose(); }
        } finally { setFastPath('bf16Block', prev); }
      };
      try {
        const fp32 = await run('fp32', true), plain = await run('bf16', false), fused = await run('bf16', true);
        const errPlain = mean(plain, fp32), errFused = mean(fused, fp32), apart = mean(fused, plain);
        assert.ok(errPlain > 0 && errFused < 1.5 * errPlain, `mean |fused - fp32| ${errFused} vs plain ${errPlain}`);
        assert.ok(apart > 0 && apart < errPlain, `mean |fused - plain| ${apart} (plain's own error ${errPlain})`);
        assert.ok(maxAbsDiff(fused, fp32) < 0.25 * 2, 'within the bound of the forward test above (tanh range 2)');
      } finally { x.dispose(); g.dispose(); }
    });
  }

  it("the ResNet blocks' fused bf16 training step (forward + backward) rounds like the plain autocast path", () => {
    // resnet_6blocks ngf 8, a batch of two 64x64 (blocks: 32 channels at 16x16), seeded; an L1 loss against a random target, then
    // the gradients of every parameter and of the input. Measured on a Zen 4 (native bf16; emulated bf16 rounds the
    // same): relative L1 distance to fp32 of the output plain / fused 0.0160 / 0.0162, of the gradients (input and all
    // parameters together) 0.166 / 0.165; fused vs plain 0.0058 / 0.077 (the statistics' summation order).
    // Bounds: fused within 1.5x of the plain path's distance, and different from it (the fused path ran).
    manualSeed(21);
    const g = defineG({ netG: 'resnet_6blocks', inputNc: 3, outputNc: 3, ngf: 8, norm: 'instance' });
    const x = randn([2, 3, 64, 64], 22), target = randn([2, 3, 64, 64], 23);  // batch 2: per-sample statistics
    const run = (precision: 'fp32' | 'bf16', fused: boolean): { y: Float32Array; grads: Float32Array } => {
      const prev = setFastPath('bf16Block', fused);
      try {
        g.precision = precision;
        g.zeroGrad();
        return tidy(() => {
          const xi = x.clone().detach().setRequiresGrad(true);
          const y = g.forward(xi);
          assert.strictEqual(y.dtype, 'float32');
          l1Loss(y, target).backward();
          const parts: Float32Array[] = [xi.grad!.toFloat32Array()];
          for (const p of g.parameters()) { const gr = p.grad; if (gr) parts.push(gr.toFloat32Array()); }
          const grads = new Float32Array(parts.reduce((n, a) => n + a.length, 0));
          let o = 0;
          for (const a of parts) { grads.set(a, o); o += a.length; }
          return { y: y.toFloat32Array(), grads };
        });
      } finally { setFastPath('bf16Block', prev); }
    };
    const rel = (a: Float32Array, b: Float32Array) => { let d = 0, n = 0; for (let i = 0; i < a.length; i++) { d += Math.abs(a[i] - b[i]); n += Math.abs(b[i]); } return d / n; };
    try {
      const fp32 = run('fp32', true), plain = run('bf16', false), fused = run('bf16', true);
      for (const k of ['y', 'grads'] as const) {
        const errPlain = rel(plain[k], fp32[k]), errFused = rel(fused[k], fp32[k]), apart = rel(fused[k], plain[k]);
        console.log(`      ${k}: plain ${errPlain.toFixed(5)} fused ${errFused.toFixed(5)} apart ${apart.toFixed(5)}`);
        assert.ok(errPlain > 0 && errFused < 1.5 * errPlain, `${k}: |fused - fp32| ${errFused} vs plain ${errPlain}`);
        assert.ok(apart > 0 && apart < errPlain, `${k}: |fused - plain| ${apart} (plain's own distance ${errPlain})`);
      }
    } finally { x.dispose(); target.dispose(); g.dispose(); }
  });

  it('a second derivative through the fused bf16 training block is refused with the reason; the plain path gives one', () => {
    manualSeed(24);
    const g = defineG({ netG: 'resnet_6blocks', inputNc: 3, outputNc: 3, ngf: 8, norm: 'instance' });
    g.precision = 'bf16';
    const x = randn([1, 3, 64, 64], 25);
    const penalty = (fused: boolean) => {
      const prev = setFastPath('bf16Block', fused);
      try {
        return tidy(() => {
          const xi = x.clone().detach().setRequiresGrad(true);
          const out = g.forward(xi).sum();
          const [dx] = autogradGrad([out], [xi], [out.onesLike()], { createGraph: true });
          dx.mul(dx).sum().backward();
          return g.parameters()[0].grad!.toFloat32Array();
        });
      } finally { setFastPath('bf16Block', prev); g.zeroGrad(); }
    };
    try {
      assert.throws(() => penalty(true), /second derivative \(create_graph\) through a ResNet block.*IMG2IMG_BF16_BLOCK=0/);
      const grad = penalty(false);
      assert.ok(grad.some((v) => v !== 0) && grad.every(Number.isFinite), 'the plain autocast path differentiates twice');
    } finally { x.dispose(); g.dispose(); }
  });

  it('under bf16 a convolution with few output pixels stays float32 (measured slower in bf16), larger ones run bf16', () => {
    // The basic D's last convolution (ndf*8 -> 1, 4x4, stride 1, pad 1): from a 64x64 input it has 6x6 output pixels
    // (bf16: its outputs are bf16 numbers), from 32x32 only 2x2, below LowPrecisionPaysConv's 16 (float32 values).
    const d = defineD({ netD: 'basic', inputNc: 3, ndf: 8, norm: 'batch' });
    try {
      d.precision = 'bf16';
      for (const [side, bf16] of [[64, true], [32, false]] as const) {
        const x = randn([1, 3, side, side], 3);
        noGrad(() => tidy(() => {
          const y = d.forward(x);
          assert.strictEqual(y.dtype, 'float32');
          assert.strictEqual(allBf16(y), bf16, `${side}x${side}: the last convolution ran in ${bf16 ? 'fp32' : 'bf16'}`);
        }));
        x.dispose();
      }
    } finally { d.dispose(); }
  });

  it('the async (inference-mode) forward applies the precision on its own thread too', async () => {
    const d = defineD({ netD: 'basic', inputNc: 3, ndf: 8, norm: 'batch' });
    const x = randn([1, 3, 64, 64], 2);
    try {
      d.precision = 'bf16';
      const y = await d.forwardAsync(x);
      assert.ok(allBf16(y));
      y.dispose();
    } finally { x.dispose(); d.dispose(); }
  });

  it('losses are float32 whatever dtype their input has', () => {
    tidy(() => {
      const a = randn([2, 3, 4, 4], 3), b = randn([2, 3, 4, 4], 4);
      const l = l1Loss(a.to('cpu', 'bfloat16'), b);
      assert.strictEqual(l.dtype, 'float32');
    });
  });

  it('pix2pix trains under forced bf16: fp32 weights and Adam state, losses close to fp32', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-prec-'));
    const args = (p: string) => ['--dataroot', dir, '--model', 'pix2pix', '--netG', 'unet_128', '--ngf', '4', '--ndf', '4',
      '--checkpoints_dir', dir, '--seed', '5', '--precision', p, ...(p === 'bf16' ? ['--force_precision'] : [])];
    const run = (p: string) => trainLosses(args(p), 128, (_model, i) => manualSeed(30 + i) /* dropout draws */, (model) => {
      for (const opt of model.optimizers) {
        for (const e of opt.getState()) {
          assert.strictEqual(e.expAvg?.dtype, 'float32');
          assert.strictEqual(e.expAvgSq?.dtype, 'float32');
        }
      }
      for (const w of model.networks.G.parameters()) { assert.strictEqual(w.dtype, 'float32'); w.dispose(); }
      assert.strictEqual(model.networks.G.precision, p);
    });
    try {
      // Measured: at most 0.10 % relative over the 3 steps (G_GAN, step 2); bound 0.5 %.
      assertLossesClose(run('fp32'), run('bf16'), () => 0.005);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });

  it('cut trains under forced bf16: every network (G, D and the data-shaped F) takes it, fp32 weights, losses close to fp32', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-prec-cut-'));
    const args = (p: string) => ['--dataroot', dir, '--model', 'cut', '--netG', 'resnet_6blocks', '--ngf', '4', '--ndf', '4',
      '--netF_nc', '16', '--num_patches', '16', '--checkpoints_dir', dir, '--seed', '5', '--precision', p, ...(p === 'bf16' ? ['--force_precision'] : [])];
    const run = (p: string) => trainLosses(args(p), 64, (model, i, input) => {
      if (i === 0) (model as CUTModel).dataDependentInitialize(input);
    }, (model) => {
      assert.deepStrictEqual(model.modelNames, ['G', 'F', 'D']);
      for (const name of model.modelNames) {
        assert.strictEqual(model.networks[name].precision, p, `${name} precision`);
        for (const w of model.networks[name].parameters()) { assert.strictEqual(w.dtype, 'float32'); w.dispose(); }
      }
    });
    try {
      assertLossesClose(run('fp32'), run('bf16'), (i) => (i === 0 ? CUT_BF16_FIRST_STEP_REL : CUT_BF16_LOSS_REL));
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });

  it(`--precision bf16 on this CPU is ${native ? 'accepted (native bf16)' : 'refused with the reason unless --force_precision'}; fp16 on CPU always refused`, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-prec-'));
    const base = ['--dataroot', dir, '--model', 'pix2pix', '--netG', 'unet_128', '--ngf', '4', '--ndf', '4', '--checkpoints_dir', dir];
    try {
      if (native) createModel(parseOptions([...base, '--precision', 'bf16'], { isTrain: true })).dispose();
      else {
        assert.throws(() => createModel(parseOptions([...base, '--precision', 'bf16'], { isTrain: true })),
          (e: OptionError) => e instanceof OptionError && e.option === '--precision' && /avx512_bf16/.test(e.message) && /slower than fp32/.test(e.message));
      }
      assert.throws(() => createModel(parseOptions([...base, '--precision', 'fp16', '--force_precision'], { isTrain: true })),
        (e: OptionError) => e instanceof OptionError && /supports only bf16/.test(e.message));
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });

  it("translate with precision 'bf16' (forced) gives pixels close to fp32", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-prec-'));
    const file = path.join(dir, 'g.pth');
    manualSeed(9);
    const g = defineG({ netG: 'resnet_6blocks', inputNc: 3, outputNc: 3, ngf: 8, norm: 'instance', initType: 'normal', initGain: 0.02 });
    saveNetworkCheckpoint(g, file);
    g.dispose();
    const w = 64, h = 64;
    const pixels = new Uint8Array(w * h * 3).map((_, i) => (i * 37) % 256);
    const input = { data: pixels, width: w, height: h, channels: 3 as const };
    const g32 = await loadGenerator(file);
    const g16 = await loadGenerator(file, { precision: 'bf16', forcePrecision: true });
    try {
      assert.strictEqual(g16.precision, 'bf16');
      const a = await g32.translate(input, { output: 'raw' });
      const b = await g16.translate(input, { output: 'raw' });
      let worst = 0, differing = 0, sum = 0;
      for (let i = 0; i < a.data.length; i++) {
        const d = Math.abs(a.data[i] - b.data[i]);
        worst = Math.max(worst, d);
        sum += d;
        if (d) differing++;
      }
      const mean = sum / a.data.length;
      // Measured: worst 15 levels of 255, mean 2.6 (the forward test's resnet_6blocks bf16 error, in pixels);
      // bounds 40 and 8.
      assert.ok(differing > 0 && worst <= 40 && mean <= 8, `worst pixel difference ${worst}, mean ${mean}, ${differing} of ${a.data.length} differ`);
      // The per-call override gives the bf16 generator's bytes exactly, and the next call is back in fp32.
      const c = await g32.translate(input, { output: 'raw', precision: 'bf16', forcePrecision: true });
      assert.deepStrictEqual(Buffer.from(c.data), Buffer.from(b.data));
      assert.deepStrictEqual(Buffer.from((await g32.translate(input, { output: 'raw' })).data), Buffer.from(a.data));
      if (!native) {
        await assert.rejects(loadGenerator(file, { precision: 'bf16' }), /avx512_bf16/);
        await assert.rejects(g32.translate(input, { precision: 'bf16' }), (e: OptionError) => e instanceof OptionError && /avx512_bf16/.test(e.message));
      }
    } finally {
      await g32.dispose(); await g16.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the loss scaler unscales real gradients and skips a step whose gradients overflowed', () => {
    const p = Tensor.fromFloat32Array(new Float32Array([1, 2, 3, 4]), [4]).setRequiresGrad(true);
    const opt = new Adam([p], { lr: 0.1, beta1: 0.5 });
    const scaler = new DynamicLossScaler({ initScale: 1024 });
    opt.lossScaler = scaler;
    try {
      tidy(() => {
        // loss = sum(p^2)/2: gradient p, carried as p * 1024 by the scaled backward.
        scaler.scaleLoss(p.mul(p).sum().mul(0.5)).backward();
        assert.deepStrictEqual([...p.grad!.toFloat32Array()], [1024, 2048, 3072, 4096]);
        opt.step();
      });
      // Unscaled before the update (Adam's first step moves each value by lr against the sign of its gradient).
      assert.deepStrictEqual([...p.toFloat32Array()].map((v) => +v.toFixed(4)), [0.9, 1.9, 2.9, 3.9]);
      assert.strictEqual(scaler.scale, 1024);
      opt.zeroGrad();
      tidy(() => {
        scaler.scaleLoss(p.mul(Infinity).sum()).backward();
        opt.step();
      });
      assert.deepStrictEqual([...p.toFloat32Array()].map((v) => +v.toFixed(4)), [0.9, 1.9, 2.9, 3.9], 'the overflowed step was skipped');
      assert.strictEqual(scaler.scale, 512);
      assert.strictEqual(scaler.skippedSteps, 1);
    } finally { p.dispose(); }
  });

  it("one backward feeding two optimizers (CUT's G and F) shares one scaler: both steps taken or skipped, one update", () => {
    const p = Tensor.fromFloat32Array(new Float32Array([1, 2]), [2]).setRequiresGrad(true);
    const q = Tensor.fromFloat32Array(new Float32Array([3, 4]), [2]).setRequiresGrad(true);
    const optP = new Adam([p], { lr: 0.1, beta1: 0.5 }), optQ = new Adam([q], { lr: 0.1, beta1: 0.5 });
    const scaler = new DynamicLossScaler({ initScale: 1024, growthInterval: 1 });
    optP.lossScaler = optQ.lossScaler = scaler;
    const values = () => [...p.toFloat32Array(), ...q.toFloat32Array()].map((v) => +v.toFixed(4));
    try {
      // Only q's gradient overflows: p's step is skipped too, and the scale backs off once (not once per optimizer).
      tidy(() => { scaler.scaleLoss(p.sum().add(q.mul(Infinity).sum())).backward(); });
      assert.strictEqual(stepTogether([optP, optQ], scaler), false);
      assert.deepStrictEqual(values(), [1, 2, 3, 4]);
      assert.strictEqual(scaler.scale, 512);
      optP.zeroGrad(); optQ.zeroGrad();
      // A clean backward: both step on unscaled gradients, and the scale grows once (growthInterval 1).
      tidy(() => { scaler.scaleLoss(p.sum().add(q.sum())).backward(); });
      assert.strictEqual(stepTogether([optP, optQ], scaler), true);
      assert.deepStrictEqual(values(), [0.9, 1.9, 2.9, 3.9]);
      assert.strictEqual(scaler.scale, 1024);
    } finally { p.dispose(); q.dispose(); }
  });
});
