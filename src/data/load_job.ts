/**
 * What it takes to load one sample, as plain data: which files to decode and which already-decided transform
 * steps to run on them. Datasets produce these plans (drawing random numbers in the main thread, in the
 * reference's order); `runImageJob` executes one file's part of a plan anywhere — main thread or worker —
 * with the same result.
 */
import { labTensorsFromRgb } from './color';
import { RawImage8 } from './image';
import { DecodedImageCache } from './image_cache';
import { readImageFile, toRGB8 } from './image_io';
import { applyFixedSteps, applyRandomSteps, cropImage, randomStepsToTensor, TransformSteps } from './transforms';

/** Which part of the decoded image a transform applies to: aligned datasets split A|B at w2 = floor(w / 2). */
export type Region = 'whole' | 'left' | 'right';

export type SampleKey = 'A' | 'B';

export type PartSpec =
  /** ToTensor + Normalize into one tensor stored under `key`. */
  | { region: Region; steps: TransformSteps; output: 'normalized'; key: SampleKey }
  /** Colorization: rgb2lab, L/50 - 1 into A and ab/110 into B. */
  | { region: Region; steps: TransformSteps; output: 'lab' };

/** One file to decode (or take from the cache) and the tensors to make from it. */
export interface ImageJob {
  path: string;
  maxPixels: number;
  parts: PartSpec[];
}

/** A dataset item's plan: its files' jobs and the paths it reports. */
export interface SamplePlan {
  jobs: ImageJob[];
  A_paths: string;
  B_paths?: string;
}

export interface TensorCHW {
  data: Float32Array;
  shape: [number, number, number];
}

export interface JobResult {
  tensors: Partial<Record<SampleKey, TensorCHW>>;
  /** Size of the decoded file (absent when everything came from the cache). */
  sourceSize?: [number, number];
  /** Messages the reference prints (the __make_power_2 size warning); the caller prints each kind once. */
  warnings: string[];
  /** True when the file was not decoded because the cache held what was needed. */
  cacheHit: boolean;
}

/** What a dataset item is: the reference's dict, with the CHW shape of each tensor. */
export interface Sample {
  A?: Float32Array;
  B?: Float32Array;
  shapeA: [number, number, number];
  shapeB?: [number, number, number];
  A_paths: string;
  B_paths?: string;
}

/**
 * Produces the job's tensors. The image after the fixed steps (RGB conversion, A|B split, grayscale, resize)
 * is taken from the cache when present — the file is then not read at all — else the file is decoded and that
 * image cached; the random steps (crop, flip) and ToTensor/Normalize or Lab run every time.
 * Throws ImageFileError for a bad file.
 */
export function runImageJob(job: ImageJob, cache?: DecodedImageCache): JobResult {
  let rgb: RawImage8 | undefined;
  const tensors: JobResult['tensors'] = {};
  const warnings: string[] = [];
  for (const part of job.parts) {
    const key = fixedStepsKey(job.path, part);
    let base = cache?.get(key);
    if (!base) {
      // the reference opens every image with .convert("RGB") before anything else
      rgb ??= toRGB8(readImageFile(job.path, { maxPixels: job.maxPixels }));
      const fixed = applyFixedSteps(region(rgb, part.region), part.steps);
      if (fixed.warning) warnings.push(fixed.warning);
      base = fixed.image;
      cache?.set(key, base);
    }
    if (part.output === 'normalized') {
      tensors[part.key] = randomStepsToTensor(base, part.steps);
    } else {
      const image = applyRandomSteps(base, part.steps);
      const { L, AB } = labTensorsFromRgb(image);
      tensors.A = { data: L, shape: [1, image.height, image.width] };
      tensors.B = { data: AB, shape: [2, image.height, image.width] };
    }
  }
  return { tensors, sourceSize: rgb ? [rgb.width, rgb.height] : undefined, warnings, cacheHit: rgb === undefined };
}

/** Cache key of a part's fixed-step result: the file plus every setting those steps read. */
function fixedStepsKey(path: string, part: PartSpec): string {
  const { grayscale, resize, makePower2, crop } = part.steps;
  return JSON.stringify([path, part.region, grayscale, resize, makePower2 && !crop]);
}

/** AB.crop((0, 0, w2, h)) / AB.crop((w2, 0, w, h)) with w2 = int(w / 2); an odd width gives B the extra column. */
function region(img: RawImage8, which: Region): RawImage8 {
  if (which === 'whole') return img;
  const w2 = Math.floor(img.width / 2);
  return which === 'left' ? cropImage(img, 0, 0, w2, img.height) : cropImage(img, w2, 0, img.width - w2, img.height);
}

/** Joins the job results of one plan into the dataset item. */
export function assembleSample(plan: SamplePlan, results: JobResult[]): Sample {
  const merged: JobResult['tensors'] = {};
  for (const r of results) Object.assign(merged, r.tensors);
  if (!merged.A) throw new Error(`loading ${plan.A_paths} produced no A tensor`);
  const sample: Sample = { A: merged.A.data, shapeA: merged.A.shape, A_paths: plan.A_paths };
  if (merged.B) {
    sample.B = merged.B.data;
    sample.shapeB = merged.B.shape;
    sample.B_paths = plan.B_paths ?? plan.A_paths;
  }
  return sample;
}

const printedWarnings = new Set<string>();

/**
 * Prints a transform warning once per process, like the reference's __print_size_warning (which prints
 * only the first adjusted size).
 */
export function printWarningOnce(kind: string, message: string): void {
  if (printedWarnings.has(kind)) return;
  printedWarnings.add(kind);
  console.log(message);
}

/** Runs a whole plan in the calling thread. */
export function runSamplePlan(plan: SamplePlan, cache?: DecodedImageCache): Sample {
  const results = plan.jobs.map((job) => runImageJob(job, cache));
  for (const r of results) for (const w of r.warnings) printWarningOnce('make_power_2', w);
  return assembleSample(plan, results);
}
