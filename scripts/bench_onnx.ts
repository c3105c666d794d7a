// bench --onnx: the same generator translated by our addon (translate(), raw pixels in and out) and by
// onnxruntime-node on its exported model (the same pre/post in JS: ToTensor + Normalize, tensor2im), at the same
// thread count. Random weights at ngf 64 (speed does not depend on their values).
import type { GeneratorArch, Norm } from '../src/architectures';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { saveNetworkCheckpoint } from '../src/checkpoint/network_checkpoint';
import { tensorToImage, toNormalizedTensor } from '../src/data/transforms';
import { exportOnnx } from '../src/export/onnx_export';
import { loadGenerator, RawPixels } from '../src/inference/generator';
import { defineG } from '../src/networks';
import { getNumThreads, manualSeed } from '../src/runtime';

export interface OnnxBenchRow { name: string; netG: GeneratorArch; norm: Norm; size: number }

export const ONNX_ROWS: OnnxBenchRow[] = [
  { name: 'unet_256 @ 256x256', netG: 'unet_256', norm: 'batch', size: 256 },
  { name: 'resnet_9blocks @ 256x256', netG: 'resnet_9blocks', norm: 'instance', size: 256 },
  { name: 'resnet_9blocks @ 1024x1024', netG: 'resnet_9blocks', norm: 'instance', size: 1024 },
];

export interface OnnxBenchResult { name: string; threads: number; addon: number; onnxruntime: number; ratio: number }

function median(xs: number[]): number { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; }

async function time(n: number, warmup: number, fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < warmup + n; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    if (i >= warmup) times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return median(times);
}

export async function benchOnnxRow(row: OnnxBenchRow, warmup: number, iters: number): Promise<OnnxBenchResult> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort = require('onnxruntime-node') as typeof import('onnxruntime-node'); // a devDependency: loaded only here
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-bench-onnx-'));
  const threads = getNumThreads();
  try {
    manualSeed(0);
    const net = defineG({ netG: row.netG, ngf: 64, norm: row.norm });
    saveNetworkCheckpoint(net, path.join(dir, 'g.safetensors'));
    net.dispose();
    const g = await loadGenerator(path.join(dir, 'g.safetensors'), { device: 'cpu' });
    exportOnnx(g, path.join(dir, 'g.onnx'));
    const s = await ort.InferenceSession.create(path.join(dir, 'g.onnx'), { intraOpNumThreads: threads, interOpNumThreads: 1 });
    const n = row.size;
    const pixels: RawPixels = { data: new Uint8Array(n * n * 3).map(() => Math.floor(Math.random() * 256)), width: n, height: n, channels: 3 };
    const img = { data: pixels.data as Uint8Array, width: n, height: n, channels: 3 as const, bitDepth: 8 as const };
    const addon = await time(iters, warmup, () => g.translate(pixels, { output: 'raw' }));
    const onnxruntime = await time(iters, warmup, async () => {
      const x = toNormalizedTensor(img);
      const r = await s.run({ input: new ort.Tensor('float32', x, [1, 3, n, n]) });
      return tensorToImage(r.output.data as Float32Array, 3, n, n);
    });
    await s.release();
    g.dispose();
    return { name: row.name, threads, addon, onnxruntime, ratio: onnxruntime / addon };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
