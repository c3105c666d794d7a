/**
 * get_params / get_transform / tensor2im ports against the reference's code run with Pillow + numpy
 * (PY_REFERENCE) from the same seed: same random draws in the same order, float32 tensors bit for bit.
 */
import * as assert from 'assert';
import * as path from 'path';
import { RawImage8 } from '../../../src/data/image';
import { ImageFileError } from '../../../src/data/image_errors';
import { readImageFile, toRGB8 } from '../../../src/data/image_io';
import {
  applyFixedSteps, applyTransform, cropImage, flipHorizontal, getParams, makePower2Size, planTransform,
  randomStepsToTensor, roundHalfEven, Rng, scaleWidthSize, tensorToImage, toNormalizedTensor, TransformOptions,
} from '../../../src/data/transforms';
import { PythonRandom } from '../../../src/util/python_random';
import { runPython, runPythonJson } from '../../helpers/run_python';
import { facadesAsPng, PY_REFERENCE, readFloat32, requirePil, tempDir, worstDifference } from './data_test_helpers';

function opts(preprocess: string, load_size: number, crop_size: number, no_flip = false): TransformOptions {
  return { preprocess, load_size, crop_size, no_flip };
}

/** Records every draw so tests can assert which numbers were consumed. */
class RecordingRng implements Rng {
  readonly draws: string[] = [];
  constructor(private readonly inner: Rng) {}
  random(): number {
    const v = this.inner.random();
    this.draws.push('random');
    return v;
  }
  randint(a: number, b: number): number {
    this.draws.push(`randint(${a},${b})`);
    return this.inner.randint(a, b);
  }
}

/** Configurations of get_transform checked against the reference (source sizes are the PNGs below). */
const CONFIGS: Array<{ name: string; opt: TransformOptions; grayscale: boolean; aligned: boolean }> = [
  { name: 'resize_and_crop 286/256, aligned params', opt: opts('resize_and_crop', 286, 256), grayscale: false, aligned: true },
  { name: 'resize_and_crop 286/256, gray, aligned params', opt: opts('resize_and_crop', 286, 256), grayscale: true, aligned: true },
  { name: 'resize_and_crop 286/256, random crop/flip', opt: opts('resize_and_crop', 286, 256), grayscale: false, aligned: false },
  { name: 'crop 128, random', opt: opts('crop', 286, 128), grayscale: false, aligned: false },
  { name: 'crop 128, aligned params', opt: opts('crop', 286, 128), grayscale: true, aligned: true },
  { name: 'scale_width 300', opt: opts('scale_width', 300, 256), grayscale: false, aligned: false },
  { name: 'scale_width_and_crop 300/256, aligned params', opt: opts('scale_width_and_crop', 300, 256), grayscale: false, aligned: true },
  { name: 'scale_width_and_crop 300/200, random', opt: opts('scale_width_and_crop', 300, 200), grayscale: false, aligned: false },
  { name: 'none (make_power_2), no_flip', opt: opts('none', 256, 256, true), grayscale: false, aligned: false },
  { name: 'none (make_power_2), aligned flip', opt: opts('none', 256, 256), grayscale: true, aligned: true },
];

describe('data/transforms', function () {
  this.timeout(30000);

  describe('get_params', () => {
    it('draws x, y, flip in that order like the reference, for several preprocess modes and seeds', () => {
      const cases: Array<[TransformOptions, [number, number], number]> = [
        [opts('resize_and_crop', 286, 256), [256, 256], 0],
        [opts('resize_and_crop', 286, 256), [256, 256], 7],
        [opts('scale_width_and_crop', 300, 256), [256, 301], 3],
        [opts('crop', 286, 100), [256, 200], 11],
        [opts('none', 256, 256, true), [37, 53], 5],
      ];
      const py = runPythonJson<Array<{ crop_pos: [number, number]; flip: boolean }>>(
        `${PY_REFERENCE}\nout = []\nfor opt, size, seed in json.load(sys.stdin):\n    random.seed(seed)\n    p = get_params(opt, size)\n    out.append({'crop_pos': [int(v) for v in p['crop_pos']], 'flip': p['flip']})\nprint(json.dumps(out))`,
        JSON.stringify(cases),
      );
      cases.forEach(([opt, size, seed], i) => {
        const rng = new RecordingRng(new PythonRandom(seed));
        const p = getParams(opt, size, rng);
        assert.deepStrictEqual({ crop_pos: p.cropPos, flip: p.flip }, py[i], `case ${i}`);
        assert.strictEqual(rng.draws.length, 3, 'always three draws, even with --no_flip');
      });
    });
  });

  describe('get_transform against the reference (float32, exact)', () => {
    let dir: string;
    const sources: Record<string, RawImage8> = {};
    const files: Record<string, string> = {};

    before(() => {
      requirePil();
      dir = tempDir('transforms');
      const [facade] = facadesAsPng(dir, 'src', ['3.jpg']);
      files.facadeHalf = path.join(dir, 'half.png');
      files.odd = path.join(dir, 'odd.png');
      files.short = path.join(dir, 'short.png');
      // an aligned half, an odd-sized crop (make_power_2 and scale_width rounding), a short wide image
      runPython(
        `from PIL import Image\nim = Image.open('${facade}').convert('RGB')\nim.crop((0, 0, 256, 256)).save('${files.facadeHalf}')\nim.crop((3, 5, 304, 208)).save('${files.odd}')\nim.crop((0, 0, 400, 150)).save('${files.short}')`,
      );
      for (const [k, f] of Object.entries(files)) sources[k] = toRGB8(readImageFile(f));
    });

    const SOURCES = ['facadeHalf', 'odd', 'short'];
    const SEED = 1234;
    let referenceShapes: number[][] = [];

    before(() => {
      // one Python run computes every case: case i is CONFIGS[i / 3] on SOURCES[i % 3]
      const cases = CONFIGS.flatMap((c) => SOURCES.map((s) => [c.opt, files[s], c.grayscale, c.aligned, SEED]));
      referenceShapes = runPythonJson<number[][]>(
        `${PY_REFERENCE}\ncases, out = json.load(sys.stdin)\nshapes = []\nfor i, (opt, path, gray, aligned, seed) in enumerate(cases):\n    random.seed(seed)\n    img = Image.open(path).convert('RGB')\n    params = get_params(opt, img.size) if aligned else None\n    shapes.append(save(to_tensor(transform_pil(opt, img, params, gray)), os.path.join(out, f'ref{i}.f32')))\nprint(json.dumps(shapes))`,
        JSON.stringify([cases, dir]),
      );
    });

    CONFIGS.forEach((config, ci) => {
      SOURCES.forEach((sourceName, si) => {
        it(`${config.name} on ${sourceName}`, () => {
          const caseIndex = ci * SOURCES.length + si;
          const src = sources[sourceName];
          const { opt } = config;
          const size: [number, number] = [src.width, src.height];
          const rng = new PythonRandom(SEED);
          const params = config.aligned ? getParams(opt, size, rng) : null;
          const steps = planTransform(opt, { grayscale: config.grayscale, params, sourceSize: size, file: sourceName, rng });
          const fused = randomStepsToTensor(applyFixedSteps(src, steps).image, steps);
          const plain = applyTransform(src, steps).image;
          const shape = referenceShapes[caseIndex];
          assert.deepStrictEqual(fused.shape, shape, 'shape');
          assert.deepStrictEqual([plain.channels, plain.height, plain.width], shape, 'shape of the image path');
          const reference = readFloat32(path.join(dir, `ref${caseIndex}.f32`));
          const w1 = worstDifference(fused.data, reference);
          assert.strictEqual(w1.max, 0, `fused: worst difference ${w1.max} at ${w1.index}`);
          const w2 = worstDifference(toNormalizedTensor(plain), reference);
          assert.strictEqual(w2.max, 0, `applyTransform: worst difference ${w2.max} at ${w2.index}`);
        });
      });
    });
  });

  describe('random crop and flip draws (torchvision RandomCrop / RandomHorizontalFlip order)', () => {
    it('draws top then left, then one number for the flip', () => {
      const rng = new RecordingRng(new PythonRandom(0));
      const steps = planTransform(opts('resize_and_crop', 286, 256), { grayscale: false, params: null, sourceSize: null, file: 'x', rng });
      assert.deepStrictEqual(rng.draws, ['randint(0,30)', 'randint(0,30)', 'random']);
      assert.ok(steps.crop);
    });

    it('draws nothing for a crop of the image size, and nothing for the flip with --no_flip', () => {
      const rng = new RecordingRng(new PythonRandom(0));
      const steps = planTransform(opts('resize_and_crop', 256, 256, true), { grayscale: false, params: null, sourceSize: null, file: 'x', rng });
      assert.deepStrictEqual(rng.draws, []);
      assert.deepStrictEqual(steps.crop, { x: 0, y: 0, size: 256 });
      assert.strictEqual(steps.flip, false);
    });

    it('uses the aligned params as given (no draws)', () => {
      const rng = new RecordingRng(new PythonRandom(0));
      const steps = planTransform(opts('resize_and_crop', 286, 256), {
        grayscale: true, params: { cropPos: [7, 9], flip: true }, sourceSize: null, file: 'x', rng,
      });
      assert.deepStrictEqual(rng.draws, []);
      assert.deepStrictEqual([steps.crop, steps.flip, steps.grayscale], [{ x: 7, y: 9, size: 256 }, true, true]);
    });
  });

  describe('images smaller than --crop_size', () => {
    it('are refused with the file, its size and the crop size, suggesting resize_and_crop', () => {
      const rng = new PythonRandom(0);
      assert.throws(
        () => planTransform(opts('crop', 286, 256), { grayscale: false, params: null, sourceSize: [200, 300], file: 'tiny.png', rng }),
        (err: Error) =>
          err instanceof ImageFileError &&
          err.message === 'tiny.png is 200x300, smaller than --crop_size 256; use --preprocess resize_and_crop (with --load_size >= --crop_size) or a smaller --crop_size',
      );
      // also with aligned params (the reference would pad with black or feed a smaller image)
      assert.throws(
        () => planTransform(opts('crop', 286, 256), { grayscale: false, params: { cropPos: [0, 0], flip: false }, sourceSize: [256, 100], file: 'half.png', rng }),
        /half\.png is 256x100, smaller than --crop_size 256/,
      );
    });
  });

  describe('helpers', () => {
    it('roundHalfEven and makePower2Size follow Python round (6→8, 10→8, 14→16, 18→16)', () => {
      assert.deepStrictEqual([0.5, 1.5, 2.5, 3.5, -0.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, 4, 0, 2, 3]);
      assert.deepStrictEqual([6, 10, 14, 18, 256, 257, 259].map((v) => makePower2Size([v, v], 4)[0]), [8, 8, 16, 16, 256, 256, 260]);
    });

    it('scaleWidthSize keeps images already at the target and never goes below crop_size', () => {
      assert.deepStrictEqual(scaleWidthSize([286, 300], 286, 256), [286, 300]);
      assert.deepStrictEqual(scaleWidthSize([286, 200], 286, 256), [286, 256]);
      assert.deepStrictEqual(scaleWidthSize([512, 256], 286, 256), [286, 256]);
      assert.deepStrictEqual(scaleWidthSize([200, 301], 286, 256), [286, 430]); // int(286*301/200 = 430.43)
    });

    it('cropImage pads outside the image with 0 like PIL; flipHorizontal mirrors', () => {
      const img: RawImage8 = { data: Uint8Array.from([1, 2, 3, 4, 5, 6]), width: 3, height: 2, channels: 1, bitDepth: 8 };
      assert.deepStrictEqual(Array.from(cropImage(img, 1, 1, 3, 2).data), [5, 6, 0, 0, 0, 0]);
      assert.deepStrictEqual(Array.from(cropImage(img, -1, 0, 2, 1).data), [0, 1]);
      assert.deepStrictEqual(Array.from(flipHorizontal(img).data), [3, 2, 1, 6, 5, 4]);
    });

    it('toNormalizedTensor gives (float32(v/255) - 0.5) / 0.5 in CHW order', () => {
      const img: RawImage8 = { data: Uint8Array.from([0, 128, 255, 1, 2, 3]), width: 2, height: 1, channels: 3, bitDepth: 8 };
      const t = toNormalizedTensor(img);
      assert.deepStrictEqual(Array.from(t), [-1, Math.fround(Math.fround(1 / 255) - 0.5) * 2, Math.fround(Math.fround(128 / 255) - 0.5) * 2, Math.fround(Math.fround(2 / 255) - 0.5) * 2, 1, Math.fround(Math.fround(3 / 255) - 0.5) * 2]);
    });
  });

  describe('tensorToImage (tensor2im)', () => {
    it('matches numpy: (x + 1) / 2 * 255 in float32, truncated by astype(uint8), 1 channel tiled to 3', () => {
      const values = [-1, -0.999, -0.5, 0, 0.00392, 0.5, 0.99, 0.999999, 1];
      const py = runPythonJson<number[]>(
        `import json, sys, numpy as np\nt = np.array(json.load(sys.stdin), dtype=np.float32).reshape(1, 1, -1)\nt = np.tile(t, (3, 1, 1))\nprint(json.dumps(((np.transpose(t, (1, 2, 0)) + 1) / 2.0 * 255.0).astype(np.uint8).reshape(-1).tolist()))`,
        JSON.stringify(values),
      );
      const img = tensorToImage(Float32Array.from(values), 1, 1, values.length);
      assert.strictEqual(img.channels, 3);
      assert.deepStrictEqual(Array.from(img.data), py);
      const single = tensorToImage(Float32Array.from(values), 1, 1, values.length, { singleChannel: true });
      assert.strictEqual(single.channels, 1);
      assert.deepStrictEqual(Array.from(single.data), py.filter((_, i) => i % 3 === 0));
    });

    it('clamps values outside [-1, 1] and NaN to 0..255 instead of wrapping', () => {
      const img = tensorToImage(Float32Array.from([-3, 2, NaN]), 1, 1, 3, { singleChannel: true });
      assert.deepStrictEqual(Array.from(img.data), [0, 255, 0]);
    });

    it('reads a CHW 3-channel tensor into interleaved RGB', () => {
      const img = tensorToImage(Float32Array.from([-1, 1, 1, -1, 0, 0]), 3, 1, 2);
      assert.deepStrictEqual(Array.from(img.data), [0, 255, 127, 255, 0, 127]);
    });
  });
});
