// The embedding API: load a trained generator once, translate many images without blocking the event loop.
//   const g = await loadGenerator('./checkpoints/facades');      // a run folder or a .pth/.safetensors file
//   const png = await g.translate('photo.jpg');                   // path, encoded Buffer, or raw pixels
// The forward runs on the libuv thread pool; decoding and encoding run on the calling thread.
import * as fs from 'fs';
import * as path from 'path';
import { describeStateDictGuess, guessArchitecture } from '../checkpoint/architecture_guess';
import { loadCheckpoint, LoadedCheckpoint } from '../checkpoint/network_checkpoint';
import { decodeImage, encodeJpeg, encodePng, readImageFile, toGray8, toRGB8, DEFAULT_MAX_IMAGE_PIXELS } from '../data/image_io';
import type { RawImage } from '../data/image';
import { toNormalizedTensor, tensorToImage } from '../data/transforms';
import { Network, NetworkDescription, networkFromDescription } from '../networks';
import { resolveDevice } from '../runtime';
import { Tensor } from '../tensor';
import { cropCHW, reflectPadCHW, roundUp, sizeMultiple } from './padding';

/** Raw interleaved pixels (HWC). 16-bit data (Uint16Array) is scaled by its bit depth. */
export interface RawPixels {
  data: Uint8Array | Uint8ClampedArray | Uint16Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}
export type TranslateInput = string | Buffer | Uint8Array | RawPixels;

export interface TileOptions {
  /** Tile side in pixels (rounded up to the generator's size multiple). */
  size: number;
  /** Pixels shared by neighbouring tiles, blended linearly (default size/8). */
  overlap?: number;
}

export interface TranslateOptions {
  /** 'png' (default) or 'jpeg' give an encoded Buffer; 'raw' gives RawPixels (uint8). */
  output?: 'png' | 'jpeg' | 'raw';
  /** JPEG quality (1-100, default 90). */
  quality?: number;
  /** Translate in tiles of bounded size (large images in bounded memory). */
  tile?: TileOptions;
  /** Overrides the generator's mode for this call. */
  mode?: 'eval' | 'train';
  /** Receives notes such as "alpha channel dropped". */
  onNote?: (note: string) => void;
}

export interface LoadGeneratorOptions {
  /** 'cpu', 'cuda', 'cuda:N' or '' (auto: CUDA when available). */
  device?: string;
  /**
   * 'eval' (default here): BatchNorm uses its running statistics and dropout is off, so outputs are deterministic.
   * 'train': the reference's test.py default (batch statistics and dropout active, as in the pix2pix paper).
   */
  mode?: 'eval' | 'train';
  /** Which network of a run folder: 'G' (pix2pix/test), 'G_A' or 'G_B' (CycleGAN). Default: the first found. */
  netName?: string;
  /** Checkpoint label in a run folder (default 'latest'). */
  epoch?: string | number;
  /** Architecture when the checkpoint does not describe itself (explicit values win over the description). */
  netG?: string; ngf?: number; norm?: string; inputNc?: number; outputNc?: number; useDropout?: boolean;
  /** Decompression-bomb guard for inputs (default 50 megapixels). */
  maxImagePixels?: number;
  /**
   * Memory a single forward may take (default DEFAULT_MAX_FORWARD_BYTES). Larger images are translated in tiles
   * automatically (with a note), since the pixel limit alone lets one forward take many gigabytes.
   */
  maxForwardBytes?: number;
}

/** Default of maxForwardBytes. */
export const DEFAULT_MAX_FORWARD_BYTES = 4 * 2 ** 30;

/**
 * Peak memory of a forward per input pixel. Measured on CPU (resnet and unet, ngf 4 to 64, eval mode): about
 * 100 + 20 * ngf bytes (a 7000x7000 image at ngf 4 took 7.4 GB); this rounds up for headroom.
 */
export function forwardBytesPerPixel(description: NetworkDescription): number {
  return 128 + 24 * description.width;
}

function findCheckpointFile(p: string, opts: LoadGeneratorOptions): string {
  if (!fs.existsSync(p)) throw new Error(`generator checkpoint ${p} does not exist`);
  if (fs.statSync(p).isFile()) return p;
  const epoch = String(opts.epoch ?? 'latest');
  const names = opts.netName ? [opts.netName] : ['G', 'G_A', 'G_B'];
  for (const n of names) for (const ext of ['.pth', '.safetensors']) {
    const f = path.join(p, `${epoch}_net_${n}${ext}`);
    if (fs.existsSync(f)) return f;
  }
  throw new Error(`no generator checkpoint in ${p}: looked for ${names.map((n) => `${epoch}_net_${n}.pth`).join(', ')}`);
}

function describe(ck: LoadedCheckpoint, opts: LoadGeneratorOptions): NetworkDescription {
  const stored = ck.info?.network;
  const guess = guessArchitecture(new Map([...ck.tensors].map(([k, v]) => [k, v.shape])));
  const base: Partial<NetworkDescription> = stored ?? (guess.known && guess.kind === 'G' ? guess : {});
  const d: NetworkDescription = {
    kind: 'G',
    arch: opts.netG ?? base.arch ?? '',
    inputNc: opts.inputNc ?? base.inputNc ?? 3,
    outputNc: opts.outputNc ?? base.outputNc ?? 3,
    width: opts.ngf ?? base.width ?? 64,
    norm: opts.norm ?? base.norm ?? 'batch',
    useDropout: opts.useDropout ?? base.useDropout ?? false,
    paddingType: base.paddingType ?? 'reflect',
  };
  if (!d.arch) throw new Error(`cannot tell which generator ${ck.file} holds (${describeStateDictGuess(guess)}): pass netG, ngf and norm`);
  return d;
}

/** A loaded generator. Calls are queued: one forward at a time per generator. */
export class Generator {
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  readonly multiple: number;

  constructor(readonly network: Network, readonly description: NetworkDescription, readonly device: string,
    readonly mode: 'eval' | 'train', private readonly maxImagePixels: number, readonly checkpoint: string,
    private readonly maxForwardBytes = DEFAULT_MAX_FORWARD_BYTES) {
    this.multiple = sizeMultiple(description.arch);
    network.train(mode === 'train');
  }

  get inputChannels(): number { return this.description.inputNc; }
  get outputChannels(): number { return this.description.outputNc ?? 3; }
  get isDisposed(): boolean { return this.disposed; }

  /** Translates one image; resolves with an encoded image or raw pixels of exactly the input's size. */
  translate(input: TranslateInput, options: TranslateOptions & { output: 'raw' }): Promise<RawPixels>;
  translate(input: TranslateInput, options?: TranslateOptions): Promise<Buffer>;
  translate(input: TranslateInput, options: TranslateOptions = {}): Promise<Buffer | RawPixels> {
    if (this.disposed) return Promise.reject(new Error('Generator was disposed'));
    const run = this.queue.then(() => this.translateNow(input, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Releases the network. Calls in flight finish (they hold their own references); queued ones reject. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.network.dispose();
  }

  private async translateNow(input: TranslateInput, options: TranslateOptions): Promise<Buffer | RawPixels> {
    if (this.disposed) throw new Error('Generator was disposed');
    const note = options.onNote ?? (() => undefined);
    const img = this.toInputImage(input, note);
    const c = this.inputChannels;
    const { width: w, height: h } = img;
    const chw = toNormalizedTensor(c === 1 ? toGray8(img) : toRGB8(img));
    const mode = options.mode ?? this.mode;
    let outChw: Float32Array;
    const tile = options.tile ?? this.automaticTile(h, w, note);
    if (tile) outChw = await this.forwardTiled(chw, c, h, w, tile, mode);
    else outChw = await this.forwardPadded(chw, c, h, w, mode);
    const oc = this.outputChannels;
    if (oc !== 1 && oc !== 3) throw new Error(`generator has ${oc} output channels; only 1 or 3 can be saved as an image (use forwardAsync on the network)`);
    const out = tensorToImage(outChw, oc, h, w, { singleChannel: true });
    const fmt = options.output ?? 'png';
    if (fmt === 'raw') return { data: out.data, width: w, height: h, channels: out.channels as 1 | 3 };
    if (fmt === 'jpeg') return encodeJpeg(out, options.quality ?? 90);
    return encodePng(out);
  }

  private toInputImage(input: TranslateInput, note: (n: string) => void): RawImage {
    let img: RawImage;
    if (typeof input === 'string') img = readImageFile(input, { maxPixels: this.maxImagePixels });
    else if (Buffer.isBuffer(input) || input instanceof Uint8Array) {
      img = decodeImage(input as Uint8Array, { name: 'input image buffer', maxPixels: this.maxImagePixels });
    } else if (input && typeof input === 'object' && 'data' in input) {
      const { width, height, channels } = input;
      if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
        throw new Error(`Expected positive integer width and height for raw pixels but received ${width}x${height}`);
      }
      if (![1, 2, 3, 4].includes(channels)) throw new Error(`Expected 1, 2, 3 or 4 for raw pixels channels but received ${channels}`);
      if (width * height > this.maxImagePixels) throw new Error(`raw image ${width}x${height} is over the limit of ${this.maxImagePixels} pixels`);
      if (input.data.length !== width * height * channels) {
        throw new Error(`Expected ${width * height * channels} values for ${width}x${height}x${channels} raw pixels but received ${input.data.length}`);
      }
      const wide = input.data instanceof Uint16Array;
      img = { data: wide ? input.data as Uint16Array : new Uint8Array(input.data.buffer, input.data.byteOffset, input.data.length), width, height, channels, bitDepth: wide ? 16 : 8 };
    } else {
      throw new TypeError('Expected a file path, an encoded image Buffer or raw pixels {data, width, height, channels} for translate input');
    }
    if (img.channels === 4 || img.channels === 2) note('alpha channel dropped (the generator takes ' + (this.inputChannels === 1 ? 'grayscale' : 'RGB') + ')');
    if (img.bitDepth === 16) note('16-bit input scaled to 8 bits by its bit depth');
    return img;
  }

  /** Tiles that keep each forward within maxForwardBytes, or undefined when the whole image fits. */
  private automaticTile(h: number, w: number, note: (n: string) => void): TileOptions | undefined {
    const perPixel = forwardBytesPerPixel(this.description);
    const whole = roundUp(h, this.multiple) * roundUp(w, this.multiple) * perPixel;
    if (whole <= this.maxForwardBytes) return undefined;
    const side = Math.max(this.multiple, Math.floor(Math.sqrt(this.maxForwardBytes / perPixel) / this.multiple) * this.multiple);
    const size = (n: number) => (n >= 2 ** 30 ? `${+(n / 2 ** 30).toFixed(1)} GiB` : `${+(n / 2 ** 20).toFixed(1)} MiB`);
    note(`translated in ${side}x${side} tiles: one forward of ${w}x${h} would take about ${size(whole)}, over maxForwardBytes (${size(this.maxForwardBytes)})`);
    return { size: side };
  }

  /** One forward of a whole image, reflect-padded to the size multiple and cropped back. */
  private async forwardPadded(chw: Float32Array, c: number, h: number, w: number, mode: 'eval' | 'train'): Promise<Float32Array> {
    const h2 = roundUp(h, this.multiple), w2 = roundUp(w, this.multiple);
    const padded = reflectPadCHW(chw, c, h, w, h2, w2);
    const y = await this.forwardRaw(padded, [1, c, h2, w2], mode);
    return cropCHW(y, this.outputChannels, h2, w2, h, w);
  }

  private async forwardRaw(data: Float32Array, shape: number[], mode: 'eval' | 'train'): Promise<Float32Array> {
    if (this.disposed) throw new Error('Generator was disposed');
    this.network.train(mode === 'train');
    const x = Tensor.fromFloat32Array(data, shape, this.device);
    let y: Tensor | null = null;
    try {
      y = await this.network.forwardAsync(x, { outputDevice: 'cpu' });
      return y.toFloat32Array();
    } finally {
      x.dispose();
      y?.dispose();
      if (mode !== this.mode && !this.disposed) this.network.train(this.mode === 'train');
    }
  }

  /**
   * Tiled translation: tiles of tile.size (a multiple of the generator's) overlapping by tile.overlap, blended
   * with linear ramps. Rows of tiles are finished one band at a time, so memory holds one band, not the image.
   */
  private async forwardTiled(chw: Float32Array, c: number, h: number, w: number, tile: TileOptions, mode: 'eval' | 'train'): Promise<Float32Array> {
    const size = roundUp(Math.max(tile.size, this.multiple), this.multiple);
    const overlap = Math.min(Math.max(0, Math.floor(tile.overlap ?? size / 8)), size / 2);
    if (h <= size && w <= size) return this.forwardPadded(chw, c, h, w, mode);
    const stride = size - overlap;
    const starts = (n: number) => {
      const s: number[] = [];
      for (let p = 0; ; p += stride) { if (p + size >= n) { s.push(Math.max(0, n - size)); break; } s.push(p); }
      return [...new Set(s)];
    };
    const ys = starts(h), xs = starts(w);
    const oc = this.outputChannels;
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
        const tileOut = await this.forwardPadded(tileIn, c, th, tw, mode);
        for (let y = 0; y < th; y++) {
          const wy = ramp(y, th, y0 > 0, y0 + th < h);
          for (let x = 0; x < tw; x++) {
            const wgt = wy * ramp(x, tw, x0 > 0, x0 + tw < w);
            const p = (y0 + y) * w + x0 + x;
            weight[p] += wgt;
            for (let ch = 0; ch < oc; ch++) out[ch * h * w + p] += wgt * tileOut[ch * th * tw + y * tw + x];
          }
        }
      }
    }
    for (let p = 0; p < h * w; p++) for (let ch = 0; ch < oc; ch++) out[ch * h * w + p] /= weight[p];
    return out;
  }
}

/**
 * Loads a generator from a run folder (./checkpoints/<name>) or a checkpoint file (.pth from the reference or
 * from us, or .safetensors). Self-describing checkpoints need no architecture options; others are recognised
 * from their keys and shapes, or described by the options.
 */
export async function loadGenerator(pathOrDir: string, options: LoadGeneratorOptions = {}): Promise<Generator> {
  const budget = options.maxForwardBytes ?? DEFAULT_MAX_FORWARD_BYTES;
  if (!(budget > 0)) throw new Error(`Expected a positive number of bytes for maxForwardBytes but received ${budget}`);
  const file = findCheckpointFile(pathOrDir, options);
  const ck = loadCheckpoint(file);
  const description = describe(ck, options);
  const device = resolveDevice(options.device);
  const net = networkFromDescription(description, { device });
  try {
    net.loadStateDict(ck.tensors, { what: `checkpoint ${file}` });
  } catch (e) {
    net.dispose();
    throw e;
  }
  const mode = options.mode ?? 'eval';
  if (mode !== 'eval' && mode !== 'train') throw new Error(`Expected 'eval' or 'train' for mode but received '${String(mode)}'`);
  return new Generator(net, description, device, mode, options.maxImagePixels ?? DEFAULT_MAX_IMAGE_PIXELS, file, budget);
}
