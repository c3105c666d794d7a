// One translation from input to output, run inside a generator's worker thread: decode, colour/bit-depth
// conversion, normalization, reflect padding (or tiling with blended overlaps), the forwards (given as a
// function), de-normalization and encoding. Nothing here may run on the caller's thread.
import { decodeImage, encodeJpeg, encodePng, readImageFile, toGray8, toRGB8 } from '../data/image_io';
import type { RawImage } from '../data/image';
import { toNormalizedTensor, tensorToImage } from '../data/transforms';
import { cropCHW, paddedSize, reflectPadCHW, roundUp } from './padding';
import { ImageFileError } from '../data/image_errors';
import { OptionError } from '../options/option_errors';
import type { Precision } from '../precision';

/** Raw interleaved pixels (HWC). 16-bit data (Uint16Array) is scaled by its bit depth. */
export interface RawPixels {
  data: Uint8Array | Uint8ClampedArray | Uint16Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}
/** An image file path, an encoded PNG/JPEG, or raw pixels. */
export type TranslateInput = string | Buffer | Uint8Array | RawPixels;

/** Translating in blended tiles: bounded memory for any image size. */
export interface TileOptions {
  /** Tile side in pixels (rounded up to the generator's size multiple). */
  size: number;
  /** Pixels shared by neighbouring tiles, blended linearly (default size/8). */
  overlap?: number;
}

/** translate()'s output: an encoded PNG or JPEG Buffer, or raw uint8 pixels. */
export type OutputFormat = 'png' | 'jpeg' | 'raw';

/** What a job needs from the options (the serializable part: no callbacks, no signal). */
export interface JobOptions {
  output?: OutputFormat;
  quality?: number;
  tile?: TileOptions;
  mode?: 'eval' | 'train';
  /** Overrides the generator's precision for this call (checked by Generator.translate). */
  precision?: Precision;
}

export interface JobContext {
  inputNc: number;
  outputNc: number;
  /** The size multiple of the generator's input. */
  multiple: number;
  /** The generator's architecture (sets the padded size with the multiple). */
  arch: string;
  maxImagePixels: number;
  /** Memory one forward may take; larger images are tiled automatically (see forwardBytesPerPixel). */
  maxForwardBytes: number;
  /** Estimated peak memory of a forward per padded input pixel. */
  forwardBytesPerPixel: number;
  mode: 'eval' | 'train';
  /** One forward of a [1, c, h, w] float32 input, resolving with the output's values. */
  forward(data: Float32Array, shape: number[], mode: 'eval' | 'train'): Promise<Float32Array>;
  /** Throws when the job was cancelled (checked before every forward). */
  checkCancelled(): void;
  note(text: string): void;
  /** Called after each tile (tiled jobs only). */
  progress?(done: number, total: number): void;
}

/** The result before it crosses back: an encoded image or raw uint8 pixels. */
export type JobOutput = { encoded: Uint8Array } | { raw: { data: Uint8Array; width: number; height: number; channels: 1 | 3 } };

export async function runTranslateJob(input: TranslateInput, options: JobOptions, ctx: JobContext): Promise<JobOutput> {
  const c = ctx.inputNc;
  const { chw, w, h } = normalizedInput(input, ctx);
  const mode = options.mode ?? ctx.mode;
  const oc = ctx.outputNc;
  if (oc !== 1 && oc !== 3) throw new Error(`generator has ${oc} output channels; only 1 or 3 can be saved as an image (use forwardAsync on the network)`);
  const tile = options.tile ?? automaticTile(h, w, ctx);
  const outChw = tile ? await forwardTiled(chw, c, h, w, tile, mode, ctx) : await forwardPadded(chw, c, h, w, mode, ctx);
  const out = tensorToImage(outChw, oc, h, w, { singleChannel: true });
  const fmt = options.output ?? 'png';
  if (fmt === 'raw') return { raw: { data: out.data, width: w, height: h, channels: out.channels as 1 | 3 } };
  if (fmt === 'jpeg') return { encoded: encodeJpeg(out, options.quality ?? 90) };
  if (fmt === 'png') return { encoded: encodePng(out) };
  throw new OptionError(`Expected 'png', 'jpeg' or 'raw' for output but received '${String(fmt)}'`, 'output');
}

/** A raw-pixels input that does not add up: a bad image like a corrupt file (ERR_IMG2IMG_BAD_IMAGE). */
function badRaw(message: string): ImageFileError {
  const e = new ImageFileError('raw pixels', '');
  e.message = message;
  return e;
}

/** The input as CHW floats in [-1, 1]; a function of its own so the decoded image is garbage before the forwards. */
function normalizedInput(input: TranslateInput, ctx: JobContext): { chw: Float32Array; w: number; h: number } {
  const img = toInputImage(input, ctx);
  return { chw: toNormalizedTensor(ctx.inputNc === 1 ? toGray8(img) : toRGB8(img)), w: img.width, h: img.height };
}

function toInputImage(input: TranslateInput, ctx: JobContext): RawImage {
  let img: RawImage;
  if (typeof input === 'string') img = readImageFile(input, { maxPixels: ctx.maxImagePixels });
  else if (input instanceof Uint8Array && !('width' in input)) {
    img = decodeImage(input, { name: 'input image buffer', maxPixels: ctx.maxImagePixels });
  } else if (input && typeof input === 'object' && 'data' in input) {
    const { width, height, channels } = input;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw badRaw(`Expected positive integer width and height for raw pixels but received ${width}x${height}`);
    }
    if (![1, 2, 3, 4].includes(channels)) throw badRaw(`Expected 1, 2, 3 or 4 for raw pixels channels but received ${channels}`);
    if (width * height > ctx.maxImagePixels) throw badRaw(`raw image ${width}x${height} is over the limit of ${ctx.maxImagePixels} pixels`);
    if (input.data.length !== width * height * channels) {
      throw badRaw(`Expected ${width * height * channels} values for ${width}x${height}x${channels} raw pixels but received ${input.data.length}`);
    }
    const wide = input.data instanceof Uint16Array;
    img = { data: wide ? input.data as Uint16Array : new Uint8Array(input.data.buffer, input.data.byteOffset, input.data.length), width, height, channels, bitDepth: wide ? 16 : 8 };
  } else {
    throw new TypeError('Expected a file path, an encoded image Buffer or raw pixels {data, width, height, channels} for translate input');
  }
  if (img.channels === 4 || img.channels === 2) ctx.note('alpha channel dropped (the generator takes ' + (ctx.inputNc === 1 ? 'grayscale' : 'RGB') + ')');
  if (img.bitDepth === 16) ctx.note('16-bit input scaled to 8 bits by its bit depth');
  return img;
}

/** Default of maxForwardBytes. */
export const DEFAULT_MAX_FORWARD_BYTES = 4 * 2 ** 30;

/**
 * Peak memory of a forward per input pixel. Measured on CPU (resnet and unet, ngf 4 to 64, eval mode): about
 * 100 + 20 * ngf bytes (a 7000x7000 image at ngf 4 took 7.4 GB); this rounds up for headroom. The pixel limit alone
 * would let one forward take many gigabytes, hence the automatic tiles.
 */
export function forwardBytesPerPixel(ngf: number): number {
  return 128 + 24 * ngf;
}

/** Tiles that keep each forward within maxForwardBytes, or undefined when the whole image fits. */
function automaticTile(h: number, w: number, ctx: JobContext): TileOptions | undefined {
  const perPixel = ctx.forwardBytesPerPixel;
  const whole = roundUp(h, ctx.multiple) * roundUp(w, ctx.multiple) * perPixel;
  if (whole <= ctx.maxForwardBytes) return undefined;
  const side = Math.max(ctx.multiple, Math.floor(Math.sqrt(ctx.maxForwardBytes / perPixel) / ctx.multiple) * ctx.multiple);
  const size = (n: number) => (n >= 2 ** 30 ? `${+(n / 2 ** 30).toFixed(1)} GiB` : `${+(n / 2 ** 20).toFixed(1)} MiB`);
  ctx.note(`translated in ${side}x${side} tiles: one forward of ${w}x${h} would take about ${size(whole)}, over maxForwardBytes (${size(ctx.maxForwardBytes)})`);
  return { size: side };
}

/** One forward of a whole image, reflect-padded to the size multiple and cropped back. */
async function forwardPadded(chw: Float32Array, c: number, h: number, w: number, mode: 'eval' | 'train', ctx: JobContext): Promise<Float32Array> {
  const h2 = paddedSize(h, ctx.arch), w2 = paddedSize(w, ctx.arch);
  const padded = reflectPadCHW(chw, c, h, w, h2, w2);
  ctx.checkCancelled();
  const y = await ctx.forward(padded, [1, c, h2, w2], mode);
  return cropCHW(y, ctx.outputNc, h2, w2, h, w);
}

/**
 * Tiled translation: tiles of tile.size (a multiple of the generator's) overlapping by tile.overlap, blended
 * with linear ramps. A cancelled job stops before its next tile.
 */
async function forwardTiled(chw: Float32Array, c: number, h: number, w: number, tile: TileOptions, mode: 'eval' | 'train', ctx: JobContext): Promise<Float32Array> {
  const size = roundUp(Math.max(tile.size, ctx.multiple), ctx.multiple);
  const overlap = Math.min(Math.max(0, Math.floor(tile.overlap ?? size / 8)), size / 2);
  if (h <= size && w <= size) return forwardPadded(chw, c, h, w, mode, ctx);
  const stride = size - overlap;
  const starts = (n: number) => {
    const s: number[] = [];
    for (let p = 0; ; p += stride) { if (p + size >= n) { s.push(Math.max(0, n - size)); break; } s.push(p); }
    return [...new Set(s)];
  };
  const ys = starts(h), xs = starts(w);
  const total = ys.length * xs.length;
  let done = 0;
  const oc = ctx.outputNc;
  const out = new Float32Array(oc * h * w);
  const weight = new Float32Array(h * w);
  const ramp = (i: number, n: number, lo: boolean, hi: boolean) => {
    let v = 1;
    if (lo && i < overlap) v = Math.min(v, (i + 1) / (overlap + 1));
    if (hi && i >= n - overlap) v = Math.min(v, (n - i) / (overlap + 1));
    return v;
  };
  for (const y0 of ys) {
    const th = Math.min(size, h - y0);
    for (const x0 of xs) {
      const tw = Math.min(size, w - x0);
      const tileIn = new Float32Array(c * th * tw);
      for (let ch = 0; ch < c; ch++) for (let y = 0; y < th; y++) {
        tileIn.set(chw.subarray(ch * h * w + (y0 + y) * w + x0, ch * h * w + (y0 + y) * w + x0 + tw), ch * th * tw + y * tw);
      }
      const tileOut = await forwardPadded(tileIn, c, th, tw, mode, ctx);
      for (let y = 0; y < th; y++) {
        const wy = ramp(y, th, y0 > 0, y0 + th < h);
        for (let x = 0; x < tw; x++) {
          const wgt = wy * ramp(x, tw, x0 > 0, x0 + tw < w);
          const p = (y0 + y) * w + x0 + x;
          weight[p] += wgt;
          for (let ch = 0; ch < oc; ch++) out[ch * h * w + p] += wgt * tileOut[ch * th * tw + y * tw + x];
        }
      }
      ctx.progress?.(++done, total);
    }
  }
  for (let p = 0; p < h * w; p++) for (let ch = 0; ch < oc; ch++) out[ch * h * w + p] /= weight[p];
  return out;
}
