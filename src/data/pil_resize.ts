/**
 * Exact port of PIL's `Image.resize(size, Image.BICUBIC)` for 8-bit "L" and "RGB" images (libImaging/Resample.c,
 * ImagingResample with box = the whole image). torchvision's Resize calls exactly this on PIL images, so the
 * reference's training crops depend on it bit for bit.
 *
 * PIL's resampler is not a plain 4-tap bicubic: it is a separable convolution whose support widens by the scale
 * factor when shrinking (antialiasing), with coefficients normalised to sum 1 and then rounded to fixed point
 * (PRECISION_BITS = 22) — horizontal pass first, then vertical, each rounding to uint8.
 */
import { RawImage8 } from './image';

/** Fixed-point fraction bits of the 8-bit resampler: 32 bits minus 8 for the sample minus 2 for the sign/overshoot. */
const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
/** Rounding offset added before the final shift (1 << (PRECISION_BITS - 1)). */
const HALF = 2 ** (PRECISION_BITS - 1);

/** Keys' cubic convolution with a = -0.5 (PIL's bicubic_filter), support 2. */
const BICUBIC_A = -0.5;
const BICUBIC_SUPPORT = 2.0;

function bicubicFilter(x: number): number {
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((BICUBIC_A + 2.0) * x - (BICUBIC_A + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * BICUBIC_A;
  return 0.0;
}

/** Per output pixel: first source index, number of taps, and ksize fixed-point weights. */
interface Coefficients {
  ksize: number;
  /** [xmin, count] pairs, one per output pixel. */
  bounds: Int32Array;
  /** outSize * ksize fixed-point weights (unused taps are 0). */
  weights: Int32Array;
}

/** PIL's precompute_coeffs followed by normalize_coeffs_8bpc, for the source range [in0, in1). */
function precomputeCoefficients(inSize: number, in0: number, in1: number, outSize: number): Coefficients {
  const scale = (in1 - in0) / outSize;
  const filterScale = Math.max(scale, 1.0);
  const support = BICUBIC_SUPPORT * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const invScale = 1.0 / filterScale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    // C casts to int, i.e. truncates toward zero, before clamping
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubicFilter((x + xmin - center + 0.5) * invScale);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const normalized = ww !== 0.0 ? k[x] / ww : k[x];
      // round half away from zero, then truncate like the C cast
      weights[xx * ksize + x] = normalized < 0 ? Math.trunc(-0.5 + normalized * ONE) : Math.trunc(0.5 + normalized * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

/** PIL's clip8: drop the fraction bits (arithmetic shift of the int32 sum, as in C) and clamp to 0..255. */
function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Horizontal pass over source rows [rowOffset, rowOffset + outHeight). Sums stay within int32 as in PIL
 * (|weights| sum to little more than 1 in fixed point), so `| 0` arithmetic is exact and fast.
 */
function resampleHorizontal(
  src: Uint8Array,
  srcWidth: number,
  channels: number,
  rowOffset: number,
  outWidth: number,
  outHeight: number,
  c: Coefficients,
): Uint8Array {
  const out = new Uint8Array(outWidth * outHeight * channels);
  const { ksize, bounds, weights } = c;
  if (channels === 3) {
    for (let yy = 0; yy < outHeight; yy++) {
      const rowStart = (yy + rowOffset) * srcWidth * 3;
      let o = yy * outWidth * 3;
      for (let xx = 0; xx < outWidth; xx++) {
        const count = bounds[xx * 2 + 1];
        const kOffset = xx * ksize;
        let s = rowStart + bounds[xx * 2] * 3;
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        for (let x = 0; x < count; x++, s += 3) {
          const w = weights[kOffset + x];
          s0 = (s0 + src[s] * w) | 0;
          s1 = (s1 + src[s + 1] * w) | 0;
          s2 = (s2 + src[s + 2] * w) | 0;
        }
        out[o++] = clip8(s0);
        out[o++] = clip8(s1);
        out[o++] = clip8(s2);
      }
    }
  } else {
    for (let yy = 0; yy < outHeight; yy++) {
      const rowStart = (yy + rowOffset) * srcWidth;
      let o = yy * outWidth;
      for (let xx = 0; xx < outWidth; xx++) {
        const count = bounds[xx * 2 + 1];
        const kOffset = xx * ksize;
        const s = rowStart + bounds[xx * 2];
        let s0 = HALF;
        for (let x = 0; x < count; x++) s0 = (s0 + src[s + x] * weights[kOffset + x]) | 0;
        out[o++] = clip8(s0);
      }
    }
  }
  return out;
}

/** Vertical pass; sums are exact integers, so accumulating row by row gives PIL's values in a cache-friendly order. */
function resampleVertical(
  src: Uint8Array,
  width: number,
  channels: number,
  outHeight: number,
  c: Coefficients,
): Uint8Array {
  const rowLength = width * channels;
  const out = new Uint8Array(rowLength * outHeight);
  const acc = new Int32Array(rowLength);
  const { ksize, bounds, weights } = c;
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = bounds[yy * 2];
    const count = bounds[yy * 2 + 1];
    acc.fill(HALF);
    for (let y = 0; y < count; y++) {
      const w = weights[yy * ksize + y];
      if (w === 0) continue;
      const rowStart = (ymin + y) * rowLength;
      for (let i = 0; i < rowLength; i++) acc[i] = (acc[i] + src[rowStart + i] * w) | 0;
    }
    const outRow = yy * rowLength;
    for (let i = 0; i < rowLength; i++) out[outRow + i] = clip8(acc[i]);
  }
  return out;
}

/**
 * `img.resize((width, height), Image.BICUBIC)` for an 8-bit gray or RGB image. Returns a copy even when the size
 * does not change (as PIL does). Gray+alpha / RGBA are refused: PIL premultiplies alpha for those.
 */
export function resizeBicubic(img: RawImage8, width: number, height: number): RawImage8 {
  if (img.channels !== 1 && img.channels !== 3) {
    throw new Error(`Expected a gray or RGB image for resizeBicubic but received ${img.channels} channels`);
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`Expected a positive integer size for resizeBicubic but received ${width}x${height}`);
  }
  const channels = img.channels;
  const inW = img.width;
  const inH = img.height;
  if (inW === width && inH === height) {
    return { data: img.data.slice(), width, height, channels, bitDepth: 8 };
  }
  // ImagingResampleInner: a pass is skipped when its dimension does not change (box is the whole image)
  const needHorizontal = width !== inW;
  const needVertical = height !== inH;
  const horizontal = precomputeCoefficients(inW, 0, inW, width);
  const vertical = precomputeCoefficients(inH, 0, inH, height);

  let data = img.data;
  let currentWidth = inW;
  if (needHorizontal) {
    // only the source rows the vertical pass will read are resampled horizontally
    const firstRow = vertical.bounds[0];
    const lastRow = vertical.bounds[height * 2 - 2] + vertical.bounds[height * 2 - 1];
    for (let i = 0; i < height; i++) vertical.bounds[i * 2] -= firstRow;
    data = resampleHorizontal(data, inW, channels, firstRow, width, lastRow - firstRow, horizontal);
    currentWidth = width;
  }
  if (needVertical) {
    data = resampleVertical(data, currentWidth, channels, height, vertical);
  }
  return { data, width, height, channels, bitDepth: 8 };
}
