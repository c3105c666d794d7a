// Programmatic training: train() runs the training loop in a worker thread and reports here, on this thread, with
// plain data; this file keeps a loss history, writes the latest visuals as PNGs and stops on Ctrl-C (an
// AbortSignal), which saves 'latest' as `img2img train` does. Run with the flags of `img2img train`:
//   node dist/examples/train.js --dataroot ./datasets/facades --name facades --model pix2pix --direction BtoA [--visuals_dir DIR]
// In your app, import from 'torch-img2img' instead of '../src'.
import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';
import { train } from '../src';
import type { RawPixels, TrainResult } from '../src';

export interface ProgressOptions {
  /** Where the visuals of each display step are written (`<name>.png`, overwritten); none when not given. */
  visualsDir?: string;
  /** Aborting stops after the current iteration and saves 'latest'. */
  signal?: AbortSignal;
  /** Where progress lines go (default: stdout). */
  log?(line: string): void;
}

export interface TrainingReport {
  result: TrainResult;
  /** The losses of every print step (every --print_freq images). */
  history: Array<{ totalIters: number; losses: Record<string, number> }>;
  /** The visual files written, by visual name. */
  visuals: string[];
}

/** Writes an 8-bit gray or RGB image as an RGBA PNG (pngjs's simplest input). */
function writePng(file: string, img: RawPixels & { data: Uint8Array }): void {
  const png = new PNG({ width: img.width, height: img.height });
  for (let p = 0; p < img.width * img.height; p++) {
    for (let k = 0; k < 3; k++) png.data[p * 4 + k] = img.data[p * img.channels + (img.channels === 1 ? 0 : k)];
    png.data[p * 4 + 3] = 255;
  }
  fs.writeFileSync(file, PNG.sync.write(png));
}

export async function trainWithProgress(argv: readonly string[], opts: ProgressOptions = {}): Promise<TrainingReport> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const history: TrainingReport['history'] = [];
  const written = new Set<string>();
  let first: { at: number; totalIters: number } | null = null;
  const result = await train(argv, {
    onStart: (s) => {
      log(`training ${s.opt.model} (${s.opt.netG}) on ${s.datasetSize} images, epochs ${s.startEpoch}-${s.lastEpoch}`);
    },
    onIteration: (i) => {
      first ??= { at: Date.now(), totalIters: i.totalIters };
      if (!i.losses) return;
      history.push({ totalIters: i.totalIters, losses: i.losses });
      const msPerImage = (Date.now() - first.at) / Math.max(1, i.totalIters - first.totalIters);
      const left = (i.lastEpoch - i.epoch) * i.epochSize + (i.epochSize - i.epochIter);
      const eta = Math.round(left * msPerImage / 1000);
      const losses = Object.entries(i.losses).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ');
      log(`epoch ${i.epoch}, ${i.epochIter}/${i.epochSize}: ${losses} (lr ${i.lr.toExponential(2)}, about ${eta} s left)`);
    },
    onVisuals: opts.visualsDir ? (v) => {
      fs.mkdirSync(opts.visualsDir!, { recursive: true });
      for (const [name, img] of v.visuals) {
        const file = path.join(opts.visualsDir!, `${name}.png`);
        writePng(file, img);
        written.add(file);
      }
    } : undefined,
    onEpoch: (e) => log(`end of epoch ${e.epoch} after ${e.seconds.toFixed(1)} s, lr ${e.lr.toExponential(2)}`),
    log: () => undefined, // the loop's own lines (options, network sizes) are in the run's loss_log.txt and opt file
  }, { signal: opts.signal });
  log(result.interrupted ? `stopped at ${result.totalIters} images; latest saved` : `done: ${result.epochs} epochs, ${result.totalIters} images`);
  return { result, history, visuals: [...written] };
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--visuals_dir');
  const visualsDir = at >= 0 ? argv.splice(at, 2)[1] : undefined;
  const ac = new AbortController();
  process.once('SIGINT', () => { console.log('Ctrl-C: finishing the current iteration, then saving latest'); ac.abort(); });
  trainWithProgress(argv, { visualsDir, signal: ac.signal }).then(
    (r) => { process.exitCode = r.result.interrupted ? 130 : 0; },
    (e) => { console.error((e as Error).message); process.exitCode = 1; });
}
