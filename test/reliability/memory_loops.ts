/**
 * The loops the memory test watches, run in a fresh child process so that its RSS is not the test runner's:
 *   node memory_loops.js train <iterations> <every>      pix2pix unet_128, ngf/ndf 4, 128x128, through createModel
 *   node memory_loops.js translate <calls> <every>       a resnet_6blocks (ngf 4) generator, 32x32 raw in and out
 * Prints one JSON line: { samples: [[step, rssBytes], ...], seconds }.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createModel, defineG, loadGenerator, manualSeed, parseOptions, saveNetworkCheckpoint, setNumThreads } from '../../src';

type Samples = Array<[number, number]>;

async function trainLoop(iterations: number, every: number, samples: Samples): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-rel-memtrain-'));
  try {
    const opt = parseOptions(['--dataroot', dir, '--model', 'pix2pix', '--netG', 'unet_128', '--ngf', '4', '--ndf', '4',
      '--load_size', '128', '--crop_size', '128', '--checkpoints_dir', dir, '--name', 'mem', '--seed', '1'], { isTrain: true });
    const model = createModel(opt);
    const size = 3 * 128 * 128;
    const A = new Float32Array(size).map((_, i) => Math.sin(i / 97) * 0.8);
    const B = new Float32Array(size).map((_, i) => Math.cos(i / 89) * 0.8);
    try {
      for (let i = 1; i <= iterations; i++) {
        model.setInput({ A: { data: A, shape: [1, 3, 128, 128] }, B: { data: B, shape: [1, 3, 128, 128] }, A_paths: ['a.png'], B_paths: ['b.png'] });
        model.optimizeParameters();
        const losses = model.getCurrentLosses();
        if (!Object.values(losses).every(Number.isFinite)) throw new Error(`non-finite loss at iteration ${i}: ${JSON.stringify(losses)}`);
        if (i % every === 0) samples.push([i, process.memoryUsage().rss]);
      }
    } finally {
      model.dispose();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function translateLoop(calls: number, every: number, samples: Samples): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-rel-memtranslate-'));
  try {
    manualSeed(3);
    const net = defineG({ netG: 'resnet_6blocks', ngf: 4 });
    const file = path.join(dir, 'g.pth');
    saveNetworkCheckpoint(net, file, { model: 'test' });
    net.dispose();
    const g = await loadGenerator(file);
    const pixels = { data: new Uint8Array(32 * 32 * 3).map((_, i) => (i * 37) % 256), width: 32, height: 32, channels: 3 as const };
    try {
      for (let i = 1; i <= calls; i++) {
        const out = await g.translate(pixels, { output: 'raw' });
        if (out.width !== 32 || out.height !== 32) throw new Error(`call ${i} returned ${out.width}x${out.height}`);
        if (i % every === 0) samples.push([i, process.memoryUsage().rss]);
      }
    } finally {
      g.dispose();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const [what, countText, everyText] = process.argv.slice(2);
  setNumThreads(Number(process.env.IMG2IMG_THREADS || 2));
  const samples: Samples = [];
  const started = Date.now();
  if (what === 'train') await trainLoop(Number(countText), Number(everyText), samples);
  else if (what === 'translate') await translateLoop(Number(countText), Number(everyText), samples);
  else throw new Error(`Expected train or translate for the loop but received ${what}`);
  process.stdout.write(`${JSON.stringify({ samples, seconds: (Date.now() - started) / 1000 })}\n`);
}

if (require.main === module) {
  main().catch((err) => { process.stderr.write(`${(err as Error).stack}\n`); process.exitCode = 1; });
}
