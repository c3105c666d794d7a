// Translates every image of a folder with a pool of generators, each running in its own worker thread, with a time
// limit per image and a signal that stops the rest (Ctrl-C when run from the command line):
//   node dist/examples/worker.js <checkpoint dir or file> <input folder> <output folder> [pool size] [ms per image]
// Forwards of all generators in a process take turns (libtorch uses every core for one), so a pool of 2 pays off by
// overlapping one image's decoding and encoding with another's forward; more rarely helps.
// In your app, import from 'torch-img2img' instead of '../src'.
import * as fs from 'fs';
import * as path from 'path';
import { AbortError, Generator, ImageFileError, loadGenerator } from '../src';

const IMAGE = /\.(png|jpe?g)$/i;

export interface FolderResult {
  /** Output files written, in the order they finished. */
  written: string[];
  /** Inputs refused as images (unreadable, corrupt, too large), with the decoder's message. */
  refused: Array<{ file: string; message: string }>;
  /** Inputs stopped by their time limit or by `signal`. */
  stopped: string[];
}

export interface FolderOptions {
  /** Generators (worker threads) translating at once (default 2). */
  pool?: number;
  /** Time limit per image in ms (default: none). */
  timeoutMs?: number;
  /** Aborting stops the running translations (before their next tile) and skips the images not started. */
  signal?: AbortSignal;
}

export async function translateFolder(checkpoint: string, inputDir: string, outputDir: string, opts: FolderOptions = {}): Promise<FolderResult> {
  const files = fs.readdirSync(inputDir).filter((f) => IMAGE.test(f)).sort();
  fs.mkdirSync(outputDir, { recursive: true });
  const pool: Generator[] = await Promise.all(Array.from({ length: Math.max(1, opts.pool ?? 2) }, () => loadGenerator(checkpoint)));
  const result: FolderResult = { written: [], refused: [], stopped: [] };
  let next = 0;
  // Each generator takes the next file when it is done with its own: a queue shared by the pool.
  const drain = async (g: Generator): Promise<void> => {
    while (next < files.length) {
      const file = files[next++];
      const signals = [opts.signal, opts.timeoutMs ? AbortSignal.timeout(opts.timeoutMs) : undefined].filter((s): s is AbortSignal => !!s);
      try {
        const png = await g.translate(path.join(inputDir, file), { output: 'png', signal: signals.length ? AbortSignal.any(signals) : undefined });
        const out = path.join(outputDir, file.replace(IMAGE, '.png'));
        fs.writeFileSync(out, png);
        result.written.push(out);
      } catch (e) {
        if (e instanceof AbortError) result.stopped.push(file);
        else if (e instanceof ImageFileError) result.refused.push({ file, message: e.message });
        else throw e;
      }
    }
  };
  try {
    await Promise.all(pool.map(drain));
  } finally {
    await Promise.all(pool.map((g) => g.dispose()));
  }
  return result;
}

if (require.main === module) {
  const [checkpoint, input, output, poolSize, ms] = process.argv.slice(2);
  if (!checkpoint || !input || !output) {
    console.error('usage: node dist/examples/worker.js <checkpoint dir or file> <input folder> <output folder> [pool size] [ms per image]');
    process.exit(2);
  }
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  translateFolder(checkpoint, input, output, { pool: poolSize ? Number(poolSize) : undefined, timeoutMs: ms ? Number(ms) : undefined, signal: ac.signal })
    .then((r) => {
      for (const { file, message } of r.refused) console.error(`${file}: ${message}`);
      console.log(`${r.written.length} written to ${output}, ${r.refused.length} refused, ${r.stopped.length} stopped`);
    }, (e) => { console.error((e as Error).message); process.exitCode = 1; });
}
