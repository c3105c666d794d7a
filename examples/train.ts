// Programmatic training: train() runs the training loop in a worker thread and reports here, on this thread, with
// plain data; this file keeps a loss history, writes the latest visuals as images (PPM) and stops on Ctrl-C (an
// AbortSignal), which saves 'latest' as `img2img train` does. Run with the flags of `img2img train`:
//   node dist/examples/train.js --dataroot ./datasets/facades --name facades --model pix2pix --direction BtoA [--visuals_dir DIR]
// In your app, import from 'torch-img2img' instead of '../src'.
import * as fs from 'fs';
import * as path from 'path';
import { train } from '../src';
import type { RawPixels, TrainResult } from '../src';

export interface ProgressOptions {
  /** Where the visuals of each display step are written (`<name>.ppm`, or .pgm for gray; overwritten); none when not given. */
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

/** Writes an 8-bit gray or RGB image as binary PGM/PPM: no dependency, and most image viewers open it. */
function writeNetpbm(file: string, img: RawPixels & { data: Uint8Array }): void {
  const header = `${img.channels === 1 ? 'P5' : 'P6'}\n${img.width} ${img.height}\n255\n`;
  fs.writeFileSync(file, Buffer.concat([Buffer.from(header, 'latin1'), img.data]));
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
        const file = path.join(opts.visualsDir!, `${name}.${img.channels === 1 ? 'pgm' : 'ppm'}`);
        writeNetpbm(file, img);
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
