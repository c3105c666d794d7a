/**
 * evaluate(realDir, fakeDir) and evaluateResults(resultsDir): which image files to compare, and the numbers.
 * Paired metrics (L1, PSNR, SSIM) need the same file names in both folders (or a results folder's
 * <n>_fake_B/<n>_real_B pairs); FID and KID compare the two sets as distributions, whatever their pairing.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { RawImage8 } from '../data/image';
import { readImageFile, toRGB8 } from '../data/image_io';
import { isImageFile, sortLikePython } from '../data/make_dataset';
import { Tensor } from '../tensor';
import { FidInception } from './fid_inception';
import { resolveFidWeightsPath } from './fid_weights_location';
import { featureStatistics, frechetDistance, kernelInceptionDistance, KidOptions, KidResult } from './frechet';
import { l1, psnr, ssim, SsimOptions } from './image_metrics';
import { MetricError } from './metric_errors';

/** The metrics evaluate() can compute. */
export const METRICS = ['l1', 'psnr', 'ssim', 'fid', 'kid'] as const;
/** A metric evaluate() can compute. */
export type MetricName = (typeof METRICS)[number];
const PAIRED: readonly MetricName[] = ['l1', 'psnr', 'ssim'];
const DISTRIBUTIONAL: readonly MetricName[] = ['fid', 'kid'];

/** evaluate()'s options. */
export interface EvaluateOptions {
  /** Default: the paired metrics when the sets are paired, plus FID and KID when the weights file is there. */
  metrics?: readonly MetricName[];
  /** The FID Inception weights (default: resolveFidWeightsPath()). */
  fidWeights?: string;
  device?: string;
  batchSize?: number;
  ssim?: SsimOptions;
  kid?: KidOptions;
  /** An already loaded network (training reuses one across validations). */
  inception?: FidInception;
}

/** The metrics of a pair of image sets (those that apply and were asked for). */
export interface EvaluateResult {
  real: string;
  fake: string;
  images: { real: number; fake: number; pairs: number };
  l1?: number;
  psnr?: number;
  ssim?: number;
  fid?: number;
  kid?: KidResult;
  /** Why a default metric was left out. */
  notes: string[];
}

/** The image files to compare: `pairs` (same index = same image) when the sets are paired. */
export interface ImageSets { real: string[]; fake: string[]; paired: boolean; realLabel: string; fakeLabel: string }

function listImages(dir: string, what: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    throw new MetricError('ERR_IMG2IMG_METRIC_NO_PAIRS', 'a folder of images', what, `'${dir}' (not a readable folder)`);
  }
  return sortLikePython(names.filter(isImageFile)).map((n) => path.join(dir, n));
}

/** Two folders: paired when they hold the same file names. */
export function folderSets(realDir: string, fakeDir: string): ImageSets {
  const real = listImages(realDir, '--real');
  const fake = listImages(fakeDir, '--fake');
  const names = (files: string[]) => files.map((f) => path.basename(f)).join('\n');
  return { real, fake, paired: real.length > 0 && names(real) === names(fake), realLabel: realDir, fakeLabel: fakeDir };
}

/**
 * A folder written by `img2img test` (or its images/ folder): <n>_fake_B.png with <n>_real_B.png (pix2pix: pairs),
 * or CycleGAN's, compared as sets only: its fake_B and real_B come from different images (unaligned data), and
 * --model test's <n>_fake.png is the translation of <n>_real.png, an image of the other domain.
 */
export function resultSets(resultsDir: string): ImageSets {
  const imageDir = fs.existsSync(path.join(resultsDir, 'images')) ? path.join(resultsDir, 'images') : resultsDir;
  const files = listImages(imageDir, 'the results folder');
  const cycle = files.some((f) => /_rec_A\.[^.]+$/.test(f));
  const stemOf = (f: string) => f.slice(0, -path.extname(f).length);
  const byStem = new Map<string, string>();
  for (const f of files) if (!byStem.has(stemOf(f))) byStem.set(stemOf(f), f); // the first, as a search in order would
  for (const [fakeSuffix, realSuffix] of [['_fake_B', '_real_B'], ['_fake', '_real']]) {
    const real: string[] = [], fake: string[] = [];
    for (const f of files) {
      const stem = stemOf(f);
      if (!stem.endsWith(fakeSuffix)) continue;
      const partner = byStem.get(stem.slice(0, -fakeSuffix.length) + realSuffix);
      if (partner) { fake.push(f); real.push(partner); }
    }
    if (fake.length > 0) {
      return { real, fake, paired: fakeSuffix === '_fake_B' && !cycle, realLabel: `${imageDir} (*${realSuffix})`, fakeLabel: `${imageDir} (*${fakeSuffix})` };
    }
  }
  throw new MetricError('ERR_IMG2IMG_METRIC_NO_PAIRS', 'a results folder of img2img test (<n>_fake_B.png with <n>_real_B.png, or <n>_fake.png with <n>_real.png)', 'img2img eval', `'${resultsDir}' (${files.length} images, none paired)`);
}

function readRgb(file: string): RawImage8 {
  return toRGB8(readImageFile(file));
}

/** Chooses the metrics: asked ones must be computable; defaults drop what is not, with a note. */
function chooseMetrics(sets: ImageSets, options: EvaluateOptions, weights: string, notes: string[]): MetricName[] {
  if (options.metrics) {
    for (const m of options.metrics) {
      if (!(METRICS as readonly string[]).includes(m)) throw new MetricError('ERR_IMG2IMG_METRIC_BAD_OPTION', `one of ${METRICS.join(', ')}`, 'metrics', `'${m}'`);
      if (PAIRED.includes(m) && !sets.paired) {
        throw new MetricError('ERR_IMG2IMG_METRIC_NO_PAIRS', `paired images (the same file names in both folders) for ${m}`, `${sets.realLabel} and ${sets.fakeLabel}`, 'unpaired sets');
      }
    }
    return [...options.metrics];
  }
  const chosen: MetricName[] = sets.paired ? [...PAIRED] : [];
  if (!sets.paired) notes.push('L1, PSNR and SSIM skipped: the sets are not paired');
  if (Math.min(sets.real.length, sets.fake.length) < 2) notes.push('FID and KID skipped: they need at least 2 images per set');
  else if (options.inception || fs.existsSync(weights)) chosen.push(...DISTRIBUTIONAL);
  else notes.push(`FID and KID skipped: no FID Inception weights at ${weights} (img2img download model fid-inception)`);
  return chosen;
}

/** Computes the metrics of two image sets. */
export async function evaluateSets(sets: ImageSets, options: EvaluateOptions = {}): Promise<EvaluateResult> {
  const notes: string[] = [];
  const weights = options.fidWeights ?? resolveFidWeightsPath();
  const metrics = chooseMetrics(sets, options, weights, notes);
  if (sets.real.length === 0 || sets.fake.length === 0) {
    throw new MetricError('ERR_IMG2IMG_METRIC_TOO_FEW_IMAGES', 'images in both sets', `${sets.realLabel} and ${sets.fakeLabel}`, `${sets.real.length} and ${sets.fake.length}`);
  }
  const result: EvaluateResult = {
    real: sets.realLabel, fake: sets.fakeLabel,
    images: { real: sets.real.length, fake: sets.fake.length, pairs: sets.paired ? sets.real.length : 0 }, notes,
  };
  Object.assign(result, await measureImages(sets.real.map(readRgb), sets.fake.map(readRgb), metrics, { ...options, fidWeights: weights }));
  return result;
}

export type Measured = Pick<EvaluateResult, 'l1' | 'psnr' | 'ssim' | 'fid' | 'kid'>;

/**
 * The metrics of decoded images (index i of real and fake is one pair for the paired metrics). Loads the FID
 * network unless options.inception is given.
 */
export async function measureImages(real: readonly RawImage8[], fake: readonly RawImage8[], metrics: readonly MetricName[],
  options: EvaluateOptions = {}): Promise<Measured> {
  const out: Measured = {};
  const paired = { l1, psnr, ssim: (a: RawImage8, b: RawImage8) => ssim(a, b, options.ssim) };
  for (const m of ['l1', 'psnr', 'ssim'] as const) {
    if (metrics.includes(m)) out[m] = real.reduce((sum, r, i) => sum + paired[m](r, fake[i]), 0) / real.length;
  }
  if (metrics.some((m) => DISTRIBUTIONAL.includes(m))) {
    const inception = options.inception ?? FidInception.load(options.fidWeights ?? resolveFidWeightsPath(), { device: options.device });
    let fr: Tensor | null = null, ff: Tensor | null = null;
    try {
      fr = await inception.features(real, { batchSize: options.batchSize });
      ff = await inception.features(fake, { batchSize: options.batchSize });
      if (metrics.includes('fid')) out.fid = fid(fr, ff);
      if (metrics.includes('kid')) out.kid = kernelInceptionDistance(fr, ff, options.kid);
    } finally {
      fr?.dispose(); ff?.dispose();
      if (!options.inception) inception.dispose();
    }
  }
  return out;
}

/** FID of two pool3 feature sets. */
export function fid(real: Tensor, fake: Tensor): number {
  const a = featureStatistics(real), b = featureStatistics(fake);
  try {
    return frechetDistance(a, b);
  } finally {
    for (const s of [a, b]) { s.mu.dispose(); s.sigma.dispose(); }
  }
}

/** Metrics of two folders of images (public API). */
export async function evaluate(realDir: string, fakeDir: string, options: EvaluateOptions = {}): Promise<EvaluateResult> {
  return evaluateSets(folderSets(realDir, fakeDir), options);
}

/** Metrics of a folder written by `img2img test`. */
export async function evaluateResults(resultsDir: string, options: EvaluateOptions = {}): Promise<EvaluateResult> {
  return evaluateSets(resultSets(resultsDir), options);
}
