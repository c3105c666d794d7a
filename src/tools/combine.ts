/**
 * `img2img combine`: the reference's datasets/combine_A_and_B.py. For every split folder of --fold_A
 * (train, val, test, …), each image of A/<split> with a same-named partner in B/<split> (with --use_AB:
 * `x_A.ext` ↔ `x_B.ext`, written as `x.ext`) becomes one image A|B side by side in --fold_AB/<split>, the
 * layout pix2pix's aligned dataset reads. Upstream's script crashes on its first line of work (it uses
 * `Path` without importing it); this one also names every pair it could not combine, and why.
 *
 * Pairs are decoded, joined and encoded in worker threads (--no_multiprocessing: one at a time here).
 * The output keeps the input's format by extension, as cv2.imwrite does: JPEG at quality 95 (OpenCV's
 * default), PNG, PPM or BMP; always 8-bit RGB.
 */
import * as fs from 'fs';
import * as path from 'path';
import { RawImage8 } from '../data/image';
import { encodeJpeg, encodePng, readImageFile, toRGB8 } from '../data/image_io';
import { DEFAULT_MAX_IMAGE_PIXELS } from '../data/image_io';
import { isImageFile, sortLikePython } from '../data/make_dataset';
import { expected } from '../options/option_errors';
import { OptionParser } from '../options/option_parser';
import { writeFileAtomicAsync } from '../util/atomic_write';
import {
  counter, defaultWorkerCount, listSome, parseToolArgs, plural, PROCESS_IO, runParallel, runTool, serveToolWorker, ToolIO,
} from './tool_args';

/** OpenCV's default JPEG quality (cv2.imwrite without IMWRITE_JPEG_QUALITY). */
export const COMBINE_JPEG_QUALITY = 95;

/** One side-by-side image to make: A on the left, B on the right, written to `out`. */
export interface PairJob {
  a: string;
  b: string;
  out: string;
  jpegQuality: number;
  maxPixels: number;
}

export type PairResult = { ok: true; out: string; width: number; height: number } | { ok: false; problem: string };

/** Where the pair-joining worker threads run (this compiled module). */
export const PAIR_WORKER_SCRIPT = __filename;
export const PAIR_WORKER_ROLE = 'img2img-join-pair';

/** A | B: both 8-bit RGB images of equal height, side by side. */
export function sideBySide(a: RawImage8, b: RawImage8): RawImage8 {
  if (a.height !== b.height || a.channels !== b.channels) throw new Error('sideBySide needs images of equal height and channels');
  const width = a.width + b.width;
  const c = a.channels;
  const data = new Uint8Array(width * a.height * c);
  for (let y = 0; y < a.height; y++) {
    data.set(a.data.subarray(y * a.width * c, (y + 1) * a.width * c), y * width * c);
    data.set(b.data.subarray(y * b.width * c, (y + 1) * b.width * c), (y * width + a.width) * c);
  }
  return { data, width, height: a.height, channels: c, bitDepth: 8 };
}

/** Binary PPM (P6), 8-bit RGB. */
function encodePpm(img: RawImage8): Buffer {
  return Buffer.concat([Buffer.from(`P6\n${img.width} ${img.height}\n255\n`, 'latin1'), Buffer.from(img.data)]);
}

/** Uncompressed 24-bit BMP (bottom-up rows of BGR, each padded to 4 bytes). */
function encodeBmp(img: RawImage8): Buffer {
  const rowBytes = Math.ceil((img.width * 3) / 4) * 4;
  const dataSize = rowBytes * img.height;
  const out = Buffer.alloc(54 + dataSize);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(54 + dataSize, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(img.width, 18);
  out.writeInt32LE(img.height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  out.writeUInt32LE(dataSize, 34);
  out.writeInt32LE(2835, 38); // 72 dpi
  out.writeInt32LE(2835, 42);
  for (let y = 0; y < img.height; y++) {
    const row = 54 + (img.height - 1 - y) * rowBytes;
    for (let x = 0; x < img.width; x++) {
      const i = (y * img.width + x) * 3;
      out[row + x * 3] = img.data[i + 2];
      out[row + x * 3 + 1] = img.data[i + 1];
      out[row + x * 3 + 2] = img.data[i];
    }
  }
  return out;
}

/** Encodes by the output's extension, as cv2.imwrite picks its encoder; null for formats we cannot write. */
export function encodeByExtension(img: RawImage8, file: string, jpegQuality: number): Buffer | null {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.jpg' || ext === '.jpeg') return encodeJpeg(img, jpegQuality);
  if (ext === '.png') return encodePng(img);
  if (ext === '.ppm') return encodePpm(img);
  if (ext === '.bmp') return encodeBmp(img);
  return null;
}

/** Reads A and B, checks they have the same size, writes A|B. Problems are returned (named), not thrown. */
export async function joinPair(job: PairJob): Promise<PairResult> {
  let a: RawImage8;
  let b: RawImage8;
  try {
    a = toRGB8(readImageFile(job.a, { maxPixels: job.maxPixels }));
    b = toRGB8(readImageFile(job.b, { maxPixels: job.maxPixels }));
  } catch (err) {
    return { ok: false, problem: (err as Error).message };
  }
  if (a.width !== b.width || a.height !== b.height) {
    return { ok: false, problem: `${job.a} is ${a.width}x${a.height} but ${job.b} is ${b.width}x${b.height} (A and B must have the same size)` };
  }
  const joined = sideBySide(a, b);
  const data = encodeByExtension(joined, job.out, job.jpegQuality);
  if (!data) {
    return { ok: false, problem: `${job.out}: cannot write ${path.extname(job.out)} images (combine writes .jpg, .jpeg, .png, .ppm and .bmp)` };
  }
  try {
    await fs.promises.mkdir(path.dirname(job.out), { recursive: true });
    await writeFileAtomicAsync(job.out, data);
  } catch (err) {
    return { ok: false, problem: (err as Error).message };
  }
  return { ok: true, out: job.out, width: joined.width, height: joined.height };
}

serveToolWorker(PAIR_WORKER_ROLE, joinPair);

export interface JoinProgress {
  /** Shown before the counter on a terminal. */
  label: string;
}

/** Runs `jobs` with `workers` threads (1 = here, one at a time), drawing a counter on a terminal. */
export async function joinPairs(jobs: readonly PairJob[], workers: number, io: ToolIO, label: string): Promise<PairResult[]> {
  const count = counter(io, label, jobs.length);
  let done = 0;
  try {
    return await runParallel(PAIR_WORKER_SCRIPT, PAIR_WORKER_ROLE, jobs, joinPair, workers, () => count.tick(++done));
  } finally {
    count.end();
  }
}

// ---------------------------------------------------------------------------------------------------------
// combine_A_and_B.py

export interface CombineOptions {
  foldA: string;
  foldB: string;
  foldAB: string;
  /** At most this many images of each split (the reference's --num_imgs, default 1000000). */
  numImgs: number;
  useAB: boolean;
  /** 1 = sequential (--no_multiprocessing). */
  workers: number;
  jpegQuality?: number;
  maxPixels?: number;
}

export interface SplitReport {
  split: string;
  written: number;
  /** Names in A/<split> whose partner is missing from B/<split>. */
  missingInB: string[];
  /** Images of B/<split> that no image of A/<split> pairs with. */
  unmatchedInB: string[];
  failures: string[];
}

export interface CombineReport {
  splits: SplitReport[];
  written: number;
  missing: number;
  failed: number;
}

function listFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name);
}

/** The pairing of one split, as the reference builds it (sorted here, so runs are repeatable). */
export function planSplit(options: CombineOptions, split: string): { jobs: PairJob[]; missingInB: string[]; unmatchedInB: string[] } {
  const dirA = path.join(options.foldA, split);
  const dirB = path.join(options.foldB, split);
  let names = sortLikePython(listFiles(dirA).filter(isImageFile));
  if (options.useAB) names = names.filter((n) => n.includes('_A.'));
  const cut = names.length > options.numImgs;
  names = names.slice(0, Math.min(options.numImgs, names.length));
  const inB = new Set(fs.existsSync(dirB) && fs.statSync(dirB).isDirectory() ? listFiles(dirB).filter(isImageFile) : []);
  const jobs: PairJob[] = [];
  const missingInB: string[] = [];
  const used = new Set<string>();
  for (const nameA of names) {
    // Python's str.replace replaces every occurrence
    const nameB = options.useAB ? nameA.split('_A.').join('_B.') : nameA;
    const nameAB = options.useAB ? nameA.split('_A.').join('.') : nameA;
    if (!inB.has(nameB)) {
      missingInB.push(nameA);
      continue;
    }
    used.add(nameB);
    jobs.push({
      a: path.join(dirA, nameA),
      b: path.join(dirB, nameB),
      out: path.join(options.foldAB, split, nameAB),
      jpegQuality: options.jpegQuality ?? COMBINE_JPEG_QUALITY,
      maxPixels: options.maxPixels ?? DEFAULT_MAX_IMAGE_PIXELS,
    });
  }
  // with --num_imgs cutting A, B images beyond the cut are expected to stay unused
  let unmatchedInB = cut ? [] : sortLikePython([...inB].filter((n) => !used.has(n)));
  if (options.useAB) unmatchedInB = unmatchedInB.filter((n) => n.includes('_B.'));
  return { jobs, missingInB, unmatchedInB };
}

function checkFolder(dir: string, option: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw expected('an existing folder', option, dir);
  }
  if (!stat.isDirectory()) throw expected('a folder', option, dir);
}

/** combine_A_and_B.py's work; every problem is in the report, by name. */
export async function combineFolders(options: CombineOptions, io: ToolIO = PROCESS_IO): Promise<CombineReport> {
  checkFolder(options.foldA, '--fold_A');
  checkFolder(options.foldB, '--fold_B');
  const splits = sortLikePython(
    fs.readdirSync(options.foldA, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name),
  );
  if (splits.length === 0) {
    throw new Error(`${options.foldA} (--fold_A) has no split folders; expected e.g. ${path.join(options.foldA, 'train')} and ${path.join(options.foldB, 'train')}`);
  }
  const report: CombineReport = { splits: [], written: 0, missing: 0, failed: 0 };
  for (const split of splits) {
    const dirB = path.join(options.foldB, split);
    const plan = planSplit(options, split);
    const results = await joinPairs(plan.jobs, options.workers, io, `combine ${split}`);
    const failures = results.flatMap((r) => (r.ok ? [] : [r.problem]));
    const split_: SplitReport = {
      split,
      written: results.length - failures.length,
      missingInB: plan.missingInB,
      unmatchedInB: plan.unmatchedInB,
      failures,
    };
    report.splits.push(split_);
    report.written += split_.written;
    report.missing += plan.missingInB.length;
    report.failed += failures.length;

    const notes: string[] = [];
    if (plan.missingInB.length) notes.push(`${plan.missingInB.length} without a partner in ${dirB}`);
    if (failures.length) notes.push(`${failures.length} failed`);
    io.out(`split ${split}: ${plural(split_.written, 'pair')} written to ${path.join(options.foldAB, split)}${notes.length ? ` (${notes.join(', ')})` : ''}`);
    if (!fs.existsSync(dirB)) io.err(`  ${dirB} does not exist`);
    else if (plan.missingInB.length) {
      io.err(`  no partner in ${dirB} for: ${listSome(plan.missingInB.map((n) => (options.useAB ? `${n} (looked for ${n.split('_A.').join('_B.')})` : n))).join(', ')}`);
    }
    if (plan.unmatchedInB.length) io.err(`  ${plural(plan.unmatchedInB.length, 'image')} of ${dirB} pair with nothing in ${path.join(options.foldA, split)}: ${listSome(plan.unmatchedInB).join(', ')}`);
    for (const problem of listSome(failures)) io.err(`  ${problem}`);
  }
  return report;
}

function buildParser(): OptionParser {
  const parser = new OptionParser(
    'img2img combine',
    'Pairs same-named images of A/<split> and B/<split> into side-by-side A|B images in AB/<split>\n' +
      '(the reference\'s datasets/combine_A_and_B.py; the result is what --dataset_mode aligned reads).',
  );
  parser.addArgument('--fold_A', { type: 'str', required: true, metavar: 'DIR', help: 'input folder for image A, with split subfolders (train, val, test, ...)' });
  parser.addArgument('--fold_B', { type: 'str', required: true, metavar: 'DIR', help: 'input folder for image B, with the same split subfolders' });
  parser.addArgument('--fold_AB', { type: 'str', required: true, metavar: 'DIR', help: 'output folder' });
  parser.addArgument('--num_imgs', { type: 'int', default: 1000000, min: 0, help: 'number of images per split' });
  parser.addArgument('--use_AB', { type: 'flag', help: 'if true: (0001_A, 0001_B) to (0001_AB)' });
  parser.addArgument('--no_multiprocessing', { type: 'flag', help: 'combine one pair at a time on the main thread' });
  parser.addArgument('--workers', { type: 'int', default: 0, min: 0, help: 'worker threads; 0 = one per core' });
  parser.addArgument('--jpeg_quality', { type: 'int', default: COMBINE_JPEG_QUALITY, min: 1, help: 'quality of .jpg outputs (OpenCV\'s default is 95)' });
  return parser;
}

/** CLI entry: `img2img combine --fold_A A --fold_B B --fold_AB AB [--use_AB] [--num_imgs N] [--no_multiprocessing]`. */
export async function combineCommand(args: string[], io: ToolIO = PROCESS_IO): Promise<number> {
  return runTool('combine', io, async () => {
    const { values } = parseToolArgs(buildParser(), args);
    const quality = values.jpeg_quality as number;
    if (quality > 100) throw expected('an integer from 1 to 100', '--jpeg_quality', quality);
    const workers = values.no_multiprocessing ? 1 : (values.workers as number) || defaultWorkerCount();
    const report = await combineFolders(
      {
        foldA: values.fold_A as string,
        foldB: values.fold_B as string,
        foldAB: values.fold_AB as string,
        numImgs: values.num_imgs as number,
        useAB: values.use_AB as boolean,
        workers,
        jpegQuality: quality,
      },
      io,
    );
    const parts = [`${plural(report.written, 'pair')} written to ${values.fold_AB as string}`];
    if (report.missing) parts.push(`${report.missing} without a partner`);
    if (report.failed) parts.push(`${report.failed} failed`);
    io.out(`done: ${parts.join(', ')}`);
    if (report.failed > 0) return 1;
    if (report.written === 0) {
      io.err(`img2img combine: no pairs found: images of ${values.fold_A as string}/<split> need a same-named partner in ${values.fold_B as string}/<split>${values.use_AB ? ' (x_A.ext with x_B.ext)' : ''}`);
      return 1;
    }
    return 0;
  });
}
