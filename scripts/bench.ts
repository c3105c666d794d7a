// npm run bench: training and inference speed of the six reference rows (issue 6) plus quick small ones.
// A benchmark, not a test: warm-up, then N timed iterations; median/min/max, achieved GFLOP/s and its share of a
// Conv2d peak measured in the same run, peak RSS, threads. `--quick` runs only the small rows (CI uses it to prove
// the benchmark works), `--json` prints machine-readable results, `--device cuda:0` runs on a GPU.
// `--compare ref.json` takes the reference times from a side-by-side run of scripts/reference_bench.py --json on
// the same machine (instead of the issue's numbers) and judges each row by the issue's ratio (reference / goal).
// `--onnx` runs instead the rows comparing translate() on our addon with onnxruntime-node on the exported model.
// Mixed-precision rows (bf16, fp16) are timed where the device runs that precision natively and are skipped with
// the reason elsewhere (bf16 on a CPU without avx512_bf16/amx_bf16, fp16 on CPU); `--force_precision` times
// emulated bf16 anyway. Each is also judged against its fp32 row of the same run (`vsFp32`).
import * as fs from 'fs';
import * as os from 'os';
import { createModel } from '../src/models';
import { parseOptions } from '../src/plugins';
import { native } from '../src/native';
import { FidInception } from '../src/metrics/fid_inception';
import { defineG } from '../src/networks';
import type { GeneratorArch } from '../src/architectures';
import type { Device } from '../src/device';
import { getNumThreads, info, manualSeed, resolveDevice, setNumThreads } from '../src/runtime';
import { Tensor, noGrad } from '../src/tensor';
import { forwardFlops } from '../src/architectures';
import { trainStepFlops } from '../src/util/flops';
import { precisionRefusal } from '../src/precision';
import type { Precision } from '../src/precision';

interface Row {
  name: string;
  kind: 'train' | 'forward' | 'fid';
  /** fid rows: images per timed iteration. */
  images?: number;
  model?: 'pix2pix' | 'cycle_gan' | 'cut';
  /** cut rows: --CUT_mode. */
  cutMode?: 'CUT' | 'FastCUT';
  /** A generator architecture, or the FID Inception for the 'fid' rows. */
  netG: GeneratorArch | 'fid_inception_v3';
  size: number;
  ngf?: number;
  quick?: boolean;
  reference?: number;
  goal?: number;
  /** Mixed-precision rows: the autocast dtype (default fp32). */
  precision?: Precision;
  /** The fp32 row this one is compared with, and the speed-up over it the issue asks for. */
  fp32Row?: string;
  goalOverFp32?: number;
}

const ROWS: Row[] = [
  { name: 'train pix2pix, unet_256 @ 256x256', kind: 'train', model: 'pix2pix', netG: 'unet_256', size: 256, reference: 1.72, goal: 0.6 },
  { name: 'train pix2pix, unet_128 @ 128x128', kind: 'train', model: 'pix2pix', netG: 'unet_128', size: 128, reference: 0.86, goal: 0.3 },
  { name: 'train cycle_gan, resnet_9blocks @ 256x256', kind: 'train', model: 'cycle_gan', netG: 'resnet_9blocks', size: 256, reference: 12.3, goal: 9 },
  { name: 'train cut (CUT), resnet_9blocks @ 256x256', kind: 'train', model: 'cut', cutMode: 'CUT', netG: 'resnet_9blocks', size: 256 },
  { name: 'train cut (FastCUT), resnet_9blocks @ 256x256', kind: 'train', model: 'cut', cutMode: 'FastCUT', netG: 'resnet_9blocks', size: 256 },
  { name: 'train cycle_gan, resnet_9blocks @ 128x128', kind: 'train', model: 'cycle_gan', netG: 'resnet_9blocks', size: 128, reference: 3.94, goal: 2.5 },
  { name: 'one unet_256 forward @ 256x256', kind: 'forward', netG: 'unet_256', size: 256, reference: 0.34, goal: 0.12 },
  { name: 'one resnet_9blocks forward @ 256x256', kind: 'forward', netG: 'resnet_9blocks', size: 256, reference: 0.74, goal: 0.45 },
  { name: 'quick: train pix2pix, unet_128 ngf 16 @ 128', kind: 'train', model: 'pix2pix', netG: 'unet_128', size: 128, ngf: 16, quick: true },
  { name: 'quick: train cycle_gan, resnet_6blocks ngf 8 @ 64', kind: 'train', model: 'cycle_gan', netG: 'resnet_6blocks', size: 64, ngf: 8, quick: true },
  { name: 'quick: train cut (CUT), resnet_6blocks ngf 8 @ 64', kind: 'train', model: 'cut', cutMode: 'CUT', netG: 'resnet_6blocks', size: 64, ngf: 8, quick: true },
  { name: 'quick: resnet_9blocks ngf 16 forward @ 128', kind: 'forward', netG: 'resnet_9blocks', size: 128, ngf: 16, quick: true },
  // Issue 20: on a bf16-capable CPU, cycle_gan training >= 1.8x our fp32 step and >= 2.3x the reference
  // (12.3 s / 2.3), resnet_9blocks inference >= 2x our fp32 forward.
  { name: 'train cycle_gan, resnet_9blocks @ 256x256, bf16', kind: 'train', model: 'cycle_gan', netG: 'resnet_9blocks', size: 256, precision: 'bf16', reference: 12.3, goal: 12.3 / 2.3, fp32Row: 'train cycle_gan, resnet_9blocks @ 256x256', goalOverFp32: 1.8 },
  { name: 'train cycle_gan, resnet_9blocks @ 128x128, bf16', kind: 'train', model: 'cycle_gan', netG: 'resnet_9blocks', size: 128, precision: 'bf16', reference: 3.94, goal: 3.94 / 2.3, fp32Row: 'train cycle_gan, resnet_9blocks @ 128x128', goalOverFp32: 1.8 },
  { name: 'train cut (CUT), resnet_9blocks @ 256x256, bf16', kind: 'train', model: 'cut', cutMode: 'CUT', netG: 'resnet_9blocks', size: 256, precision: 'bf16', fp32Row: 'train cut (CUT), resnet_9blocks @ 256x256' },
  { name: 'train cut (FastCUT), resnet_9blocks @ 256x256, bf16', kind: 'train', model: 'cut', cutMode: 'FastCUT', netG: 'resnet_9blocks', size: 256, precision: 'bf16', fp32Row: 'train cut (FastCUT), resnet_9blocks @ 256x256' },
  { name: 'train pix2pix, unet_128 @ 128x128, bf16', kind: 'train', model: 'pix2pix', netG: 'unet_128', size: 128, precision: 'bf16', fp32Row: 'train pix2pix, unet_128 @ 128x128' },
  { name: 'one resnet_9blocks forward @ 256x256, bf16', kind: 'forward', netG: 'resnet_9blocks', size: 256, precision: 'bf16', fp32Row: 'one resnet_9blocks forward @ 256x256', goalOverFp32: 2 },
  { name: 'train cycle_gan, resnet_9blocks @ 256x256, fp16', kind: 'train', model: 'cycle_gan', netG: 'resnet_9blocks', size: 256, precision: 'fp16', fp32Row: 'train cycle_gan, resnet_9blocks @ 256x256' },
  { name: 'one resnet_9blocks forward @ 256x256, fp16', kind: 'forward', netG: 'resnet_9blocks', size: 256, precision: 'fp16', fp32Row: 'one resnet_9blocks forward @ 256x256' },
  { name: 'quick: train cycle_gan, resnet_6blocks ngf 8 @ 64, bf16', kind: 'train', model: 'cycle_gan', netG: 'resnet_6blocks', size: 64, ngf: 8, quick: true, precision: 'bf16', fp32Row: 'quick: train cycle_gan, resnet_6blocks ngf 8 @ 64' },
  { name: 'quick: resnet_9blocks ngf 16 forward @ 128, bf16', kind: 'forward', netG: 'resnet_9blocks', size: 128, ngf: 16, quick: true, precision: 'bf16', fp32Row: 'quick: resnet_9blocks ngf 16 forward @ 128' },
  { name: 'FID features of 32 images @ 256x256', kind: 'fid', netG: 'fid_inception_v3', size: 256, images: 32 },
  { name: 'quick: FID features of 4 images @ 256x256', kind: 'fid', netG: 'fid_inception_v3', size: 256, images: 4, quick: true },
];

/** torchvision's figure for Inception v3 at 299x299: 5.71 G multiply-adds per image (2 FLOP each). */
const INCEPTION_FLOP_PER_IMAGE = 2 * 5.71e9;

interface Result {
  name: string; median: number; min: number; max: number; iters: number; gflop: number; gflops: number;
  peakShare: number; reference?: number; goal?: number; speedup?: number; meetsGoal?: boolean;
  precision?: Precision; vsFp32?: number; meetsFp32Goal?: boolean;
  /** Why a mixed-precision row did not run on this device. */
  skipped?: string;
}

function arg(args: string[], flag: string, def: string): string {
  const i = args.indexOf(flag);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
}

function median(xs: number[]): number { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; }

function randomImage(size: number, device: string): { data: Float32Array; shape: number[] } {
  const data = new Float32Array(3 * size * size);
  for (let i = 0; i < data.length; i++) data[i] = Math.random() * 2 - 1;
  void device;
  return { data, shape: [1, 3, size, size] };
}

async function benchRow(row: Row, device: string, warmup: number, iters: number, force: boolean): Promise<{ times: number[]; flops: number }> {
  const precision = row.precision ?? 'fp32';
  manualSeed(0);
  const ngf = row.ngf ?? 64;
  if (row.kind === 'fid') {
    // Timing does not depend on the weights' values: libtorch's default init stands in for the weights file.
    const inception = FidInception.withDefaultInit({ device });
    const images = Array.from({ length: row.images! }, () => {
      const data = new Uint8Array(row.size * row.size * 3);
      for (let i = 0; i < data.length; i++) data[i] = Math.floor(Math.random() * 256);
      return { data, width: row.size, height: row.size, channels: 3 as const, bitDepth: 8 as const };
    });
    const times: number[] = [];
    try {
      for (let i = 0; i < warmup + iters; i++) {
        const t0 = process.hrtime.bigint();
        (await inception.features(images, { batchSize: 16 })).dispose();
        if (i >= warmup) times.push(Number(process.hrtime.bigint() - t0) / 1e9);
      }
    } finally {
      inception.dispose();
    }
    return { times, flops: INCEPTION_FLOP_PER_IMAGE * row.images! };
  }
  if (row.kind === 'forward') {
    const norm = row.netG.startsWith('unet') ? 'batch' : 'instance';
    const g = defineG({ netG: row.netG as GeneratorArch, ngf, norm, device: device as Device }); // 'fid' rows returned above
    g.eval();
    g.precision = precision;
    const x = Tensor.fromFloat32Array(randomImage(row.size, device).data, [1, 3, row.size, row.size], device);
    const times: number[] = [];
    for (let i = 0; i < warmup + iters; i++) {
      const t0 = process.hrtime.bigint();
      const y = await g.forwardAsync(x, { outputDevice: 'cpu' });
      y.dispose();
      if (i >= warmup) times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    x.dispose(); g.dispose();
    return { times, flops: forwardFlops({ kind: 'G', arch: row.netG, inputNc: 3, outputNc: 3, width: ngf, norm }, row.size, row.size) };
  }
  const argv = ['--dataroot', 'unused', '--model', row.model!, '--netG', row.netG, '--ngf', String(ngf), '--ndf', String(ngf),
    '--crop_size', String(row.size), '--load_size', String(row.size), '--device', device, '--checkpoints_dir', os.tmpdir(), '--seed', '0',
    '--precision', precision, ...(force ? ['--force_precision'] : []),
    // CUT's defaults (netF_nc, num_patches 256) at full width; scaled down with the quick rows' ngf 8, as reference_cut_bench.py.
    ...(row.model === 'cut' ? ['--CUT_mode', row.cutMode!, ...(ngf < 64 ? ['--netF_nc', '32', '--num_patches', '16'] : [])] : [])];
  const model = createModel(parseOptions(argv));
  const times: number[] = [];
  try {
    // CUT builds F on its first batch (outside the timed steps, as its train.py); a no-op for the other models.
    model.dataDependentInitialize({ A: randomImage(row.size, device), B: randomImage(row.size, device) });
    for (let i = 0; i < warmup + iters; i++) {
      const A = randomImage(row.size, device), B = randomImage(row.size, device);
      const t0 = process.hrtime.bigint();
      model.setInput({ A, B });
      model.optimizeParameters();
      model.getCurrentLosses(); // forces the step to finish on asynchronous devices
      if (i >= warmup) times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
  } finally {
    model.dispose();
  }
  const norm = row.model === 'pix2pix' ? 'batch' : 'instance';
  const cut = row.model === 'cut' ? { antialias: true, antialiasUp: true } : {};
  const g = { kind: 'G' as const, arch: row.netG, inputNc: 3, outputNc: 3, width: ngf, norm, ...cut };
  const d = { kind: 'D' as const, arch: 'basic', inputNc: row.model === 'pix2pix' ? 6 : 3, width: ngf, nLayersD: 3, norm, ...(row.model === 'cut' ? { antialias: true } : {}) };
  return { times, flops: trainStepFlops(row.model!, g, d, row.size, row.size, row.cutMode !== 'FastCUT') };
}

export async function main(args: string[]): Promise<number> {
  const quick = args.includes('--quick');
  const json = args.includes('--json');
  const device = resolveDevice(arg(args, '--device', 'cpu'));
  const threads = Number(arg(args, '--threads', '0'));
  setNumThreads(threads);
  if (device.startsWith('cuda')) native().setCudnnBenchmark(true); // fixed sizes: let cuDNN pick its fastest algorithms
  const only = arg(args, '--only', '');
  const warmup = Number(arg(args, '--warmup', quick ? '1' : '2'));
  const iters = Number(arg(args, '--iters', quick ? '2' : '5'));
  const compareFile = arg(args, '--compare', '');
  const measuredRef = new Map<string, number>();
  if (compareFile) {
    let parsed: { rows?: Array<{ name: string; median_s: number }> };
    try { parsed = JSON.parse(fs.readFileSync(compareFile, 'utf8')); } catch (e) {
      throw new Error(`--compare ${compareFile}: expected the JSON output of scripts/reference_bench.py --json (${(e as Error).message})`);
    }
    for (const r of parsed.rows ?? []) measuredRef.set(r.name, r.median_s);
  }
  if (args.includes('--onnx')) return onnxRows(args, json, warmup, iters);
  const force = args.includes('--force_precision');
  // `--only` picks the rows whose name contains it, or just the one it names exactly.
  const exact = ROWS.some((r) => r.name === only);
  const rows = ROWS.filter((r) => (quick ? r.quick : !r.quick || args.includes('--all')))
    .filter((r) => !only || (exact ? r.name === only : r.name.includes(only)));
  // Conv2d peak on this machine (256->256 3x3 on 64x64), measured in the same run.
  const convSeconds = native().benchConv(256, 256, 3, 64, 64, quick ? 3 : 10);
  const peak = (2 * 256 * 256 * 9 * 64 * 64) / convSeconds / 1e9;
  const rt = info();
  const results: Result[] = [];
  if (!json) {
    console.log(`torch-img2img benchmark: libtorch ${rt.torchVersion}, device ${device}, ${getNumThreads()} threads, conv peak ${peak.toFixed(1)} GFLOP/s`);
  }
  for (const row of rows) {
    const refused = row.precision ? precisionRefusal(row.precision, device, { force }) : null;
    if (refused) {
      if (!json) console.log(`${row.name.padEnd(48)} skipped: ${refused}`);
      results.push({ name: row.name, median: NaN, min: NaN, max: NaN, iters: 0, gflop: 0, gflops: 0, peakShare: 0, precision: row.precision, skipped: refused });
      continue;
    }
    const { times, flops } = await benchRow(row, device, warmup, iters, force);
    const med = median(times);
    const r: Result = {
      name: row.name, median: med, min: Math.min(...times), max: Math.max(...times), iters: times.length,
      gflop: flops / 1e9, gflops: flops / med / 1e9, peakShare: flops / med / 1e9 / peak,
      reference: row.reference, goal: row.goal,
    };
    if (row.reference) {
      // The goal is a speed-up over the reference; with a side-by-side reference run, judge by that ratio.
      // A mixed-precision row is judged against the reference's fp32 step (the reference has no mixed precision).
      const measured = measuredRef.get(row.name) ?? (row.fp32Row ? measuredRef.get(row.fp32Row) : undefined);
      const ref = measured ?? row.reference;
      const goal = measured !== undefined ? ref * (row.goal! / row.reference) : row.goal!;
      r.reference = ref; r.goal = goal; r.speedup = ref / med; r.meetsGoal = med <= goal;
    }
    const fp32 = row.fp32Row ? results.find((x) => x.name === row.fp32Row && x.iters > 0) : undefined;
    if (row.precision) r.precision = row.precision;
    if (fp32) {
      r.vsFp32 = fp32.median / med;
      if (row.goalOverFp32) r.meetsFp32Goal = r.vsFp32 >= row.goalOverFp32;
    }
    results.push(r);
    if (!json) {
      console.log(`${row.name.padEnd(48)} median ${med.toFixed(3)} s (min ${r.min.toFixed(3)}, max ${r.max.toFixed(3)}, n=${r.iters})  ` +
        `${r.gflops.toFixed(1)} GFLOP/s = ${(100 * r.peakShare).toFixed(0)}% of peak` +
        (row.reference ? `  | reference ${r.reference!.toFixed(3)} s${r.reference !== row.reference ? ' (measured)' : ''}, goal <= ${r.goal!.toFixed(3)} s: ` +
          `${r.meetsGoal ? 'met' : 'NOT met'} (${r.speedup!.toFixed(2)}x, goal ${(row.reference / row.goal!).toFixed(2)}x)` : '') +
        (r.vsFp32 ? `  | ${r.vsFp32.toFixed(2)}x our fp32 row${row.goalOverFp32 ? ` (goal ${row.goalOverFp32}x: ${r.meetsFp32Goal ? 'met' : 'NOT met'})` : ''}` : '') +
        (row.precision === 'bf16' && force && device === 'cpu' && !info().cpuBf16.native ? '  [forced: emulated bf16]' : ''));
    }
  }
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  if (json) console.log(JSON.stringify({ device, threads: getNumThreads(), torchVersion: rt.torchVersion, convPeakGflops: peak, peakRssMb, results }, null, 2));
  else console.log(`peak RSS ${peakRssMb.toFixed(0)} MB`);
  return 0;
}

/** `--onnx`: translate() with our addon vs onnxruntime-node on the exported model (scripts/bench_onnx.ts). */
async function onnxRows(args: string[], json: boolean, warmup: number, iters: number): Promise<number> {
  const { ONNX_ROWS, benchOnnxRow } = await import('./bench_onnx');
  const only = arg(args, '--only', '');
  const results = [];
  for (const row of ONNX_ROWS.filter((r) => !only || r.name.includes(only))) {
    const r = await benchOnnxRow(row, warmup, iters);
    results.push(r);
    if (!json) {
      console.log(`${r.name.padEnd(30)} translate with our addon ${r.addon.toFixed(3)} s | onnxruntime-node on the exported model ` +
        `${r.onnxruntime.toFixed(3)} s | onnxruntime / addon ${r.ratio.toFixed(2)}x (${r.threads} threads)`);
    }
  }
  if (json) console.log(JSON.stringify({ threads: getNumThreads(), onnx: results }, null, 2));
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((c) => { process.exitCode = c; }, (e) => { console.error(`bench: ${(e as Error).message}`); process.exitCode = 1; });
}
