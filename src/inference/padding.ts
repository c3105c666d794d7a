// The reflect padding that satisfies a generator's size rule (the rules themselves are in src/architectures.ts).
// Inputs are padded (mirror) up to the multiple and outputs cropped back, so any size works.
import { minInputSize, sizeMultiple } from '../architectures';

/** The padded side for an input side n: the next multiple, and at least the minimum size. */
export function paddedSize(n: number, arch: string): number {
  return Math.max(roundUp(n, sizeMultiple(arch)), minInputSize(arch));
}

export function roundUp(v: number, multiple: number): number { return Math.ceil(v / multiple) * multiple; }

/** Mirror index for any offset (reflection without repeating the edge; period 2(n-1)). */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let k = ((i % period) + period) % period;
  if (k >= n) k = period - k;
  return k;
}

/**
 * Pads a CHW float image to (h2, w2) by reflection: the original sits at the top-left, padding extends right and
 * down (so cropping back is a plain top-left crop).
 */
export function reflectPadCHW(src: Float32Array, c: number, h: number, w: number, h2: number, w2: number): Float32Array {
  if (h2 === h && w2 === w) return src;
  const out = new Float32Array(c * h2 * w2);
  for (let ch = 0; ch < c; ch++) {
    const sBase = ch * h * w, dBase = ch * h2 * w2;
    for (let y = 0; y < h2; y++) {
      const sy = reflectIndex(y, h);
      const sRow = sBase + sy * w, dRow = dBase + y * w2;
      for (let x = 0; x < w; x++) out[dRow + x] = src[sRow + x];
      for (let x = w; x < w2; x++) out[dRow + x] = src[sRow + reflectIndex(x, w)];
    }
  }
  return out;
}

/** Crops the top-left (h, w) of a CHW image of size (h2, w2). */
export function cropCHW(src: Float32Array, c: number, h2: number, w2: number, h: number, w: number): Float32Array {
  if (h2 === h && w2 === w) return src;
  const out = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      out.set(src.subarray(ch * h2 * w2 + y * w2, ch * h2 * w2 + y * w2 + w), ch * h * w + y * w);
    }
  }
  return out;
}
