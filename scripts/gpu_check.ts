// The CUDA checks of scripts/gpu-check.sh: network parity on cuda:0 (fixtures, tolerance 1e-3 for cuDNN's
// algorithm choices), the three-step training parity on cuda:0, the same in bf16 and fp16 autocast (issue 20: forwards
// near fp32, training steps finite and near the fp32 fixture, the fp16 loss scaler's scale), and a short timing.
// Prints a summary; on a machine without CUDA it says so and exits 3.
import * as fs from 'fs';
import * as path from 'path';
import { readSafetensorsRaw } from '../src/checkpoint';
import { createModel } from '../src/models';
import { parseOptions } from '../src/plugins';
import { defineD, defineG } from '../src/networks';
import { info, manualSeed } from '../src/runtime';
import { noGrad, Tensor } from '../src/tensor';

const SHARED = process.env.IMG2IMG_SHARED || path.resolve(__dirname, '../../../shared');

// Mixed-precision bounds, as a share of the output's range: bf16 measured up to 13 % on CPU on freshly initialised
// networks (the norms amplify rounding; bound 25 %, as test/unit/native/mixed_precision.test.ts); fp16 keeps 3 more
// mantissa bits, 8x less rounding (bound 5 %). Unmeasured on CUDA until this runs there.
const MIXED_TOLERANCE = { bf16: 0.25, fp16: 0.05 } as const;
// Relative loss difference over the fixtures' three steps: fp32 1e-2 (cuDNN); bf16 measured 0.1 % on CPU in pix2pix
// (bound 3 %, on top of cuDNN's own 1e-2), fp16 2 %.
const TRAIN_TOLERANCE = { fp32: 1e-2, bf16: 0.03, fp16: 0.02 } as const;

function floats(b: Buffer): Float32Array { return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); }
function maxDiff(a: Float32Array, b: Float32Array): number { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m; }

export async function main(): Promise<number> {
  const rt = info();
  console.log(`libtorch ${rt.torchVersion}, CUDA available: ${rt.cudaAvailable}, devices: ${rt.deviceCount}`);
  if (!rt.cudaAvailable) { console.log('no CUDA: this build or machine has no CUDA device; nothing to check'); return 3; }
  const device = 'cuda:0';
  let failures = 0;
  const netDir = path.join(SHARED, 'fixtures/parity/networks');
  for (const name of fs.readdirSync(netDir).sort()) {
    const c = JSON.parse(fs.readFileSync(path.join(netDir, name, 'case.json'), 'utf8'));
    const a = c.define_args;
    const net = c.network === 'G'
      ? defineG({ netG: a.netG, inputNc: a.input_nc, outputNc: a.output_nc, ngf: a.ngf, norm: a.norm, useDropout: a.use_dropout, device })
      : defineD({ netD: a.netD, inputNc: a.input_nc, ndf: a.ndf, nLayersD: a.n_layers_D, norm: a.norm, device });
    net.loadStateDict(readSafetensorsRaw(path.join(netDir, name, 'weights.safetensors')).tensors);
    const io = readSafetensorsRaw(path.join(netDir, name, 'io.safetensors')).tensors;
    const x = Tensor.fromBytes(io.get('input')!.data, 'float32', io.get('input')!.shape, device);
    net.eval();
    const want = floats(io.get('output_eval')!.data);
    const d = maxDiff(noGrad(() => net.forward(x)).toFloat32Array(), want);
    const ok = d <= 1e-3;
    if (!ok) failures++;
    console.log(`network ${name} on ${device}: eval max|diff| ${d.toExponential(2)} ${ok ? 'ok' : 'FAIL'}`);
    const range = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (const precision of ['bf16', 'fp16'] as const) {
      net.precision = precision;
      const dp = maxDiff(noGrad(() => net.forward(x)).toFloat32Array(), want);
      net.precision = 'fp32';
      const okP = dp <= MIXED_TOLERANCE[precision] * range;
      if (!okP) failures++;
      console.log(`network ${name} on ${device} ${precision}: eval max|diff| ${dp.toExponential(2)} (${(100 * dp / range).toFixed(2)} % of range) ${okP ? 'ok' : 'FAIL'}`);
    }
    net.dispose(); x.dispose();
  }
  const trainDir = path.join(SHARED, 'fixtures/parity/train');
  for (const name of fs.readdirSync(trainDir).sort()) for (const precision of ['fp32', 'bf16', 'fp16'] as const) {
    const c = JSON.parse(fs.readFileSync(path.join(trainDir, name, 'case.json'), 'utf8'));
    const model = createModel(parseOptions([...c.command_line, '--device', device, '--checkpoints_dir', '/tmp/gpu-check', '--precision', precision]));
    const init = readSafetensorsRaw(path.join(trainDir, name, 'initial_weights.safetensors')).tensors;
    for (const n of model.modelNames) {
      const p = `net${n}.`;
      model.networks[n].loadStateDict(new Map([...init].filter(([k]) => k.startsWith(p)).map(([k, v]) => [k.slice(p.length), v])));
    }
    const steps = readSafetensorsRaw(path.join(trainDir, name, 'steps.safetensors')).tensors;
    manualSeed(3);
    let worst = 0, finite = true;
    for (let s = 0; s < c.steps; s++) {
      const A = steps.get(`step${s}.A`)!, B = steps.get(`step${s}.B`)!;
      model.setInput({ A: { data: floats(A.data), shape: A.shape }, B: { data: floats(B.data), shape: B.shape } });
      model.optimizeParameters();
      const losses = model.getCurrentLosses();
      for (const [k, ref] of Object.entries(c.losses[s] as Record<string, number>)) {
        finite &&= Number.isFinite(losses[k]);
        worst = Math.max(worst, Math.abs(losses[k] - ref) / Math.max(Math.abs(ref), 1e-3));
      }
    }
    // Dropout masks come from the CUDA generator on CUDA, so pix2pix with dropout is not expected to match the CPU fixture.
    const ok = finite && (worst <= TRAIN_TOLERANCE[precision] || name.includes('dropout'));
    if (!ok) failures++;
    const scaler = model.optimizers[0]?.lossScaler;
    console.log(`train ${name} on ${device} ${precision}: worst relative loss diff ${worst.toExponential(2)} ${ok ? 'ok' : 'FAIL'}` +
      `${scaler ? ` (loss scale ${scaler.scale}, ${scaler.skippedSteps} skipped)` : ''}${name.includes('dropout') ? ' (dropout masks differ on CUDA: informational)' : ''}`);
    model.dispose();
  }
  console.log(failures ? `${failures} CUDA check(s) FAILED` : 'all CUDA checks passed');
  return failures ? 1 : 0;
}

if (require.main === module) main().then((c) => { process.exitCode = c; }, (e) => { console.error(e); process.exitCode = 1; });
