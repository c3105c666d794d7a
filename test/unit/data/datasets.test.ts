/**
 * aligned / unaligned / single / colorization datasets on real facades images (as lossless PNGs decoded by
 * Pillow), item for item against the reference's __getitem__ run with Pillow + numpy from the same seed.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { AlignedDataset } from '../../../src/data/aligned_dataset';
import { DataOptions, Dataset } from '../../../src/data/base_dataset';
import { labTensorsFromRgb } from '../../../src/data/color';
import { ColorizationDataset } from '../../../src/data/colorization_dataset';
import { createDataset } from '../../../src/data/create_dataset';
import { ImageFileError } from '../../../src/data/image_errors';
import { readImageFile, toRGB8 } from '../../../src/data/image_io';
import { SingleDataset } from '../../../src/data/single_dataset';
import { TemplateDataset } from '../../../src/data/template_dataset';
import { applyTransform, toNormalizedTensor } from '../../../src/data/transforms';
import { UnalignedDataset } from '../../../src/data/unaligned_dataset';
import { PythonRandom } from '../../../src/util/python_random';
import { runPython, runPythonJson } from '../../helpers/run_python';
import {
  CYCLEGAN_FACADES, dataOptions, FACADES, facadesAsPng, patternImage, PY_REFERENCE, readFloat32, requirePil, tempDir, worstDifference, writePng,
} from './data_test_helpers';

/** The reference's UnalignedDataset.__getitem__ with Python's random for B and the crops/flips. */
const PY_UNALIGNED = String.raw`
def unaligned_item(opt, A_paths, B_paths, index):
    A_path = A_paths[index % len(A_paths)]
    if opt['serial_batches']:
        index_B = index % len(B_paths)
    else:
        index_B = random.randint(0, len(B_paths) - 1)
    B_path = B_paths[index_B]
    btoa = opt['direction'] == 'BtoA'
    in_nc = opt['output_nc'] if btoa else opt['input_nc']
    out_nc = opt['input_nc'] if btoa else opt['output_nc']
    A = to_tensor(transform_pil(opt, Image.open(A_path).convert('RGB'), None, in_nc == 1))
    B = to_tensor(transform_pil(opt, Image.open(B_path).convert('RGB'), None, out_nc == 1))
    return A, B, A_path, B_path
`;

interface PyItem {
  shapeA: number[];
  shapeB?: number[];
  A_paths: string;
  B_paths?: string;
}

async function assertSameItems(ds: Dataset, out: string, items: PyItem[]): Promise<void> {
  for (let i = 0; i < items.length; i++) {
    const sample = await ds.get(i);
    const ref = items[i];
    assert.strictEqual(sample.A_paths, ref.A_paths, `item ${i} A_paths`);
    assert.deepStrictEqual(sample.shapeA, ref.shapeA, `item ${i} shapeA`);
    const wA = worstDifference(sample.A!, readFloat32(path.join(out, `A${i}.f32`)));
    assert.strictEqual(wA.max, 0, `item ${i} A: worst difference ${wA.max} at ${wA.index}`);
    if (ref.shapeB) {
      assert.strictEqual(sample.B_paths, ref.B_paths, `item ${i} B_paths`);
      assert.deepStrictEqual(sample.shapeB, ref.shapeB, `item ${i} shapeB`);
      const wB = worstDifference(sample.B!, readFloat32(path.join(out, `B${i}.f32`)));
      assert.strictEqual(wB.max, 0, `item ${i} B: worst difference ${wB.max} at ${wB.index}`);
    } else {
      assert.strictEqual(sample.B, undefined);
    }
  }
}

describe('data/datasets', function () {
  this.timeout(60000);
  let root: string;
  let out: string;

  before(() => {
    requirePil();
    root = tempDir('datasets');
    out = path.join(root, 'out');
    fs.mkdirSync(out);
    // aligned: three facades pairs, plus an odd-width pair (511 wide: A is 255, B is 256 columns)
    const [first] = facadesAsPng(root, 'aligned/train', ['1.jpg', '10.jpg', '2.jpg']);
    runPython(`from PIL import Image\nImage.open('${first}').crop((0, 0, 511, 256)).save('${path.join(root, 'aligned/train/odd.png')}')`);
    // unaligned: 3 A and 2 B images from cyclegan_facades, as PNG
    runPython(
      `import os\nfrom PIL import Image\nfor side, names in (('A', ['1.jpg', '2.jpg', '3.jpg']), ('B', ['1.jpg', '5.jpg'])):\n` +
        `    os.makedirs('${root}/unaligned/train' + side)\n    for n in names:\n` +
        `        Image.open(os.path.join('${CYCLEGAN_FACADES}', 'train' + side, n)).convert('RGB').save('${root}/unaligned/train' + side + '/' + n[:-4] + '.png')`,
    );
  });

  describe('aligned', () => {
    const CASES: Array<{ name: string; opt: Partial<DataOptions>; seed: number }> = [
      { name: 'pix2pix defaults (resize_and_crop 286→256, flip)', opt: {}, seed: 0 },
      { name: 'BtoA with output_nc 1 (A side gray)', opt: { direction: 'BtoA', output_nc: 1 }, seed: 1 },
      { name: 'input_nc 1 AtoB, --preprocess crop 200', opt: { input_nc: 1, preprocess: 'crop', load_size: 256, crop_size: 200 }, seed: 2 },
      { name: 'scale_width_and_crop 300/256', opt: { preprocess: 'scale_width_and_crop', load_size: 300 }, seed: 3 },
      { name: 'none (make_power_2), no_flip', opt: { preprocess: 'none', load_size: 256, no_flip: true }, seed: 4 },
    ];
    for (const c of CASES) {
      it(`${c.name}: equals the reference item by item`, async () => {
        const opt = dataOptions({ dataroot: path.join(root, 'aligned'), ...c.opt });
        const ds = new AlignedDataset(opt, new PythonRandom(c.seed));
        assert.strictEqual(ds.length, 4);
        const items = runPythonJson<PyItem[]>(
          `${PY_REFERENCE}\nopt, paths, seed, out = json.load(sys.stdin)\nrandom.seed(seed)\nitems = []\nfor i, p in enumerate(paths):\n` +
            `    A, B = aligned_item(opt, p)\n    items.append({'shapeA': save(A, os.path.join(out, f'A{i}.f32')), 'shapeB': save(B, os.path.join(out, f'B{i}.f32')), 'A_paths': p, 'B_paths': p})\nprint(json.dumps(items))`,
          JSON.stringify([opt, ds.paths, c.seed, out]),
        );
        await assertSameItems(ds, out, items);
      });
    }

    it('on the original facades JPEGs (no PNG round trip) too: the pipeline decodes exactly as Pillow', async () => {
      const dir = path.join(root, 'aligned_jpeg', 'train');
      fs.mkdirSync(dir, { recursive: true });
      for (const n of ['11.jpg', '12.jpg']) fs.copyFileSync(path.join(FACADES, 'train', n), path.join(dir, n));
      const opt = dataOptions({ dataroot: path.dirname(dir), direction: 'BtoA' });
      const ds = new AlignedDataset(opt, new PythonRandom(42));
      const items = runPythonJson<PyItem[]>(
        `${PY_REFERENCE}\nopt, paths, seed, out = json.load(sys.stdin)\nrandom.seed(seed)\nitems = []\nfor i, p in enumerate(paths):\n` +
          `    A, B = aligned_item(opt, p)\n    items.append({'shapeA': save(A, os.path.join(out, f'A{i}.f32')), 'shapeB': save(B, os.path.join(out, f'B{i}.f32')), 'A_paths': p, 'B_paths': p})\nprint(json.dumps(items))`,
        JSON.stringify([opt, ds.paths, 42, out]),
      );
      await assertSameItems(ds, out, items);
    });

    it('lists files like sorted(make_dataset(...)) and swaps channel counts with the direction', async () => {
      const ds = new AlignedDataset(dataOptions({ dataroot: path.join(root, 'aligned'), direction: 'BtoA', input_nc: 1, output_nc: 3 }), new PythonRandom(0));
      assert.deepStrictEqual(ds.paths.map((p) => path.basename(p)), ['1.png', '10.png', '2.png', 'odd.png']);
      const s = await ds.get(3);
      assert.deepStrictEqual([s.shapeA, s.shapeB], [[3, 256, 256], [1, 256, 256]]);
    });

    it('an odd-width A|B image splits at floor(w/2): B keeps the extra column', async () => {
      const ds = new AlignedDataset(dataOptions({ dataroot: path.join(root, 'aligned'), preprocess: 'none', load_size: 256, no_flip: true }), new PythonRandom(0));
      const s = await ds.get(3);
      assert.deepStrictEqual(s.shapeA, [3, 256, 256]); // 255 → 256 by make_power_2
      assert.deepStrictEqual(s.shapeB, [3, 256, 256]); // 256 stays
    });

    it('refuses --load_size < --crop_size as the reference asserts', () => {
      assert.throws(
        () => new AlignedDataset(dataOptions({ dataroot: path.join(root, 'aligned'), load_size: 200, crop_size: 256, preprocess: 'crop' }), new PythonRandom(0)),
        /^OptionError: Expected at least --crop_size \(256\) for --load_size but received '200' \(the aligned dataset requires load_size >= crop_size\)$/,
      );
    });

    it('names the missing folder with --dataroot and --phase', () => {
      assert.throws(
        () => new AlignedDataset(dataOptions({ dataroot: path.join(root, 'aligned'), phase: 'val' }), new PythonRandom(0)),
        new RegExp(`dataset folder ${root}/aligned/val \\(from --dataroot ${root}/aligned, --phase val\\) does not exist`),
      );
    });
  });

  describe('unaligned', () => {
    for (const serial of [false, true]) {
      it(`serial_batches ${serial}: equals the reference item by item (random B, per-side crop and flip)`, async () => {
        const opt = dataOptions({ dataroot: path.join(root, 'unaligned'), dataset_mode: 'unaligned', serial_batches: serial, output_nc: 1 });
        const ds = new UnalignedDataset(opt, new PythonRandom(7));
        assert.strictEqual(ds.length, 3); // max(|A|, |B|)
        const items = runPythonJson<PyItem[]>(
          `${PY_REFERENCE}\n${PY_UNALIGNED}\nopt, A_paths, B_paths, seed, out = json.load(sys.stdin)\nrandom.seed(seed)\nitems = []\nfor i in range(max(len(A_paths), len(B_paths))):\n` +
            `    A, B, pa, pb = unaligned_item(opt, A_paths, B_paths, i)\n    items.append({'shapeA': save(A, os.path.join(out, f'A{i}.f32')), 'shapeB': save(B, os.path.join(out, f'B{i}.f32')), 'A_paths': pa, 'B_paths': pb})\nprint(json.dumps(items))`,
          JSON.stringify([opt, ds.pathsA, ds.pathsB, 7, out]),
        );
        await assertSameItems(ds, out, items);
        if (serial) assert.deepStrictEqual(items.map((i) => path.basename(i.B_paths!)), ['1.png', '5.png', '1.png']);
      });
    }

    it('refuses --load_size < --crop_size with a resizing preprocess instead of failing on every image', () => {
      assert.throws(
        () => new UnalignedDataset(dataOptions({ dataroot: path.join(root, 'unaligned'), load_size: 200, crop_size: 256 }), new PythonRandom(0)),
        /Expected at least --crop_size \(256\) for --load_size but received '200' \(--preprocess resize_and_crop resizes to --load_size before cropping --crop_size\)/,
      );
    });
  });

  describe('single', () => {
    it('reads <dataroot> itself, A only, gray when the A side has 1 channel (BtoA → output_nc)', async () => {
      const opt = dataOptions({ dataroot: path.join(root, 'unaligned', 'trainA'), dataset_mode: 'single', direction: 'BtoA', output_nc: 1, preprocess: 'resize_and_crop', load_size: 256, no_flip: true });
      const ds = new SingleDataset(opt, new PythonRandom(3));
      const items = runPythonJson<PyItem[]>(
        `${PY_REFERENCE}\nopt, paths, seed, out = json.load(sys.stdin)\nrandom.seed(seed)\nitems = []\nfor i, p in enumerate(paths):\n` +
          `    items.append({'shapeA': save(single_item(opt, p), os.path.join(out, f'A{i}.f32')), 'A_paths': p})\nprint(json.dumps(items))`,
        JSON.stringify([opt, ds.paths, 3, out]),
      );
      assert.deepStrictEqual(items[0].shapeA, [1, 256, 256]);
      await assertSameItems(ds, out, items);
    });
  });

  describe('colorization', () => {
    it('A = L/50 - 1 (1 channel), B = ab/110 (2 channels) of the transformed RGB image', async () => {
      const opt = dataOptions({ dataroot: path.join(root, 'unaligned'), phase: 'trainA', dataset_mode: 'colorization', input_nc: 1, output_nc: 2 });
      const ds = new ColorizationDataset(opt, new PythonRandom(5));
      const plan = await new ColorizationDataset(opt, new PythonRandom(5)).plan(0);
      const s = await ds.get(0);
      assert.deepStrictEqual([s.shapeA, s.shapeB], [[1, 256, 256], [2, 256, 256]]);
      assert.strictEqual(s.A_paths, s.B_paths);
      const img = applyTransform(toRGB8(readImageFile(s.A_paths)), plan.jobs[0].parts[0].steps).image;
      const { L, AB } = labTensorsFromRgb(img);
      assert.deepStrictEqual(s.A, L);
      assert.deepStrictEqual(s.B, AB);
      assert.ok(s.A!.every((v) => v >= -1 && v <= 1));
    });

    it('asserts input_nc 1, output_nc 2, AtoB', () => {
      const base = { dataroot: path.join(root, 'unaligned'), phase: 'trainA', dataset_mode: 'colorization' };
      assert.throws(() => new ColorizationDataset(dataOptions({ ...base, input_nc: 3, output_nc: 2 }), new PythonRandom(0)), /Expected 1 for --input_nc but received '3'/);
      assert.throws(() => new ColorizationDataset(dataOptions({ ...base, input_nc: 1, output_nc: 3 }), new PythonRandom(0)), /Expected 2 for --output_nc but received '3'/);
      assert.throws(() => new ColorizationDataset(dataOptions({ ...base, input_nc: 1, output_nc: 2, direction: 'BtoA' }), new PythonRandom(0)), /Expected AtoB for --direction but received 'BtoA'/);
    });
  });

  describe('images smaller than --crop_size with --preprocess crop', () => {
    it('are refused naming the file, its size and crop_size, suggesting resize_and_crop', async () => {
      const dir = path.join(root, 'small');
      writePng(path.join(dir, 'tiny.png'), patternImage(100, 80, 3));
      const ds = createDataset(dataOptions({ dataroot: dir, dataset_mode: 'single', preprocess: 'crop', crop_size: 128 }), new PythonRandom(0));
      await assert.rejects(
        ds.get(0),
        (err: Error) =>
          err instanceof ImageFileError &&
          err.message === `${path.join(dir, 'tiny.png')} is 100x80, smaller than --crop_size 128; use --preprocess resize_and_crop (with --load_size >= --crop_size) or a smaller --crop_size`,
      );
    });
  });

  it('gray, gray+alpha, RGBA and 16-bit PNGs (written with pngjs) all load as RGB like convert("RGB")', async () => {
    const dir = path.join(root, 'mixed_png');
    const inputs = [
      writePng(path.join(dir, 'a_gray.png'), patternImage(40, 30, 1)),
      writePng(path.join(dir, 'b_gray_alpha.png'), patternImage(40, 30, 2)),
      writePng(path.join(dir, 'c_rgba.png'), patternImage(40, 30, 4)),
      writePng(path.join(dir, 'd_rgb16.png'), patternImage(40, 30, 3, 16)),
      writePng(path.join(dir, 'e_gray16.png'), patternImage(40, 30, 1, 16)),
    ];
    const opt = dataOptions({ dataroot: dir, dataset_mode: 'single', preprocess: 'none', no_flip: true });
    const ds = createDataset(opt, new PythonRandom(0));
    for (let i = 0; i < inputs.length; i++) {
      const s = await ds.get(i);
      assert.strictEqual(s.A_paths, inputs[i]);
      assert.deepStrictEqual(s.shapeA, [3, 32, 40]); // 30 rows → 32 by make_power_2
      const expected = toNormalizedTensor(applyTransform(toRGB8(readImageFile(inputs[i])), { grayscale: false, resize: null, crop: null, makePower2: true, flip: false }).image);
      assert.deepStrictEqual(s.A, expected, path.basename(inputs[i]));
    }
  });

  it('createDataset picks the class by --dataset_mode and refuses unknown modes', () => {
    const ds = createDataset(dataOptions({ dataroot: path.join(root, 'aligned'), dataset_mode: 'aligned' }), new PythonRandom(0));
    assert.ok(ds instanceof AlignedDataset);
    assert.throws(
      () => createDataset(dataOptions({ dataroot: root, dataset_mode: 'paired' }), new PythonRandom(0)),
      /Expected one of unaligned, aligned, single, colorization, template for --dataset_mode but received 'paired'/,
    );
  });

  it('every --dataset_mode the parser accepts builds a dataset: template pairs each image with itself', async () => {
    const ds = createDataset(dataOptions({ dataroot: path.join(root, 'aligned'), dataset_mode: 'template' }), new PythonRandom(0));
    assert.ok(ds instanceof TemplateDataset);
    const item = await ds.get(0);
    assert.deepStrictEqual(item.A, item.B);
    assert.strictEqual(item.A_paths, item.B_paths);
  });

  it('get() refuses indexes outside the dataset', async () => {
    const ds = new AlignedDataset(dataOptions({ dataroot: path.join(root, 'aligned') }), new PythonRandom(0));
    await assert.rejects(ds.get(4), /Expected an index in 0\.\.3 for the dataset but received 4/);
  });
});
