/** `img2img make-aligned` (make_dataset_aligned.py) on a small copy of the CycleGAN facades folders. */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { RawImage8 } from '../../../src/data/image';
import { encodePng, readImageFile, toRGB8 } from '../../../src/data/image_io';
import { sortLikePython } from '../../../src/data/make_dataset';
import { makeAlignedCommand, topLevelImages } from '../../../src/tools/make_aligned';
import { SHARED } from '../../helpers/paths';
import { captureIO, listTree, removeTempDirs, tempDir } from './helpers/tool_io';

const CYCLEGAN_FACADES = path.join(SHARED, 'datasets/cyclegan_facades');

/** The first `counts[folder]` images of each cyclegan_facades folder, copied to a fresh dataset folder. */
function smallCopy(counts: Record<string, number>): string {
  const root = tempDir('aligned');
  for (const [folder, count] of Object.entries(counts)) {
    fs.mkdirSync(path.join(root, folder));
    for (const name of sortLikePython(fs.readdirSync(path.join(CYCLEGAN_FACADES, folder))).slice(0, count)) {
      fs.copyFileSync(path.join(CYCLEGAN_FACADES, folder, name), path.join(root, folder, name));
    }
  }
  return root;
}

const rgb = (file: string) => toRGB8(readImageFile(file));

function half(img: RawImage8, side: 0 | 1): RawImage8 {
  const w = img.width / 2;
  const data = new Uint8Array(w * img.height * 3);
  for (let y = 0; y < img.height; y++) data.set(img.data.subarray((y * img.width + side * w) * 3, (y * img.width + side * w + w) * 3), y * w * 3);
  return { data, width: w, height: img.height, channels: 3, bitDepth: 8 };
}

function meanAbsDiff(a: RawImage8, b: RawImage8): number {
  assert.deepStrictEqual([a.width, a.height], [b.width, b.height]);
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i] - b.data[i]);
  return sum / a.data.length;
}

describe('img2img make-aligned', () => {
  after(removeTempDirs);

  it('pairs trainA/trainB and testA/testB by sorted order into train/0000.jpg … and test/…', async () => {
    const root = smallCopy({ trainA: 3, trainB: 3, testA: 2, testB: 2 });
    const io = captureIO();
    assert.strictEqual(await makeAlignedCommand(['--dataset_path', root, '--workers', '2'], io), 0, io.text());
    const made = listTree(root).filter((f) => /^(train|test)\//.test(f));
    assert.deepStrictEqual(made, ['test/0000.jpg', 'test/0001.jpg', 'train/0000.jpg', 'train/0001.jpg', 'train/0002.jpg']);
    const a = topLevelImages(path.join(root, 'trainA'));
    const b = topLevelImages(path.join(root, 'trainB'));
    assert.deepStrictEqual(a.map((f) => path.basename(f)), ['1.jpg', '10.jpg', '100.jpg'], 'Python sorted() order');
    for (let i = 0; i < 3; i++) {
      const out = rgb(path.join(root, 'train', `000${i}.jpg`));
      assert.deepStrictEqual([out.width, out.height], [512, 256]);
      const left = meanAbsDiff(half(out, 0), rgb(a[i]));
      const right = meanAbsDiff(half(out, 1), rgb(b[i]));
      assert.ok(left < 8 && right < 8, `pair ${i}: mean differences ${left.toFixed(2)} / ${right.toFixed(2)} (JPEG quality 75)`);
    }
    assert.match(io.text(), /train: 3 pairs of trainA\|trainB written to .*train\/0000\.jpg … 0002\.jpg/);
  });

  it('works with only trainA/trainB, takes the reference\'s --dataset-path spelling, ignores other files', async () => {
    const root = smallCopy({ trainA: 2, trainB: 2 });
    fs.writeFileSync(path.join(root, 'trainA', 'readme.txt'), 'x');
    fs.mkdirSync(path.join(root, 'trainB', 'nested'));
    fs.copyFileSync(path.join(root, 'trainB', '1.jpg'), path.join(root, 'trainB', 'nested', '5.jpg'));
    const io = captureIO();
    assert.strictEqual(await makeAlignedCommand(['--dataset-path', root, '--no_multiprocessing'], io), 0, io.text());
    assert.deepStrictEqual(fs.readdirSync(path.join(root, 'train')).sort(), ['0000.jpg', '0001.jpg']);
    assert.strictEqual(fs.existsSync(path.join(root, 'test')), false);
  });

  it('refuses unequal counts, naming both folders and the unpaired files; nothing is written', async () => {
    const root = smallCopy({ trainA: 3, trainB: 2 });
    const io = captureIO();
    assert.strictEqual(await makeAlignedCommand(['--dataset_path', root], io), 1);
    assert.match(io.text(), /trainA has 3 images but .*trainB has 2; .*counts must match \(unpaired in .*trainA: 100\.jpg\)/);
    assert.strictEqual(fs.existsSync(path.join(root, 'train')), false);
  });

  it('refuses pairs of different sizes, naming the files; nothing is written', async () => {
    const root = smallCopy({ trainA: 2, trainB: 2, testA: 1, testB: 1 });
    const small: RawImage8 = { data: new Uint8Array(8 * 4 * 3), width: 8, height: 4, channels: 3, bitDepth: 8 };
    fs.rmSync(path.join(root, 'trainB', '10.jpg'));
    fs.writeFileSync(path.join(root, 'trainB', '10.png'), encodePng(small));
    const io = captureIO();
    assert.strictEqual(await makeAlignedCommand(['--dataset_path', root], io), 1);
    assert.match(io.text(), /trainA\/10\.jpg is 256x256 but its partner .*trainB\/10\.png is 8x4/);
    assert.match(io.text(), /nothing was written/);
    assert.strictEqual(fs.existsSync(path.join(root, 'train')), false);
    assert.strictEqual(fs.existsSync(path.join(root, 'test')), false, 'the test phase is not written either');
  });

  it('explains a missing folder and a missing --dataset_path', async () => {
    const root = smallCopy({ trainA: 1 });
    let io = captureIO();
    assert.strictEqual(await makeAlignedCommand(['--dataset_path', root], io), 1);
    assert.match(io.text(), /trainA exists but .*trainB does not/);
    io = captureIO();
    assert.strictEqual(await makeAlignedCommand([], io), 2);
    assert.match(io.text(), /Expected a value for --dataset_path but received nothing/);
    io = captureIO();
    assert.strictEqual(await makeAlignedCommand(['--dataset_path', path.join(root, 'nope')], io), 2);
    assert.match(io.text(), /Expected an existing folder for --dataset_path/);
  });
});
