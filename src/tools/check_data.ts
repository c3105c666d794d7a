/**
 * `img2img check-data`: looks at a dataset folder the way a training run will, before the run — so a typo in
 * --dataroot, a CycleGAN folder given to the aligned loader, an image smaller than --crop_size or a corrupt
 * file at image 3,117 is reported in seconds, not hours in. The checks are src/data/dataset_check.ts; this command
 * adds (unless --headers_only) a full decode of every image, in worker threads.
 */
import {
  CHECK_DATASET_MODES, DataCheckOptions, DataCheckReport, describeSizes, finishChecks, PREPROCESS_CHOICES, scanHeaders,
} from '../data/dataset_check';
import { DEFAULT_MAX_IMAGE_PIXELS, readImageFile } from '../data/image_io';
import { OptionParser } from '../options/option_parser';
import {
  counter, defaultWorkerCount, listSome, parseToolArgs, plural, PROCESS_IO, runParallel, runTool, serveToolWorker, ToolIO,
} from './tool_args';

/** Full decode (worker side): the real channel layout, or the decoder's complaint naming the file. */
export interface DecodeRequest {
  file: string;
  maxPixels: number;
}
export type DecodeResult = { ok: true; layout: string } | { ok: false; problem: string };

export async function decodeForCheck(request: DecodeRequest): Promise<DecodeResult> {
  try {
    const img = readImageFile(request.file, { maxPixels: request.maxPixels });
    const names = ['', 'gray', 'gray+alpha', 'RGB', 'RGBA'];
    return { ok: true, layout: `${names[img.channels]}${img.bitDepth === 16 ? ' 16-bit' : ''}` };
  } catch (err) {
    return { ok: false, problem: (err as Error).message };
  }
}

export const DECODE_WORKER_SCRIPT = __filename;
const DECODE_WORKER_ROLE = 'img2img-check-decode';
serveToolWorker(DECODE_WORKER_ROLE, decodeForCheck);

export interface CheckDatasetSettings {
  /** Decode every image fully (default true). */
  decode?: boolean;
  /** Worker threads for decoding; 1 = on this thread. */
  workers?: number;
  io?: ToolIO;
}

/** The full check: quickCheckDataset plus a decode of every readable image (in worker threads). */
export async function checkDataset(opt: DataCheckOptions, settings: CheckDatasetSettings = {}): Promise<DataCheckReport> {
  const scan = scanHeaders(opt);
  const io = settings.io ?? PROCESS_IO;
  let decoded = 0;
  if (settings.decode !== false && scan.readable.length) {
    const requests = scan.readable.map((file) => ({ file, maxPixels: scan.r.maxPixels }));
    const count = counter(io, 'check-data: decoding', requests.length);
    let done = 0;
    let results: DecodeResult[];
    try {
      results = await runParallel(DECODE_WORKER_SCRIPT, DECODE_WORKER_ROLE, requests, decodeForCheck, settings.workers ?? defaultWorkerCount(), () => count.tick(++done));
    } finally {
      count.end();
    }
    const layoutByFile = new Map<string, string>();
    const broken = new Set<string>();
    results.forEach((result, i) => {
      if (result.ok) layoutByFile.set(requests[i].file, result.layout);
      else {
        broken.add(requests[i].file);
        scan.errors.push(result.problem);
      }
    });
    decoded = layoutByFile.size;
    // the decoder's layout is the truth (palette PNGs, BMP/TIFF headers); broken files leave the size checks
    for (const [folder, list] of scan.facts) {
      scan.facts.set(
        folder,
        list.filter((f) => !broken.has(f.file)).map((f) => ({ ...f, layout: layoutByFile.get(f.file) ?? f.layout })),
      );
    }
  }
  finishChecks(scan);
  const r = scan.r;
  return {
    dataroot: r.dataroot,
    dataset_mode: r.mode,
    phase: r.phase,
    folders: scan.folders.map((f) => ({ role: f.role, dir: f.dir, images: f.files.length, sizes: describeSizes(scan.facts.get(f) ?? []) })),
    errors: scan.errors,
    warnings: scan.warnings,
    decoded,
    ok: scan.errors.length === 0,
  };
}

/** The short text report. */
export function formatReport(report: DataCheckReport): string[] {
  const lines = [`check-data ${report.dataroot} (--dataset_mode ${report.dataset_mode}, --phase ${report.phase})`];
  for (const f of report.folders) lines.push(`  ${f.role}: ${plural(f.images, 'image')} in ${f.dir}, sizes ${f.sizes}`);
  if (report.decoded) lines.push(`  decoded ${plural(report.decoded, 'image')} without error`);
  if (report.errors.length) {
    lines.push(`errors (${report.errors.length}):`);
    for (const e of listSome(report.errors)) lines.push(`  ${e}`);
  }
  if (report.warnings.length) {
    lines.push(`warnings (${report.warnings.length}):`);
    for (const w of listSome(report.warnings)) lines.push(`  ${w}`);
  }
  lines.push(report.ok ? `OK${report.warnings.length ? ` (${plural(report.warnings.length, 'warning')})` : ''}` : `FAILED: ${plural(report.errors.length, 'error')}`);
  return lines;
}

function buildParser(): OptionParser {
  const parser = new OptionParser(
    'img2img check-data',
    'Checks a dataset folder before a long run: layout for --dataset_mode, image counts, unreadable or\n' +
      'corrupt images (header and full decode), images smaller than --crop_size after --preprocess, odd widths\n' +
      'of aligned A|B images, mixed channel layouts, images over --max_image_pixels. Exit code 1 on errors.',
  );
  parser.addArgument('--dataroot', { type: 'str', required: true, metavar: 'DIR', help: 'the dataset folder, as given to img2img train' });
  parser.addArgument('--dataset_mode', { type: 'str', default: 'unaligned', choices: CHECK_DATASET_MODES, help: 'how the dataset is read' });
  parser.addArgument('--phase', { type: 'str', default: 'train', help: 'train, val, test, etc' });
  parser.addArgument('--crop_size', { type: 'int', default: 256, min: 1, help: 'then crop to this size' });
  parser.addArgument('--load_size', { type: 'int', default: 286, min: 1, help: 'scale images to this size' });
  parser.addArgument('--preprocess', { type: 'str', default: 'resize_and_crop', choices: PREPROCESS_CHOICES, help: 'scaling and cropping of images at load time' });
  parser.addArgument('--max_image_pixels', { type: 'int', default: DEFAULT_MAX_IMAGE_PIXELS, min: 1, help: 'images with more pixels are refused' });
  parser.addArgument('--max_dataset_size', { type: 'int', default: Infinity, min: 0, help: 'check only the images a run with this limit would use' });
  parser.addArgument('--headers_only', { type: 'flag', help: 'read image headers only (what img2img train checks at start)' });
  parser.addArgument('--workers', { type: 'int', default: 0, min: 0, help: 'decoding threads; 0 = one per core' });
  parser.addArgument('--json', { type: 'flag', help: 'print the report as JSON' });
  return parser;
}

/** CLI entry: `img2img check-data --dataroot D --dataset_mode M [...]`. Exit 0 clean (warnings allowed), 1 errors, 2 usage. */
export async function checkDataCommand(args: string[], io: ToolIO = PROCESS_IO): Promise<number> {
  return runTool('check-data', io, async () => {
    const { values } = parseToolArgs(buildParser(), args);
    const report = await checkDataset(
      {
        dataroot: values.dataroot as string,
        dataset_mode: values.dataset_mode as string,
        phase: values.phase as string,
        crop_size: values.crop_size as number,
        load_size: values.load_size as number,
        preprocess: values.preprocess as string,
        max_image_pixels: values.max_image_pixels as number,
        max_dataset_size: values.max_dataset_size as number,
      },
      { decode: !values.headers_only, workers: (values.workers as number) || defaultWorkerCount(), io },
    );
    if (values.json) io.out(JSON.stringify(report, null, 2));
    else for (const line of formatReport(report)) io.out(line);
    return report.ok ? 0 : 1;
  });
}

