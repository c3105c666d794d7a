/**
 * Port of the reference's data/base_dataset.py `get_params` / `get_transform` and util.tensor2im.
 *
 * The reference builds a torchvision pipeline that draws random numbers while it runs. Here the random
 * decisions are taken first, in the reference's order, by `planTransform` (main thread, injected Rng), which
 * yields plain `TransformSteps`; `applyTransform` then runs them deterministically — in a worker thread if
 * the loader wants — so decoding can be parallel without changing which numbers are drawn.
 */
import { blankImage8, RawImage8 } from './image';
import { ImageFileError } from './image_errors';
import { toGray8 } from './image_io';
import { resizeBicubic } from './pil_resize';

/** Random source, Python `random`-compatible in the lead's implementation (MT19937). */
export interface Rng {
  /** Uniform in [0, 1), like Python's random.random(). */
  random(): number;
  /** Uniform integer in [a, b], both inclusive, like Python's random.randint(a, b). */
  randint(a: number, b: number): number;
}

/** The options get_transform reads (reference names). */
export interface TransformOptions {
  preprocess: string;
  load_size: number;
  crop_size: number;
  no_flip: boolean;
}

/** get_params' result: where the aligned pair is cropped and whether it is flipped. */
export interface TransformParams {
  cropPos: [number, number];
  flip: boolean;
}

export type ResizeStep =
  /** transforms.Resize([load_size, load_size]) — square, aspect ratio not kept. */
  | { kind: 'square'; size: number }
  /** __scale_width(img, load_size, crop_size). */
  | { kind: 'scale_width'; targetWidth: number; cropSize: number };

/** A get_transform pipeline with every random decision already taken. Plain data: it crosses worker_threads. */
export interface TransformSteps {
  grayscale: boolean;
  resize: ResizeStep | null;
  /** __crop / RandomCrop at a decided position: crop (x, y, x+size, y+size) when the image is larger than size. */
  crop: { x: number; y: number; size: number } | null;
  /** preprocess == "none": round both sides to a multiple of 4. */
  makePower2: boolean;
  flip: boolean;
}

/** Result of running the steps: the image, plus the one-time size warning of __make_power_2 if it applied. */
export interface TransformResult {
  image: RawImage8;
  warning?: string;
}

/** get_params(opt, size): draws x, then y, then flip — always all three, even with --no_flip. */
export function getParams(opt: TransformOptions, size: [number, number], rng: Rng): TransformParams {
  const [w, h] = size;
  let newW = w;
  let newH = h;
  if (opt.preprocess === 'resize_and_crop') {
    newW = newH = opt.load_size;
  } else if (opt.preprocess === 'scale_width_and_crop') {
    newW = opt.load_size;
    newH = Math.floor((opt.load_size * h) / w);
  }
  const x = rng.randint(0, Math.max(0, newW - opt.crop_size));
  const y = rng.randint(0, Math.max(0, newH - opt.crop_size));
  const flip = rng.random() > 0.5;
  return { cropPos: [x, y], flip };
}

/** Size after the resize step of get_transform, for an input of `size` (needed to place a random crop). */
export function sizeAfterResize(opt: TransformOptions, size: [number, number]): [number, number] {
  if (opt.preprocess.includes('resize')) return [opt.load_size, opt.load_size];
  if (opt.preprocess.includes('scale_width')) return scaleWidthSize(size, opt.load_size, opt.crop_size);
  return size;
}

/** True when get_transform's random crop needs the source size (it does not after a square resize). */
export function cropNeedsSourceSize(opt: TransformOptions): boolean {
  return opt.preprocess.includes('crop') && !opt.preprocess.includes('resize');
}

export interface PlanTransformArgs {
  grayscale: boolean;
  /** get_params' result (aligned datasets); null = torchvision RandomCrop / RandomHorizontalFlip draws. */
  params: TransformParams | null;
  /** Source image size, needed for a random crop unless the image is first resized to a square. */
  sourceSize: [number, number] | null;
  /** File the steps are for, named in errors. */
  file: string;
  rng: Rng;
}

/**
 * get_transform(opt, params, grayscale) with its random draws taken now: RandomCrop draws top (y) then left (x)
 * — and nothing when the image already has the crop size — then RandomHorizontalFlip draws one number.
 * Refuses an image smaller than --crop_size when cropping (the reference crashes or pads with black there).
 */
export function planTransform(opt: TransformOptions, args: PlanTransformArgs): TransformSteps {
  const { params, rng } = args;
  let resize: ResizeStep | null = null;
  if (opt.preprocess.includes('resize')) resize = { kind: 'square', size: opt.load_size };
  else if (opt.preprocess.includes('scale_width')) {
    resize = { kind: 'scale_width', targetWidth: opt.load_size, cropSize: opt.crop_size };
  }

  let crop: TransformSteps['crop'] = null;
  if (opt.preprocess.includes('crop')) {
    const cropSize = opt.crop_size;
    const resized = resize?.kind === 'square' ? ([opt.load_size, opt.load_size] as [number, number]) : null;
    const size = resized ?? (args.sourceSize ? sizeAfterResize(opt, args.sourceSize) : null);
    if (size) assertCroppable(opt, args.file, args.sourceSize, size);
    if (params) {
      crop = { x: params.cropPos[0], y: params.cropPos[1], size: cropSize };
    } else {
      if (!size) throw new Error(`planTransform needs the size of ${args.file} to place a random crop`);
      const [w, h] = size;
      if (w === cropSize && h === cropSize) crop = { x: 0, y: 0, size: cropSize };
      else {
        const top = rng.randint(0, h - cropSize);
        const left = rng.randint(0, w - cropSize);
        crop = { x: left, y: top, size: cropSize };
      }
    }
  }

  let flip = false;
  if (!opt.no_flip) flip = params ? params.flip : rng.random() < 0.5;
  return { grayscale: args.grayscale, resize, crop, makePower2: opt.preprocess === 'none', flip };
}

function assertCroppable(
  opt: TransformOptions,
  file: string,
  sourceSize: [number, number] | null,
  size: [number, number],
): void {
  const [w, h] = size;
  if (w >= opt.crop_size && h >= opt.crop_size) return;
  const source = sourceSize ? `${sourceSize[0]}x${sourceSize[1]}` : 'an image';
  const after =
    sourceSize && (sourceSize[0] !== w || sourceSize[1] !== h)
      ? ` (${w}x${h} after --preprocess ${opt.preprocess} with --load_size ${opt.load_size})`
      : '';
  throw new ImageFileError(
    file,
    `is ${source}${after}, smaller than --crop_size ${opt.crop_size}; use --preprocess resize_and_crop ` +
      `(with --load_size >= --crop_size) or a smaller --crop_size`,
  );
}

/** Runs the planned steps on an RGB (or gray) 8-bit image, in get_transform's order. */
export function applyTransform(img: RawImage8, steps: TransformSteps): TransformResult {
  const prefix = applyFixedSteps(img, steps);
  return { image: applyRandomSteps(prefix.image, steps), warning: prefix.warning };
}

/**
 * The steps that do not depend on random draws: grayscale, resize, and __make_power_2 when nothing is cropped
 * (preprocess "none"). Their result is what the loader caches between epochs.
 */
export function applyFixedSteps(img: RawImage8, steps: TransformSteps): TransformResult {
  let out: RawImage8 = steps.grayscale ? toGray8(img) : img;
  if (steps.resize?.kind === 'square') {
    out = resizeBicubic(out, steps.resize.size, steps.resize.size);
  } else if (steps.resize?.kind === 'scale_width') {
    const [w, h] = scaleWidthSize([out.width, out.height], steps.resize.targetWidth, steps.resize.cropSize);
    if (w !== out.width || h !== out.height) out = resizeBicubic(out, w, h);
  }
  if (steps.makePower2 && !steps.crop) return makePower2(out);
  return { image: out };
}

/** The steps after the fixed ones: crop (then __make_power_2 if it could not go before), flip. */
export function applyRandomSteps(img: RawImage8, steps: TransformSteps): RawImage8 {
  let out = img;
  if (steps.crop && needsCrop(out, steps.crop.size)) {
    out = cropImage(out, steps.crop.x, steps.crop.y, steps.crop.size, steps.crop.size);
  }
  if (steps.makePower2 && steps.crop) out = makePower2(out).image;
  if (steps.flip) out = flipHorizontal(out);
  return out;
}

/** __crop only crops when the image is larger than the crop in some direction. */
function needsCrop(img: RawImage8, size: number): boolean {
  return img.width > size || img.height > size;
}

function makePower2(img: RawImage8): TransformResult {
  const [w, h] = makePower2Size([img.width, img.height], 4);
  if (w === img.width && h === img.height) return { image: img };
  const warning =
    `The image size needs to be a multiple of 4. The loaded image size was (${img.width}, ${img.height}), ` +
    `so it was adjusted to (${w}, ${h}). This adjustment will be done to all images whose sizes are not multiples of 4`;
  return { image: resizeBicubic(img, w, h), warning };
}

/**
 * applyRandomSteps followed by toNormalizedTensor in one pass (crop, flip and ToTensor+Normalize read each
 * sample once): what the loader runs every epoch on a cached image.
 */
export function randomStepsToTensor(img: RawImage8, steps: TransformSteps): { data: Float32Array; shape: [number, number, number] } {
  if (steps.makePower2 && steps.crop) {
    const image = applyRandomSteps(img, steps);
    return { data: toNormalizedTensor(image), shape: [image.channels, image.height, image.width] };
  }
  const crop = steps.crop && needsCrop(img, steps.crop.size) ? steps.crop : null;
  const x0 = crop ? crop.x : 0;
  const y0 = crop ? crop.y : 0;
  const w = crop ? crop.size : img.width;
  const h = crop ? crop.size : img.height;
  const c = img.channels;
  const plane = w * h;
  const out = new Float32Array(plane * c);
  const zero = NORMALIZED_VALUE[0]; // PIL pads crops outside the image with 0
  for (let y = 0; y < h; y++) {
    const sy = y0 + y;
    const rowInside = sy >= 0 && sy < img.height;
    for (let x = 0; x < w; x++) {
      const sx = x0 + (steps.flip ? w - 1 - x : x);
      const inside = rowInside && sx >= 0 && sx < img.width;
      const s = (sy * img.width + sx) * c;
      const o = y * w + x;
      for (let ch = 0; ch < c; ch++) out[ch * plane + o] = inside ? NORMALIZED_VALUE[img.data[s + ch]] : zero;
    }
  }
  return { data: out, shape: [c, h, w] };
}

/** __scale_width: width becomes target; height keeps the aspect ratio but never drops below crop_size. */
export function scaleWidthSize(size: [number, number], targetWidth: number, cropSize: number): [number, number] {
  const [ow, oh] = size;
  if (ow === targetWidth && oh >= cropSize) return [ow, oh];
  return [targetWidth, Math.trunc(Math.max((targetWidth * oh) / ow, cropSize))];
}

/** __make_power_2 (despite its name: the nearest multiple of base, Python round = half to even). */
export function makePower2Size(size: [number, number], base: number): [number, number] {
  return [Math.trunc(roundHalfEven(size[0] / base) * base), Math.trunc(roundHalfEven(size[1] / base) * base)];
}

/** Python 3 round(): ties go to the even neighbour (2.5 → 2, 3.5 → 4). */
export function roundHalfEven(v: number): number {
  const floor = Math.floor(v);
  const diff = v - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** PIL crop((x, y, x+w, y+h)): areas outside the source are filled with 0. */
export function cropImage(img: RawImage8, x: number, y: number, w: number, h: number): RawImage8 {
  const c = img.channels;
  const out = blankImage8(w, h, c);
  const x0 = Math.max(0, x);
  const x1 = Math.min(img.width, x + w);
  if (x1 <= x0) return out;
  for (let row = 0; row < h; row++) {
    const sy = y + row;
    if (sy < 0 || sy >= img.height) continue;
    const srcStart = (sy * img.width + x0) * c;
    out.data.set(img.data.subarray(srcStart, srcStart + (x1 - x0) * c), (row * w + (x0 - x)) * c);
  }
  return out;
}

/** PIL transpose(FLIP_LEFT_RIGHT). */
export function flipHorizontal(img: RawImage8): RawImage8 {
  const { width, height, channels: c } = img;
  const out = blankImage8(width, height, c);
  for (let y = 0; y < height; y++) {
    const row = y * width * c;
    for (let x = 0; x < width; x++) {
      const s = row + x * c;
      const d = row + (width - 1 - x) * c;
      for (let ch = 0; ch < c; ch++) out.data[d + ch] = img.data[s + ch];
    }
  }
  return out;
}

/**
 * ToTensor() then Normalize(0.5, 0.5) in float32, as torch computes them: (float32(v / 255) - 0.5) / 0.5.
 * Indexed by the uint8 sample value.
 */
const NORMALIZED_VALUE = (() => {
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = Math.fround(Math.fround(v / 255) - 0.5) / 0.5;
  return lut;
})();

/** HWC uint8 image → CHW float32 in [-1, 1] (ToTensor + Normalize). */
export function toNormalizedTensor(img: RawImage8): Float32Array {
  const { width, height, channels: c } = img;
  const plane = width * height;
  const out = new Float32Array(plane * c);
  for (let ch = 0; ch < c; ch++) {
    const base = ch * plane;
    for (let p = 0, s = ch; p < plane; p++, s += c) out[base + p] = NORMALIZED_VALUE[img.data[s]];
  }
  return out;
}

export interface TensorToImageOptions {
  /** Keep a 1-channel tensor as a 1-channel image instead of tiling it to RGB as tensor2im does. */
  singleChannel?: boolean;
}

/**
 * util.tensor2im for one CHW image: (x + 1) / 2 * 255 in float32, then uint8 by truncation toward zero as
 * numpy's astype does. Values outside 0..255 (a generator overshooting tanh's range, NaN) are clamped to 0..255
 * here; numpy would wrap them, which is never what anyone wants in a saved image.
 */
export function tensorToImage(
  chw: Float32Array,
  c: number,
  h: number,
  w: number,
  options: TensorToImageOptions = {},
): RawImage8 {
  if (chw.length < c * h * w) {
    throw new Error(`Expected at least ${c * h * w} values for a ${c}x${h}x${w} tensor but received ${chw.length}`);
  }
  if (c !== 1 && c !== 3) throw new Error(`Expected 1 or 3 channels for tensorToImage but received ${c}`);
  const outChannels = c === 1 && options.singleChannel ? 1 : 3;
  const plane = h * w;
  const out = blankImage8(w, h, outChannels);
  for (let oc = 0; oc < outChannels; oc++) {
    const base = (c === 1 ? 0 : oc) * plane; // 1 channel is tiled
    for (let p = 0; p < plane; p++) {
      const v = Math.fround(Math.fround(Math.fround(chw[base + p] + 1) / 2) * 255);
      out.data[p * outChannels + oc] = v >= 255 ? 255 : v > 0 ? Math.trunc(v) : 0;
    }
  }
  return out;
}

