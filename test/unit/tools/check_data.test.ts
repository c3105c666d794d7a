/** `img2img check-data` and quickCheckDataset on good and broken copies of the facades data. */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { RawImage8 } from '../../../src/data/image';
import { encodePng } from '../../../src/data/image_io';
import { sortLikePython } from '../../../src/data/make_dataset';
import { checkDataCommand, checkDataset } from '../../../src/tools/check_data';
import { quickCheckDataset } from '../../../src/data/dataset_check';
import { SHARED } from '../../helpers/paths';
import { captureIO, removeTempDirs, tempDir } from './helpers/tool_io';

const FACADES = path.join(SHARED, 'datasets/facades');
const CYCLEGAN_FACADES = path.join(SHARED, 'datasets/cyclegan_facades');
const BAD = path.join(SHARED, 'fixtures/bad_inputs');

function copyFirst(from: string, to: string, count: number): void {
  fs.mkdirSync(to, { recursive: true });
  for (const name of sortLikePython(fs.readdirSync(from)).slice(0, count)) fs.copyFileSync(path.join(from, name), path.join(to, name));
}

function gray(width: number, height: number): RawImage8 {
  return { data: new Uint8Array(width * height).fill(128), width, height, channels: 1, bitDepth: 8 };
}

function rgb(width: number, height: number): RawImage8 {
  return { data: new Uint8Array(width * height * 3).fill(90), width, height, channels: 3, bitDepth: 8 };
}

describe('img2img check-data', () => {
  after(removeTempDirs);

  it('passes a good aligned dataset and prints a short report', async () => {
    const root = tempDir('check-good');
    copyFirst(path.join(FACADES, 'train'), path.join(root, 'train'), 4);
    const io = captureIO();
    assert.strictEqual(await checkDataCommand(['--dataroot', root, '--dataset_mode', 'aligned', '--workers', '2'], io), 0, io.text());
    assert.match(io.text(), /AB: 4 images in .*train, sizes 512x256 \(all\)/);
    assert.match(io.text(), /decoded 4 images without error/);
    assert.match(io.lines[io.lines.length - 1], /^OK$/);
  });

  it('names every broken image (empty, text, truncated, decompression bomb) and exits 1', async () => {
    const root = tempDir('check-bad');
    copyFirst(path.join(CYCLEGAN_FACADES, 'trainA'), path.join(root, 'trainA'), 3);
    copyFirst(path.join(CYCLEGAN_FACADES, 'trainB'), path.join(root, 'trainB'), 3);
    for (const bad of ['empty.jpg', 'text_named.jpg', 'truncated.jpg', 'bomb_20000x20000.png']) {
      fs.copyFileSync(path.join(BAD, bad), path.join(root, 'trainA', bad));
    }
    const io = captureIO();
    assert.strictEqual(await checkDataCommand(['--dataroot', root, '--dataset_mode', 'unaligned', '--json'], io), 1);
    const report = JSON.parse(io.lines.join('\n'));
    assert.strictEqual(report.ok, false);
    const errors: string[] = report.errors;
    const about = (name: string) => errors.filter((e) => e.includes(path.join(root, 'trainA', name)));
    assert.match(about('empty.jpg').join(), /is empty \(0 bytes\)/);
    assert.match(about('text_named.jpg').join(), /is not an image/);
    assert.match(about('truncated.jpg').join(), /corrupt or truncated|truncated/);
    assert.match(about('bomb_20000x20000.png').join(), /20000x20000 = 400 megapixels, over the limit .*--max_image_pixels/);
    assert.strictEqual(errors.length, 4, errors.join('\n'));
    assert.deepStrictEqual(report.folders.map((f: { role: string; images: number }) => [f.role, f.images]), [['A', 7], ['B', 3]]);
    assert.strictEqual(report.decoded, 6, 'the 3 good images of A and the 3 of B; the truncated one fails to decode');
  });

  it('quickCheckDataset reads headers only: it misses the truncated JPEG the full decode finds', async () => {
    const root = tempDir('check-quick');
    copyFirst(path.join(CYCLEGAN_FACADES, 'trainA'), path.join(root, 'trainA'), 2);
    copyFirst(path.join(CYCLEGAN_FACADES, 'trainB'), path.join(root, 'trainB'), 2);
    fs.copyFileSync(path.join(BAD, 'truncated.jpg'), path.join(root, 'trainB', 'truncated.jpg'));
    fs.copyFileSync(path.join(BAD, 'empty.jpg'), path.join(root, 'trainB', 'empty.jpg'));
    const quick = quickCheckDataset({ dataroot: root, dataset_mode: 'unaligned', phase: 'train' });
    assert.deepStrictEqual(quick.errors.map((e) => path.basename(e.split(' ')[0])), ['empty.jpg']);
    const full = await checkDataset({ dataroot: root, dataset_mode: 'unaligned' }, { workers: 1, io: captureIO() });
    assert.deepStrictEqual(full.errors.map((e) => path.basename(e.split(' ')[0])).sort(), ['empty.jpg', 'truncated.jpg']);
  });

  it('quickCheckDataset takes well under a second for the 400 facades training images', () => {
    const opt = { dataroot: FACADES, dataset_mode: 'aligned', phase: 'train', crop_size: 256, load_size: 286, preprocess: 'resize_and_crop', max_image_pixels: 50_000_000, max_dataset_size: Infinity };
    quickCheckDataset(opt); // warm the file cache
    const start = process.hrtime.bigint();
    const result = quickCheckDataset(opt);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    assert.deepStrictEqual(result, { errors: [], warnings: [] });
    assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`);
  });

  it('checks sizes against --crop_size after the resize --preprocess implies', () => {
    const root = tempDir('check-small');
    for (const side of ['trainA', 'trainB']) {
      fs.mkdirSync(path.join(root, side));
      fs.writeFileSync(path.join(root, side, 'big.png'), encodePng(rgb(300, 300)));
    }
    fs.writeFileSync(path.join(root, 'trainA', 'small.png'), encodePng(rgb(102, 120)));
    const base = { dataroot: root, dataset_mode: 'unaligned', crop_size: 256, load_size: 286 };
    // resize_and_crop resizes everything to load_size first: fine
    assert.deepStrictEqual(quickCheckDataset({ ...base, preprocess: 'resize_and_crop' }).errors, []);
    // crop uses the raw size
    const crop = quickCheckDataset({ ...base, preprocess: 'crop' });
    assert.strictEqual(crop.errors.length, 1);
    assert.match(crop.errors[0], /1 image in .*trainA is smaller than --crop_size 256: small\.png \(102x120\); use --preprocess resize_and_crop/);
    // scale_width_and_crop: width becomes load_size, height at least crop_size: fine
    assert.deepStrictEqual(quickCheckDataset({ ...base, preprocess: 'scale_width_and_crop' }).errors, []);
    // none: no crop, but the user is told the image stays small and is not a multiple of 4
    const none = quickCheckDataset({ ...base, preprocess: 'none' });
    assert.deepStrictEqual(none.errors, []);
    assert.ok(none.warnings.some((w) => /smaller than --crop_size 256 and --preprocess none/.test(w)), none.warnings.join('\n'));
    assert.ok(none.warnings.some((w) => /not a multiple of 4/.test(w)), none.warnings.join('\n'));
    // load_size < crop_size with a resize is one option error, not one per image
    const options = quickCheckDataset({ ...base, preprocess: 'resize_and_crop', load_size: 200 });
    assert.deepStrictEqual(options.errors, ['--load_size 200 is smaller than --crop_size 256: --preprocess resize_and_crop resizes to --load_size before cropping --crop_size']);
  });

  it('warns about odd aligned widths and mixed channel layouts', async () => {
    const root = tempDir('check-odd');
    fs.mkdirSync(path.join(root, 'train'));
    fs.writeFileSync(path.join(root, 'train', 'a.png'), encodePng(rgb(512, 256)));
    fs.writeFileSync(path.join(root, 'train', 'odd.png'), encodePng(rgb(513, 256)));
    fs.writeFileSync(path.join(root, 'train', 'gray.png'), encodePng(gray(512, 256)));
    const report = await checkDataset({ dataroot: root, dataset_mode: 'aligned' }, { workers: 1, io: captureIO() });
    assert.deepStrictEqual(report.errors, []);
    assert.ok(report.warnings.some((w) => /1 image in .*train has an odd width, so B gets one column more than A .*odd\.png \(513x256\)/.test(w)), report.warnings.join('\n'));
    assert.ok(report.warnings.some((w) => /mixes channel layouts — RGB: 2 .*; gray: 1 \(e\.g\. gray\.png\)/.test(w)), report.warnings.join('\n'));
    assert.match(report.folders[0].sizes, /2 sizes, from 512x256 to 513x256/);
  });

  it('explains layout mistakes: CycleGAN folders read as aligned, and the reverse', async () => {
    let io = captureIO();
    assert.strictEqual(await checkDataCommand(['--dataroot', CYCLEGAN_FACADES, '--dataset_mode', 'aligned', '--headers_only'], io), 1);
    assert.match(io.text(), /cyclegan_facades\/train does not exist: --dataset_mode aligned reads .* \(it has trainA\/ and trainB\/: an unpaired CycleGAN layout — use --dataset_mode unaligned/);
    io = captureIO();
    assert.strictEqual(await checkDataCommand(['--dataroot', FACADES, '--headers_only'], io), 1);
    assert.match(io.text(), /facades\/trainA and .*facades\/trainB do not exist: .* \(it has train\/: a paired A\|B layout — use --dataset_mode aligned\)/);
    const missing = quickCheckDataset({ dataroot: '/nonexistent/data', dataset_mode: 'single' });
    assert.deepStrictEqual(missing.errors, ['--dataroot /nonexistent/data does not exist']);
    const empty = tempDir('check-empty');
    assert.match(quickCheckDataset({ dataroot: empty, dataset_mode: 'single' }).errors[0], /has no images/);
  });

  it('checks only the images --max_dataset_size would use, and validates its flags', async () => {
    const root = tempDir('check-max');
    copyFirst(path.join(CYCLEGAN_FACADES, 'testA'), path.join(root, 'images'), 2);
    fs.copyFileSync(path.join(BAD, 'empty.jpg'), path.join(root, 'images', 'zz_empty.jpg'));
    assert.strictEqual(quickCheckDataset({ dataroot: path.join(root, 'images'), dataset_mode: 'single', max_dataset_size: 2 }).errors.length, 0);
    assert.strictEqual(quickCheckDataset({ dataroot: path.join(root, 'images'), dataset_mode: 'single' }).errors.length, 1);
    const io = captureIO();
    assert.strictEqual(await checkDataCommand(['--dataroot', root, '--dataset_mode', 'paired'], io), 2);
    assert.match(io.text(), /Expected one of aligned, unaligned, single, colorization for --dataset_mode but received 'paired'/);
  });
});
