/**
 * `img2img combine` (combine_A_and_B.py) on real facades data: the test split is cut into A and B halves,
 * combined back, and compared with the originals (exactly for PNG, within JPEG tolerance for JPEG).
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { RawImage8 } from '../../../src/data/image';
import { encodeJpeg, encodePng, readImageFile, toRGB8 } from '../../../src/data/image_io';
import { sortLikePython } from '../../../src/data/make_dataset';
import { combineCommand, sideBySide } from '../../../src/tools/combine';
import { SHARED } from '../../helpers/paths';
import { captureIO, listTree, removeTempDirs, tempDir } from './helpers/tool_io';

const FACADES_TEST = path.join(SHARED, 'datasets/facades/test');

function crop(img: RawImage8, x0: number, width: number): RawImage8 {
  const data = new Uint8Array(width * img.height * 3);
  for (let y = 0; y < img.height; y++) {
    data.set(img.data.subarray((y * img.width + x0) * 3, (y * img.width + x0 + width) * 3), y * width * 3);
  }
  return { data, width, height: img.height, channels: 3, bitDepth: 8 };
}

function meanAbsDiff(a: RawImage8, b: RawImage8): number {
  assert.deepStrictEqual([a.width, a.height], [b.width, b.height]);
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i] - b.data[i]);
  return sum / a.data.length;
}

const rgb = (file: string) => toRGB8(readImageFile(file));

/**
 * A/<split>/<name> and B/<split>/<name>: the left and right halves of the first `count` facades test images
 * (the last quarter in val, the rest in train), as JPEG (quality 95) or PNG. (jpeg-js encodes slowly, so
 * the JPEG case uses fewer images.)
 */
function splitFacades(root: string, ext: '.jpg' | '.png', count = 8, namer: (n: string, side: 'A' | 'B') => string = (n) => n): Map<string, string> {
  const originals = new Map<string, string>();
  const names = sortLikePython(fs.readdirSync(FACADES_TEST)).slice(0, count);
  names.forEach((name, i) => {
    const split = i < count - Math.max(1, Math.floor(count / 4)) ? 'train' : 'val';
    const img = rgb(path.join(FACADES_TEST, name));
    const half = img.width / 2;
    const base = name.replace(/\.jpg$/, ext);
    for (const [side, part] of [['A', crop(img, 0, half)], ['B', crop(img, half, half)]] as const) {
      const dir = path.join(root, side, split);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, namer(base, side)), ext === '.png' ? encodePng(part) : encodeJpeg(part, 95));
    }
    originals.set(`${split}/${base}`, path.join(FACADES_TEST, name));
  });
  return originals;
}

describe('img2img combine', () => {
  after(removeTempDirs);

  it('joins A|B side by side (sideBySide)', () => {
    const a: RawImage8 = { data: Uint8Array.from([1, 1, 1, 2, 2, 2]), width: 1, height: 2, channels: 3, bitDepth: 8 };
    const b: RawImage8 = { data: Uint8Array.from([3, 3, 3, 4, 4, 4]), width: 1, height: 2, channels: 3, bitDepth: 8 };
    assert.deepStrictEqual(Array.from(sideBySide(a, b).data), [1, 1, 1, 3, 3, 3, 2, 2, 2, 4, 4, 4]);
  });

  it('recombines split facades JPEGs into the originals (within JPEG tolerance), per split, in worker threads', async () => {
    const root = tempDir('combine-jpg');
    const originals = splitFacades(root, '.jpg', 4);
    const io = captureIO();
    const code = await combineCommand(['--fold_A', path.join(root, 'A'), '--fold_B', path.join(root, 'B'), '--fold_AB', path.join(root, 'AB'), '--workers', '2'], io);
    assert.strictEqual(code, 0, io.text());
    assert.deepStrictEqual(listTree(path.join(root, 'AB')), [...originals.keys()].sort());
    for (const [rel, original] of originals) {
      const out = path.join(root, 'AB', rel);
      assert.deepStrictEqual([...fs.readFileSync(out).subarray(0, 2)], [0xff, 0xd8], `${rel} is written as JPEG`);
      const diff = meanAbsDiff(rgb(out), rgb(original));
      assert.ok(diff < 4, `${rel}: mean absolute difference ${diff.toFixed(2)} to the original is above JPEG tolerance`);
    }
    assert.match(io.text(), /split train: 3 pairs written/);
    assert.match(io.text(), /split val: 1 pair written/);
    assert.match(io.text(), /done: 4 pairs written/);
  });

  it('is lossless for PNG, and --no_multiprocessing writes the same bytes', async () => {
    const root = tempDir('combine-png');
    const originals = splitFacades(root, '.png');
    const args = (out: string) => ['--fold_A', path.join(root, 'A'), '--fold_B', path.join(root, 'B'), '--fold_AB', path.join(root, out)];
    assert.strictEqual(await combineCommand([...args('AB1'), '--workers', '2'], captureIO()), 0);
    assert.strictEqual(await combineCommand([...args('AB2'), '--no_multiprocessing'], captureIO()), 0);
    for (const [rel, original] of originals) {
      const combined = rgb(path.join(root, 'AB1', rel));
      assert.strictEqual(meanAbsDiff(combined, rgb(original)), 0, rel);
      assert.ok(fs.readFileSync(path.join(root, 'AB1', rel)).equals(fs.readFileSync(path.join(root, 'AB2', rel))), rel);
    }
  });

  it('--use_AB pairs x_A.ext with x_B.ext into x.ext, and --num_imgs limits each split', async () => {
    const root = tempDir('combine-ab');
    splitFacades(root, '.png', 8, (n, side) => n.replace('.png', `_${side}.png`));
    const io = captureIO();
    const code = await combineCommand(['--fold_A', path.join(root, 'A'), '--fold_B', path.join(root, 'B'), '--fold_AB', path.join(root, 'AB'), '--use_AB', '--num_imgs', '2'], io);
    assert.strictEqual(code, 0, io.text());
    assert.deepStrictEqual(listTree(path.join(root, 'AB')), ['train/100.png', 'train/101.png', 'val/104.png', 'val/105.png']);
  });

  it('names missing partners and mismatched sizes, still writes the good pairs, and exits 1', async () => {
    const root = tempDir('combine-bad');
    splitFacades(root, '.png');
    fs.rmSync(path.join(root, 'B', 'train', '10.png'));
    const small: RawImage8 = { data: new Uint8Array(10 * 10 * 3), width: 10, height: 10, channels: 3, bitDepth: 8 };
    fs.writeFileSync(path.join(root, 'B', 'train', '100.png'), encodePng(small));
    fs.writeFileSync(path.join(root, 'A', 'train', 'notes.txt'), 'not an image');
    const io = captureIO();
    const code = await combineCommand(['--fold_A', path.join(root, 'A'), '--fold_B', path.join(root, 'B'), '--fold_AB', path.join(root, 'AB')], io);
    assert.strictEqual(code, 1);
    const text = io.text();
    assert.match(text, /split train: 4 pairs written .*\(1 without a partner in .*B\/train, 1 failed\)/);
    assert.match(text, /no partner in .*B\/train for: 10\.png/);
    assert.match(text, /A\/train\/100\.png is 256x256 but .*B\/train\/100\.png is 10x10 \(A and B must have the same size\)/);
    assert.match(text, /done: 6 pairs written to .*, 1 without a partner, 1 failed/);
    assert.ok(!fs.existsSync(path.join(root, 'AB', 'train', '100.png')));
  });

  it('reports unreadable images by name', async () => {
    const root = tempDir('combine-broken');
    for (const side of ['A', 'B']) fs.mkdirSync(path.join(root, side, 'test'), { recursive: true });
    fs.copyFileSync(path.join(SHARED, 'fixtures/bad_inputs/truncated.jpg'), path.join(root, 'A', 'test', 'x.jpg'));
    fs.copyFileSync(path.join(FACADES_TEST, '1.jpg'), path.join(root, 'B', 'test', 'x.jpg'));
    const io = captureIO();
    assert.strictEqual(await combineCommand(['--fold_A', path.join(root, 'A'), '--fold_B', path.join(root, 'B'), '--fold_AB', path.join(root, 'AB')], io), 1);
    assert.match(io.text(), /A\/test\/x\.jpg is a corrupt or truncated JPEG|A\/test\/x\.jpg .*truncated/);
  });

  it('usage errors exit 2 and name the option', async () => {
    let io = captureIO();
    assert.strictEqual(await combineCommand(['--fold_A', '/nonexistent/A', '--fold_B', '/nonexistent/B', '--fold_AB', '/tmp/x'], io), 2);
    assert.match(io.text(), /Expected an existing folder for --fold_A but received '\/nonexistent\/A'/);
    io = captureIO();
    assert.strictEqual(await combineCommand(['--fold_A', 'a'], io), 2);
    assert.match(io.text(), /Expected a value for --fold_B but received nothing \(it is required\)/);
    io = captureIO();
    assert.strictEqual(await combineCommand(['--help'], io), 0);
    assert.match(io.text(), /--use_AB/);
  });
});
