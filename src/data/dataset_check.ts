/**
 * What a dataset folder holds, looked at the way a training run will read it (the library of `img2img check-data`,
 * src/tools/check_data.ts): the folder layout of the --dataset_mode (aligned: D/<phase>; unaligned: D/<phase>A and
 * D/<phase>B; single: D; colorization: D/<phase>), the number of images, every image's header (readable, within
 * --max_image_pixels), its size after the resize --preprocess implies against --crop_size, odd widths of aligned
 * A|B images, mixed channel layouts within a folder.
 *
 * `quickCheckDataset` is the header-only check, synchronous and fast (a few ms per hundred images), for
 * `img2img train` to call before it builds anything; the command adds a full decode in worker threads.
 */
import * as fs from 'fs';
import * as path from 'path';
import { listSome, plural } from '../util/text';
import { ImageHeader, PROBE_BYTES, assertWithinPixelLimit, tryProbeImage } from './image_header';
import { DEFAULT_MAX_IMAGE_PIXELS } from './image_io';
import { makeDataset, sortLikePython } from './make_dataset';
import { sizeAfterResize } from './transforms';

export const CHECK_DATASET_MODES = ['aligned', 'unaligned', 'single', 'colorization'] as const;
export const PREPROCESS_CHOICES = ['resize_and_crop', 'crop', 'scale_width', 'scale_width_and_crop', 'none'] as const;

/** The options check-data reads, under the training options' names (an `opt` of `img2img train` fits). */
export interface DataCheckOptions {
  dataroot: string;
  dataset_mode?: string;
  phase?: string;
  crop_size?: number;
  load_size?: number;
  preprocess?: string;
  max_image_pixels?: number;
  max_dataset_size?: number;
  /** With --skip_bad_images, unreadable images are warnings (the loader skips them), not errors. */
  skip_bad_images?: boolean;
}

export interface DataCheckResult {
  errors: string[];
  warnings: string[];
}

export interface FolderReport {
  /** What the folder holds for the dataset: 'AB', 'A', 'B' or 'images'. */
  role: string;
  dir: string;
  images: number;
  /** e.g. "512x256 (all)" or "from 100x80 to 1024x768". */
  sizes: string;
}

export interface DataCheckReport extends DataCheckResult {
  dataroot: string;
  dataset_mode: string;
  phase: string;
  folders: FolderReport[];
  /** Images whose pixels were decoded (0 with --headers_only). */
  decoded: number;
  ok: boolean;
}

export interface Resolved {
  dataroot: string;
  mode: string;
  phase: string;
  cropSize: number;
  loadSize: number;
  preprocess: string;
  maxPixels: number;
  maxDatasetSize: number;
}

function resolve(opt: DataCheckOptions): Resolved {
  return {
    dataroot: opt.dataroot,
    mode: opt.dataset_mode ?? 'unaligned',
    phase: opt.phase ?? 'train',
    cropSize: opt.crop_size ?? 256,
    loadSize: opt.load_size ?? 286,
    preprocess: opt.preprocess ?? 'resize_and_crop',
    maxPixels: opt.max_image_pixels ?? DEFAULT_MAX_IMAGE_PIXELS,
    maxDatasetSize: opt.max_dataset_size ?? Infinity,
  };
}

export interface FolderPlan {
  role: string;
  dir: string;
  files: string[];
}

function isFolder(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** A hint when the folder that is missing suggests another --dataset_mode or --phase. */
function layoutHint(r: Resolved): string {
  const has = (name: string) => isFolder(path.join(r.dataroot, name));
  const unalignedThere = has(`${r.phase}A`) && has(`${r.phase}B`);
  if ((r.mode === 'aligned' || r.mode === 'colorization') && unalignedThere) {
    return ` (it has ${r.phase}A/ and ${r.phase}B/: an unpaired CycleGAN layout — use --dataset_mode unaligned, or img2img make-aligned / combine to build ${r.phase}/)`;
  }
  if (r.mode === 'unaligned' && has(r.phase)) {
    return ` (it has ${r.phase}/: a paired A|B layout — use --dataset_mode aligned)`;
  }
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(r.dataroot, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return '';
  }
  return entries.length ? ` (its folders: ${listSome(sortLikePython(entries), 10).join(', ')})` : '';
}

/** The folders the mode reads and their images (cut to --max_dataset_size), or the layout errors. */
function planFolders(r: Resolved, errors: string[], warnings: string[]): FolderPlan[] {
  if (!isFolder(r.dataroot)) {
    errors.push(`--dataroot ${r.dataroot} ${fs.existsSync(r.dataroot) ? 'is not a folder' : 'does not exist'}`);
    return [];
  }
  let wanted: Array<[string, string]>;
  switch (r.mode) {
    case 'aligned':
      wanted = [['AB', path.join(r.dataroot, r.phase)]];
      break;
    case 'unaligned':
      wanted = [['A', path.join(r.dataroot, `${r.phase}A`)], ['B', path.join(r.dataroot, `${r.phase}B`)]];
      break;
    case 'single':
      wanted = [['images', r.dataroot]];
      break;
    case 'colorization':
      wanted = [['images', path.join(r.dataroot, r.phase)]];
      break;
    default:
      warnings.push(`--dataset_mode ${r.mode} is not one check-data knows (${CHECK_DATASET_MODES.join(', ')}); its layout was not checked`);
      return [];
  }
  const missing = wanted.filter(([, dir]) => !isFolder(dir)).map(([, dir]) => dir);
  if (missing.length) {
    const verb = missing.length === 1 ? (fs.existsSync(missing[0]) ? 'is not a folder' : 'does not exist') : 'do not exist';
    errors.push(`${missing.join(' and ')} ${verb}: --dataset_mode ${r.mode} reads ${describeLayout(r)}${layoutHint(r)}`);
  }
  const plans: FolderPlan[] = [];
  for (const [role, dir] of wanted) {
    if (missing.includes(dir)) continue;
    try {
      plans.push({ role, dir, files: makeDataset(dir, r.maxDatasetSize) });
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  return plans;
}

function describeLayout(r: Resolved): string {
  switch (r.mode) {
    case 'aligned': return `A|B images from --dataroot/--phase (${path.join(r.dataroot, r.phase)})`;
    case 'unaligned': return `--dataroot/<phase>A and --dataroot/<phase>B (${path.join(r.dataroot, `${r.phase}A`)}, ${path.join(r.dataroot, `${r.phase}B`)})`;
    case 'single': return `the images in --dataroot itself (${r.dataroot})`;
    default: return `images from --dataroot/--phase (${path.join(r.dataroot, r.phase)})`;
  }
}

/** Option combinations every image would fail on: reported once instead of per image. */
function checkOptions(r: Resolved, errors: string[]): boolean {
  const crops = r.preprocess.includes('crop');
  const resizes = r.preprocess.includes('resize') || r.preprocess.includes('scale_width');
  if (r.mode === 'aligned' && r.loadSize < r.cropSize) {
    errors.push(`--load_size ${r.loadSize} is smaller than --crop_size ${r.cropSize}: the aligned dataset requires load_size >= crop_size`);
    return false;
  }
  if (crops && resizes && r.loadSize < r.cropSize) {
    errors.push(`--load_size ${r.loadSize} is smaller than --crop_size ${r.cropSize}: --preprocess ${r.preprocess} resizes to --load_size before cropping --crop_size`);
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Per-image facts

export interface ImageFacts {
  file: string;
  width: number;
  height: number;
  /** "RGB", "gray", "RGBA", "gray+alpha", "palette", "CMYK"…, null when the header does not say. */
  layout: string | null;
}

type Probe = { ok: true; facts: ImageFacts } | { ok: false; problem: string };

/** What the header says about the channels (the decoder may refine it). */
function layoutOf(header: ImageHeader): string | null {
  const depth = header.bitDepth === 16 ? ' 16-bit' : '';
  if (header.format === 'png') {
    const names: Record<number, string> = { 0: 'gray', 2: 'RGB', 3: 'palette', 4: 'gray+alpha', 6: 'RGBA' };
    return `${names[header.pngColorType ?? 2]}${depth}`;
  }
  if (header.format === 'jpeg') return header.components === 1 ? 'gray' : header.components === 4 ? 'CMYK' : 'RGB';
  return null;
}

/** Reads as little of the file as its header needs: 8 KiB, then 64 KiB, then the whole file. */
function readHeaderSync(file: string, maxPixels: number): Probe {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    return { ok: false, problem: `${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
  try {
    const size = fs.fstatSync(fd).size;
    for (const want of [8192, PROBE_BYTES, size]) {
      const length = Math.min(want, size);
      const buf = Buffer.alloc(length);
      const read = length > 0 ? fs.readSync(fd, buf, 0, length, 0) : 0;
      const result = tryProbeImage(buf.subarray(0, read), read >= size);
      if (result.kind === 'bad') return { ok: false, problem: `${file} ${result.problem}` };
      if (result.kind === 'ok') {
        try {
          assertWithinPixelLimit(result.header, file, maxPixels);
        } catch (err) {
          return { ok: false, problem: (err as Error).message };
        }
        const h = result.header;
        return { ok: true, facts: { file, width: h.width, height: h.height, layout: layoutOf(h) } };
      }
      if (length >= size) break;
    }
    return { ok: false, problem: `${file} is truncated: the file ends inside its image header` };
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Folder-level checks from the facts

export function describeSizes(facts: ImageFacts[]): string {
  if (facts.length === 0) return '-';
  const counts = new Map<string, number>();
  for (const f of facts) counts.set(`${f.width}x${f.height}`, (counts.get(`${f.width}x${f.height}`) ?? 0) + 1);
  if (counts.size === 1) return `${[...counts.keys()][0]} (all)`;
  const byArea = [...facts].sort((a, b) => a.width * a.height - b.width * b.height);
  const small = byArea[0];
  const large = byArea[byArea.length - 1];
  return `${counts.size} sizes, from ${small.width}x${small.height} to ${large.width}x${large.height}`;
}

function example(facts: ImageFacts[], max = 5): string {
  return listSome(facts.map((f) => `${path.basename(f.file)} (${f.width}x${f.height})`), max).join(', ');
}

function checkFolderFacts(r: Resolved, folder: FolderPlan, facts: ImageFacts[], errors: string[], warnings: string[], cropOk: boolean): void {
  const aligned = r.mode === 'aligned';
  // the sizes get_transform sees: each half of an aligned image
  const sources = (f: ImageFacts): Array<[number, number]> => {
    if (!aligned) return [[f.width, f.height]];
    const half = Math.floor(f.width / 2);
    return [[half, f.height], [f.width - half, f.height]];
  };
  const options = { preprocess: r.preprocess, load_size: r.loadSize, crop_size: r.cropSize, no_flip: true };
  if (cropOk && r.preprocess.includes('crop')) {
    const small = facts.filter((f) => sources(f).some((s) => {
      const [w, h] = sizeAfterResize(options, s);
      return w < r.cropSize || h < r.cropSize;
    }));
    if (small.length) {
      const after = r.preprocess.includes('resize') || r.preprocess.includes('scale_width') ? ` after --preprocess ${r.preprocess} with --load_size ${r.loadSize}` : '';
      errors.push(
        `${plural(small.length, 'image')} in ${folder.dir} ${small.length === 1 ? 'is' : 'are'} smaller than --crop_size ${r.cropSize}` +
          `${aligned ? ' (each half of the A|B image)' : ''}${after}: ${example(small)}; ` +
          'use --preprocess resize_and_crop (with --load_size >= --crop_size) or a smaller --crop_size',
      );
    }
  }
  if (r.preprocess === 'none') {
    const small = facts.filter((f) => sources(f).some(([w, h]) => w < r.cropSize || h < r.cropSize));
    if (small.length) {
      warnings.push(`${plural(small.length, 'image')} in ${folder.dir} ${small.length === 1 ? 'is' : 'are'} smaller than --crop_size ${r.cropSize} and --preprocess none trains on them at that size: ${example(small)}`);
    }
    const odd = facts.filter((f) => sources(f).some(([w, h]) => w % 4 !== 0 || h % 4 !== 0));
    if (odd.length) {
      warnings.push(`${plural(odd.length, 'image')} in ${folder.dir} ${odd.length === 1 ? 'has' : 'have'} a size that is not a multiple of 4; --preprocess none resizes ${odd.length === 1 ? 'it' : 'them'} slightly: ${example(odd)}`);
    }
  }
  if (aligned) {
    const odd = facts.filter((f) => f.width % 2 === 1);
    if (odd.length) {
      warnings.push(
        `${plural(odd.length, 'image')} in ${folder.dir} ${odd.length === 1 ? 'has' : 'have'} an odd width, so B gets one column more than A ` +
          `(A is the left floor(w/2) columns): ${example(odd)}`,
      );
    }
    const narrow = facts.filter((f) => f.width < 2);
    if (narrow.length) errors.push(`${plural(narrow.length, 'image')} in ${folder.dir} cannot be split into A|B halves: ${example(narrow)}`);
  }
  const layouts = new Map<string, ImageFacts[]>();
  for (const f of facts) {
    if (!f.layout) continue;
    if (!layouts.has(f.layout)) layouts.set(f.layout, []);
    layouts.get(f.layout)!.push(f);
  }
  if (layouts.size > 1) {
    const parts = [...layouts.entries()]
      .sort((a, b) => b[1].length - a[1].length)
      .map(([layout, list]) => `${layout}: ${list.length} (e.g. ${path.basename(list[0].file)})`);
    warnings.push(`${folder.dir} mixes channel layouts — ${parts.join('; ')}; all are converted to RGB (or gray with --input_nc/--output_nc 1) when loaded`);
  }
  if (r.mode === 'colorization') {
    const gray = facts.filter((f) => f.layout?.startsWith('gray'));
    if (gray.length) warnings.push(`${plural(gray.length, 'gray image')} in ${folder.dir} have no colour to learn from: ${example(gray)}`);
  }
}

export interface Scan extends DataCheckResult {
  r: Resolved;
  folders: FolderPlan[];
  facts: Map<FolderPlan, ImageFacts[]>;
  readable: string[];
  cropOk: boolean;
}

export function scanHeaders(opt: DataCheckOptions): Scan {
  const r = resolve(opt);
  const errors: string[] = [];
  const warnings: string[] = [];
  const cropOk = checkOptions(r, errors);
  const folders = planFolders(r, errors, warnings);
  const facts = new Map<FolderPlan, ImageFacts[]>();
  const readable: string[] = [];
  for (const folder of folders) {
    const list: ImageFacts[] = [];
    for (const file of folder.files) {
      const probe = readHeaderSync(file, r.maxPixels);
      if (probe.ok) {
        list.push(probe.facts);
        readable.push(file);
      } else if (opt.skip_bad_images) {
        warnings.push(`${probe.problem} (--skip_bad_images: it will be skipped)`);
      } else {
        errors.push(probe.problem);
      }
    }
    facts.set(folder, list);
  }
  return { r, errors, warnings, folders, facts, readable, cropOk };
}

export function finishChecks(scan: Scan): void {
  for (const folder of scan.folders) checkFolderFacts(scan.r, folder, scan.facts.get(folder) ?? [], scan.errors, scan.warnings, scan.cropOk);
}

/**
 * The header-only check (no pixel is decoded), for `img2img train` to run before anything else:
 * layout, counts, readable headers, pixel limit, sizes against --crop_size, odd aligned widths, mixed layouts.
 */
export function quickCheckDataset(opt: DataCheckOptions): DataCheckResult {
  const scan = scanHeaders(opt);
  finishChecks(scan);
  return { errors: scan.errors, warnings: scan.warnings };
}
