/**
 * Paired image metrics on 8-bit images, computed as scikit-image 0.19 computes them (float64 throughout):
 * - psnr: skimage.metrics.peak_signal_noise_ratio (data_range 255 for uint8);
 * - ssim: skimage.metrics.structural_similarity(channel_axis=-1), with its defaults (7x7 uniform window, sample
 *   covariance) or the Wang et al. variant (gaussian_weights=True, sigma=1.5, use_sample_covariance=False);
 *   scipy.ndimage's filters with mode 'reflect' (edge sample repeated), the mean over the window-cropped map, then
 *   over channels;
 * - l1: the mean absolute difference on the 0-255 scale.
 */
import type { RawImage8 } from '../data/image';
import { MetricError } from './metric_errors';

const DATA_RANGE_8BIT = 255;
const K1 = 0.01;
const K2 = 0.03;
/** scipy.ndimage.gaussian_filter's default truncate, which fixes skimage's Gaussian window (radius 5 at sigma 1.5). */
const GAUSSIAN_TRUNCATE = 3.5;
const UNIFORM_WIN_SIZE = 7;

/** SSIM's window: scikit-image's defaults, or its Gaussian variant. */
export interface SsimOptions {
  /** Gaussian window (skimage gaussian_weights). Default false: a 7x7 uniform window. */
  gaussianWeights?: boolean;
  /** Gaussian sigma; default 1.5. */
  sigma?: number;
  /** N/(N-1) normalised covariances (skimage's default true). */
  useSampleCovariance?: boolean;
}

function checkPair(a: RawImage8, b: RawImage8, what: string): void {
  if (a.width !== b.width || a.height !== b.height || a.channels !== b.channels) {
    throw new MetricError('ERR_IMG2IMG_METRIC_SHAPE_MISMATCH', `an image of ${a.width}x${a.height}x${a.channels} (the first image's size)`, what, `${b.width}x${b.height}x${b.channels}`);
  }
  if (a.bitDepth !== 8 || b.bitDepth !== 8) throw new MetricError('ERR_IMG2IMG_METRIC_BAD_IMAGE', '8-bit images', what, `${a.bitDepth}- and ${b.bitDepth}-bit`);
}

/** Mean absolute difference, 0-255 scale. */
export function l1(a: RawImage8, b: RawImage8): number {
  checkPair(a, b, 'L1');
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i] - b.data[i]);
  return sum / a.data.length;
}

/** peak_signal_noise_ratio(trueImage, testImage): Infinity for identical images. */
export function psnr(trueImage: RawImage8, testImage: RawImage8): number {
  checkPair(trueImage, testImage, 'PSNR');
  let sum = 0;
  for (let i = 0; i < trueImage.data.length; i++) { const d = trueImage.data[i] - testImage.data[i]; sum += d * d; }
  const mse = sum / trueImage.data.length;
  return 10 * Math.log10((DATA_RANGE_8BIT * DATA_RANGE_8BIT) / mse);
}

/** scipy.ndimage mode 'reflect' (d c b a | a b c d | d c b a) index into [0, n). */
function reflectIndex(i: number, n: number): number {
  const period = 2 * n;
  let j = ((i % period) + period) % period;
  if (j >= n) j = period - 1 - j;
  return j;
}

/** 1-D correlation along rows then columns with a symmetric kernel (scipy's separable filters, axis 0 first). */
function separableFilter(src: Float64Array, width: number, height: number, kernel: Float64Array): Float64Array {
  const r = (kernel.length - 1) / 2;
  const tmp = new Float64Array(src.length);
  const out = new Float64Array(src.length);
  // Axis 0 (down the columns).
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) s += kernel[k + r] * src[reflectIndex(y + k, height) * width + x];
      tmp[y * width + x] = s;
    }
  }
  // Axis 1 (along the rows).
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) s += kernel[k + r] * tmp[row + reflectIndex(x + k, width)];
      out[row + x] = s;
    }
  }
  return out;
}

/** scipy.ndimage's _gaussian_kernel1d: exp(-x²/2σ²) over [-radius, radius], normalised to sum 1. */
function gaussianKernel(sigma: number, radius: number): Float64Array {
  const k = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let x = -radius; x <= radius; x++) { k[x + radius] = Math.exp((-0.5 / (sigma * sigma)) * x * x); sum += k[x + radius]; }
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/** Mean SSIM over channels, as structural_similarity(a, b, channel_axis=-1, …). */
export function ssim(a: RawImage8, b: RawImage8, options: SsimOptions = {}): number {
  checkPair(a, b, 'SSIM');
  const gaussian = options.gaussianWeights ?? false;
  const sigma = options.sigma ?? 1.5;
  if (!(sigma > 0)) throw new MetricError('ERR_IMG2IMG_METRIC_BAD_OPTION', 'a positive number', 'SSIM sigma', String(options.sigma));
  const radius = gaussian ? Math.trunc(GAUSSIAN_TRUNCATE * sigma + 0.5) : (UNIFORM_WIN_SIZE - 1) / 2;
  const winSize = 2 * radius + 1;
  const { width, height, channels } = a;
  if (width < winSize || height < winSize) {
    throw new MetricError('ERR_IMG2IMG_METRIC_BAD_IMAGE', `images of at least ${winSize}x${winSize} pixels (the SSIM window)`, 'SSIM', `${width}x${height}`);
  }
  // skimage's uniform_filter is a box average; the Gaussian one is scipy's normalised kernel.
  const kernel = gaussian ? gaussianKernel(sigma, radius) : new Float64Array(winSize).fill(1 / winSize);
  const np = winSize * winSize;
  const covNorm = (options.useSampleCovariance ?? true) ? np / (np - 1) : 1;
  const c1 = (K1 * DATA_RANGE_8BIT) ** 2;
  const c2 = (K2 * DATA_RANGE_8BIT) ** 2;
  const n = width * height;
  let total = 0;
  for (let ch = 0; ch < channels; ch++) {
    const x = new Float64Array(n), y = new Float64Array(n), xx = new Float64Array(n), yy = new Float64Array(n), xy = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const p = a.data[i * channels + ch], q = b.data[i * channels + ch];
      x[i] = p; y[i] = q; xx[i] = p * p; yy[i] = q * q; xy[i] = p * q;
    }
    const ux = separableFilter(x, width, height, kernel);
    const uy = separableFilter(y, width, height, kernel);
    const uxx = separableFilter(xx, width, height, kernel);
    const uyy = separableFilter(yy, width, height, kernel);
    const uxy = separableFilter(xy, width, height, kernel);
    // The map's mean over the region the window fits in (skimage's crop(S, pad)).
    let sum = 0;
    for (let row = radius; row < height - radius; row++) {
      for (let col = radius; col < width - radius; col++) {
        const i = row * width + col;
        const vx = covNorm * (uxx[i] - ux[i] * ux[i]);
        const vy = covNorm * (uyy[i] - uy[i] * uy[i]);
        const vxy = covNorm * (uxy[i] - ux[i] * uy[i]);
        const a1 = 2 * ux[i] * uy[i] + c1, a2 = 2 * vxy + c2;
        const b1 = ux[i] * ux[i] + uy[i] * uy[i] + c1, b2 = vx + vy + c2;
        sum += (a1 * a2) / (b1 * b2);
      }
    }
    total += sum / ((height - 2 * radius) * (width - 2 * radius));
  }
  return total / channels;
}
