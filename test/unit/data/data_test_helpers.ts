/**
 * Shared setup for the data pipeline tests: temporary folders, PNG fixtures written with our encoder, and the
 * system Python with Pillow as the oracle (CI installs python3-pil and python3-numpy; python3-skimage is optional).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { encodePng } from '../../../src/data/image_io';
import { RawImage } from '../../../src/data/image';
import { DataOptions } from '../../../src/data/base_dataset';
import { runPython } from '../../helpers/run_python';
import { SHARED } from '../../helpers/paths';

export const FACADES = path.join(SHARED, 'datasets', 'facades');
export const CYCLEGAN_FACADES = path.join(SHARED, 'datasets', 'cyclegan_facades');
export const BAD_INPUTS = path.join(SHARED, 'fixtures', 'bad_inputs');

let pilChecked = false;

/** Fails (never skips) when the oracle is missing, saying how to install it. */
export function requirePil(): void {
  if (pilChecked) return;
  try {
    runPython('import PIL, numpy');
  } catch (err) {
    throw new Error(
      `these tests compare against Pillow: install it with "apt-get install -y python3-pil python3-numpy" (${(err as Error).message})`,
    );
  }
  pilChecked = true;
}

export function hasSkimage(): boolean {
  try {
    runPython('import skimage.color');
    return true;
  } catch {
    return false;
  }
}

/** A fresh temporary folder, removed at process exit. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `img2img-${prefix}-`));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function writePng(file: string, img: RawImage): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, encodePng(img));
  return file;
}

/** Deterministic test pattern with every channel varying. */
export function patternImage(width: number, height: number, channels: 1 | 2 | 3 | 4, bitDepth: 8 | 16 = 8): RawImage {
  const max = bitDepth === 16 ? 65535 : 255;
  const data = bitDepth === 16 ? new Uint16Array(width * height * channels) : new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        const v = (x * 37 + y * 101 + c * 53 + ((x * y) % 17) * 13) % 256;
        data[(y * width + x) * channels + c] = bitDepth === 16 ? v * 257 + ((x + c) % 200) : v;
      }
    }
  }
  data[0] = max;
  return { data, width, height, channels, bitDepth };
}

/**
 * Copies the first `count` images of facades/train (sorted like the reference) as PNGs decoded by Pillow into
 * <root>/<phase>, so Python and TypeScript start from identical pixels (JPEG decoders differ; see image_io).
 */
export function facadesAsPng(root: string, phase: string, names: string[]): string[] {
  requirePil();
  const out = path.join(root, phase);
  fs.mkdirSync(out, { recursive: true });
  const jobs = names.map((n) => [path.join(FACADES, 'train', n), path.join(out, n.replace(/\.jpg$/, '.png'))]);
  runPython(
    `import json, sys\nfrom PIL import Image\nfor src, dst in json.load(sys.stdin):\n    Image.open(src).convert('RGB').save(dst)\n`,
    JSON.stringify(jobs),
  );
  return jobs.map((j) => j[1]);
}

/** Worst absolute difference and where it is, for parity messages. */
export function worstDifference(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; index: number } {
  let max = 0;
  let index = -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > max || Number.isNaN(d)) {
      max = Number.isNaN(d) ? Infinity : d;
      index = i;
    }
  }
  return { max, index };
}

/**
 * The reference's data/base_dataset.py transforms written with Pillow + numpy (no torchvision): get_params,
 * get_transform, and the datasets' __getitem__ bodies. torchvision's RandomCrop / RandomHorizontalFlip draw
 * from torch's RNG; here they draw from Python's `random` in the order our planner uses (top, left, then
 * flip = random() < 0.5), so a seeded run must match ours number for number.
 */
export const PY_REFERENCE = String.raw`
import json, sys, random, os
import numpy as np
from PIL import Image

def scale_width(img, target, crop):
    ow, oh = img.size
    if ow == target and oh >= crop:
        return img
    return img.resize((target, int(max(target * oh / ow, crop))), Image.BICUBIC)

def make_power_2(img, base=4):
    ow, oh = img.size
    h = int(round(oh / base) * base)
    w = int(round(ow / base) * base)
    if h == oh and w == ow:
        return img
    return img.resize((w, h), Image.BICUBIC)

def crop_at(img, pos, size):
    ow, oh = img.size
    x1, y1 = pos
    if ow > size or oh > size:
        return img.crop((x1, y1, x1 + size, y1 + size))
    return img

def get_params(opt, size):
    w, h = size
    new_h, new_w = h, w
    if opt['preprocess'] == 'resize_and_crop':
        new_h = new_w = opt['load_size']
    elif opt['preprocess'] == 'scale_width_and_crop':
        new_w = opt['load_size']
        new_h = opt['load_size'] * h // w
    x = random.randint(0, np.maximum(0, new_w - opt['crop_size']))
    y = random.randint(0, np.maximum(0, new_h - opt['crop_size']))
    flip = random.random() > 0.5
    return {'crop_pos': (x, y), 'flip': flip}

def transform_pil(opt, img, params=None, grayscale=False):
    if grayscale:
        img = img.convert('L')
    if 'resize' in opt['preprocess']:
        img = img.resize((opt['load_size'], opt['load_size']), Image.BICUBIC)
    elif 'scale_width' in opt['preprocess']:
        img = scale_width(img, opt['load_size'], opt['crop_size'])
    if 'crop' in opt['preprocess']:
        if params is None:
            w, h = img.size
            t = opt['crop_size']
            if w == t and h == t:
                i = j = 0
            else:
                i = random.randint(0, h - t)
                j = random.randint(0, w - t)
            img = img.crop((j, i, j + t, i + t))
        else:
            img = crop_at(img, params['crop_pos'], opt['crop_size'])
    if opt['preprocess'] == 'none':
        img = make_power_2(img)
    if not opt['no_flip']:
        if params is None:
            if random.random() < 0.5:
                img = img.transpose(Image.FLIP_LEFT_RIGHT)
        elif params['flip']:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
    return img

def to_tensor(img):
    a = np.asarray(img)
    if a.ndim == 2:
        a = a[:, :, None]
    t = a.transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    return (t - np.float32(0.5)) / np.float32(0.5)

def aligned_item(opt, path):
    AB = Image.open(path).convert('RGB')
    w, h = AB.size
    w2 = int(w / 2)
    A = AB.crop((0, 0, w2, h))
    B = AB.crop((w2, 0, w, h))
    btoa = opt['direction'] == 'BtoA'
    in_nc = opt['output_nc'] if btoa else opt['input_nc']
    out_nc = opt['input_nc'] if btoa else opt['output_nc']
    params = get_params(opt, A.size)
    return (to_tensor(transform_pil(opt, A, params, in_nc == 1)), to_tensor(transform_pil(opt, B, params, out_nc == 1)))

def single_item(opt, path):
    btoa = opt['direction'] == 'BtoA'
    in_nc = opt['output_nc'] if btoa else opt['input_nc']
    return to_tensor(transform_pil(opt, Image.open(path).convert('RGB'), None, in_nc == 1))

def save(t, path):
    np.ascontiguousarray(t, dtype=np.float32).tofile(path)
    return list(t.shape)
`;

/** Reads a float32 file written by numpy's tofile. */
export function readFloat32(file: string): Float32Array {
  const buf = fs.readFileSync(file);
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice();
}

/** The reference's defaults for the data options (train), with overrides. */
export function dataOptions(overrides: Partial<DataOptions>): DataOptions {
  return {
    dataroot: '.', phase: 'train', direction: 'AtoB', input_nc: 3, output_nc: 3, serial_batches: false,
    max_dataset_size: Infinity, batch_size: 1, num_threads: 0, preprocess: 'resize_and_crop', load_size: 286,
    crop_size: 256, no_flip: false, dataset_mode: 'aligned', ...overrides,
  };
}

