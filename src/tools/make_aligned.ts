/**
 * `img2img make-aligned`: the reference's datasets/make_dataset_aligned.py. Pairs D/trainA with D/trainB
 * (and D/testA with D/testB when they exist) by sorted file name order — only top-level .png and .jpg files,
 * as upstream — and writes each pair side by side as D/train/0000.jpg, 0001.jpg, … (D/test/… likewise),
 * which turns a CycleGAN-style folder of corresponding images into a pix2pix aligned dataset.
 *
 * Upstream asserts equal counts and sizes and stops mid-way; here every size is checked from the image
 * headers first, and nothing is written unless all pairs match. JPEGs are written at PIL's default quality 75.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readImageHeader } from '../data/image_header';
import { DEFAULT_MAX_IMAGE_PIXELS } from '../data/image_io';
import { sortLikePython } from '../data/make_dataset';
import { expected } from '../options/option_errors';
import { OptionParser } from '../options/option_parser';
import { joinPairs, PairJob } from './combine';
import { defaultWorkerCount, listSome, mapLimit, parseToolArgs, plural, PROCESS_IO, runTool, ToolIO } from './tool_args';

/** PIL's default JPEG quality (Image.save without quality=). */
export const PIL_JPEG_QUALITY = 75;

export interface MakeAlignedOptions {
  datasetPath: string;
  workers: number;
  jpegQuality?: number;
}

export interface PhaseReport {
  phase: string;
  pairs: number;
  folder: string;
}

/** get_file_paths: the folder's own .png/.jpg files (case-sensitive, as str.endswith), sorted. */
export function topLevelImages(folder: string): string[] {
  const names = fs
    .readdirSync(folder, { withFileTypes: true })
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && (e.name.endsWith('.png') || e.name.endsWith('.jpg')))
    .map((e) => e.name);
  return sortLikePython(names).map((n) => path.join(folder, n));
}

function isFolder(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The pairs of one phase, with every count and size problem collected (and thrown together). */
async function planPhase(root: string, phase: string, quality: number): Promise<PairJob[]> {
  const dirA = path.join(root, `${phase}A`);
  const dirB = path.join(root, `${phase}B`);
  const a = topLevelImages(dirA);
  const b = topLevelImages(dirB);
  if (a.length !== b.length) {
    const longer = a.length > b.length ? a : b;
    const extra = longer.slice(Math.min(a.length, b.length)).map((f) => path.basename(f));
    throw new Error(
      `${dirA} has ${plural(a.length, 'image')} but ${dirB} has ${b.length}; make-aligned pairs them by sorted name order, ` +
        `so the counts must match (unpaired in ${a.length > b.length ? dirA : dirB}: ${listSome(extra, 10).join(', ')})`,
    );
  }
  if (a.length === 0) throw new Error(`${dirA} and ${dirB} hold no .png or .jpg files`);
  const sizes = await mapLimit([...a, ...b], 16, async (file) => {
    try {
      const header = await readImageHeader(file);
      return { size: [header.width, header.height] as [number, number], problem: null };
    } catch (err) {
      return { size: null, problem: (err as Error).message };
    }
  });
  const problems: string[] = [];
  for (let i = 0; i < a.length; i++) {
    const sa = sizes[i];
    const sb = sizes[a.length + i];
    if (sa.problem) problems.push(sa.problem);
    if (sb.problem) problems.push(sb.problem);
    if (sa.size && sb.size && (sa.size[0] !== sb.size[0] || sa.size[1] !== sb.size[1])) {
      problems.push(`${a[i]} is ${sa.size[0]}x${sa.size[1]} but its partner ${b[i]} is ${sb.size[0]}x${sb.size[1]}`);
    }
  }
  if (problems.length) {
    throw new Error(
      `cannot pair ${dirA} with ${dirB} (pairs must have equal sizes; nothing was written):\n  ${listSome(problems).join('\n  ')}`,
    );
  }
  return a.map((fileA, i) => ({
    a: fileA,
    b: b[i],
    out: path.join(root, phase, `${String(i).padStart(4, '0')}.jpg`),
    jpegQuality: quality,
    maxPixels: DEFAULT_MAX_IMAGE_PIXELS,
  }));
}

/** make_dataset_aligned.py: plans every phase first (all checks), then writes. */
export async function makeAligned(options: MakeAlignedOptions, io: ToolIO = PROCESS_IO): Promise<PhaseReport[]> {
  const root = options.datasetPath;
  if (!isFolder(root)) throw expected('an existing folder', '--dataset_path', root);
  const phases: string[] = [];
  for (const phase of ['test', 'train']) {
    const hasA = isFolder(path.join(root, `${phase}A`));
    const hasB = isFolder(path.join(root, `${phase}B`));
    if (hasA && hasB) phases.push(phase);
    else if (hasA || hasB) {
      throw new Error(`${path.join(root, hasA ? `${phase}A` : `${phase}B`)} exists but ${path.join(root, hasA ? `${phase}B` : `${phase}A`)} does not`);
    } else if (phase === 'train') {
      throw new Error(`${root} has no trainA and trainB folders to pair (expected ${path.join(root, 'trainA')} and ${path.join(root, 'trainB')})`);
    }
  }
  const quality = options.jpegQuality ?? PIL_JPEG_QUALITY;
  const plans: Array<[string, PairJob[]]> = [];
  for (const phase of phases) plans.push([phase, await planPhase(root, phase, quality)]);
  const reports: PhaseReport[] = [];
  for (const [phase, jobs] of plans) {
    const results = await joinPairs(jobs, options.workers, io, `make-aligned ${phase}`);
    const failures = results.flatMap((r) => (r.ok ? [] : [r.problem]));
    if (failures.length) throw new Error(`${plural(failures.length, 'pair')} of ${phase} could not be written:\n  ${listSome(failures).join('\n  ')}`);
    const folder = path.join(root, phase);
    const last = String(jobs.length - 1).padStart(4, '0');
    io.out(`${phase}: ${plural(jobs.length, 'pair')} of ${phase}A|${phase}B written to ${path.join(folder, '0000.jpg')}${jobs.length > 1 ? ` … ${last}.jpg` : ''}`);
    reports.push({ phase, pairs: jobs.length, folder });
  }
  return reports;
}

function buildParser(): OptionParser {
  const parser = new OptionParser(
    'img2img make-aligned',
    'Pairs D/trainA with D/trainB (and D/testA with D/testB when present) by sorted name order into\n' +
      'side-by-side images D/train/0000.jpg … (the reference\'s datasets/make_dataset_aligned.py).\n' +
      'Only top-level .png and .jpg files are used; counts and sizes must match.',
  );
  parser.addArgument('--dataset_path', { type: 'str', required: true, metavar: 'DIR', help: 'folder with trainA/trainB (testA/testB); --dataset-path also works' });
  parser.addArgument('--jpeg_quality', { type: 'int', default: PIL_JPEG_QUALITY, min: 1, help: 'JPEG quality of the outputs (PIL\'s default is 75)' });
  parser.addArgument('--no_multiprocessing', { type: 'flag', help: 'one pair at a time on the main thread' });
  parser.addArgument('--workers', { type: 'int', default: 0, min: 0, help: 'worker threads; 0 = one per core' });
  return parser;
}

/** CLI entry: `img2img make-aligned --dataset_path D`. */
export async function makeAlignedCommand(args: string[], io: ToolIO = PROCESS_IO): Promise<number> {
  return runTool('make-aligned', io, async () => {
    const { values } = parseToolArgs(buildParser(), args, { aliases: { '--dataset-path': '--dataset_path' } });
    const quality = values.jpeg_quality as number;
    if (quality > 100) throw expected('an integer from 1 to 100', '--jpeg_quality', quality);
    const workers = values.no_multiprocessing ? 1 : (values.workers as number) || defaultWorkerCount();
    await makeAligned({ datasetPath: values.dataset_path as string, workers, jpegQuality: quality }, io);
    return 0;
  });
}
