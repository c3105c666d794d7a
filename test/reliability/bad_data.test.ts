// Issue 7, bad data: every broken image of shared/fixtures/bad_inputs gives a clear error naming it (readImageFile,
// translate, and a dataset folder through `img2img train`); --skip_bad_images warns and trains on; decompression
// bombs are refused from the header (fast, without the memory); empty or missing folders, images smaller than
// --crop_size, grayscale, RGBA and odd-width aligned images give clear errors or train correctly.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { defineG, loadGenerator, manualSeed, saveNetworkCheckpoint } from '../../src';
import type { Generator } from '../../src';
import { decodeImage, readImageFile } from '../../src/data/image_io';
import { ImageFileError } from '../../src/data/image_errors';
import { BAD_INPUTS, QUIET, TINY, facadesDataset, nonFiniteCount, pngImage, runCli, tmpdir } from './helpers';

/** What each broken image must be refused for (after its name). */
const IMAGE_REFUSALS: Record<string, RegExp> = {
  'truncated.jpg': /is a truncated JPEG/,
  'empty.jpg': /is empty \(0 bytes\)/,
  'text_named.jpg': /is not an image: it starts with text "this is not an i"/,
  'bomb_20000x20000.png': /is 20000x20000 = 400 megapixels, over the limit of 50 megapixels \(--max_image_pixels\)/,
};

function escape(s: string): string { return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }

/** Asserts that one line of `out` holds `text` and matches every pattern. */
function assertLine(out: string, text: string, ...patterns: RegExp[]): void {
  const found = out.split('\n').some((line) => line.includes(text) && patterns.every((p) => p.test(line)));
  assert.ok(found, `no line with ${JSON.stringify(text)} matching ${patterns.join(', ')} in:\n${out}`);
}

describe('reliability: broken, hostile and unusual images', function () {
  this.timeout(300000);
  const tmp = tmpdir('baddata');
  const checkpoints = path.join(tmp, 'checkpoints');
  let generator: Generator;
  before(async () => {
    fs.mkdirSync(tmp, { recursive: true });
    manualSeed(2);
    const g = defineG({ netG: 'resnet_6blocks', ngf: 4 });
    saveNetworkCheckpoint(g, path.join(tmp, 'g.pth'), { model: 'test' });
    g.dispose();
    generator = await loadGenerator(path.join(tmp, 'g.pth'));
  });
  after(() => {
    generator?.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function train(dataroot: string, name: string, extra: string[] = []) {
    return runCli(['train', '--dataroot', dataroot, '--name', name, '--checkpoints_dir', checkpoints, '--model', 'pix2pix', ...TINY, ...QUIET,
      '--n_epochs', '1', '--n_epochs_decay', '0', '--print_freq', '1', '--seed', '9', ...extra]);
  }

  describe('each broken image of bad_inputs', () => {
    it('covers every image fixture', () => {
      const images = fs.readdirSync(BAD_INPUTS).filter((f) => /\.(jpg|png)$/.test(f));
      assert.deepStrictEqual(images.filter((f) => !(f in IMAGE_REFUSALS)), []);
    });

    for (const [file, refusal] of Object.entries(IMAGE_REFUSALS)) {
      it(`${file}: readImageFile and translate(path) refuse it with an ImageFileError naming it`, async () => {
        const full = path.join(BAD_INPUTS, file);
        const expected = new RegExp(`^${escape(full)} ${refusal.source}`);
        assert.throws(() => readImageFile(full), (err: unknown) => {
          assert.ok(err instanceof ImageFileError, String(err));
          assert.strictEqual(err.file, full);
          assert.match(err.message, expected);
          return true;
        });
        await assert.rejects(generator.translate(full), (err: Error) => { assert.match(err.message, expected); return true; });
      });
    }

    it('bomb_20000x20000.png is refused from its header: in milliseconds, without allocating its 1.2 GB', async () => {
      const full = path.join(BAD_INPUTS, 'bomb_20000x20000.png');
      const bytes = fs.readFileSync(full);
      const rss = process.memoryUsage().rss;
      const started = process.hrtime.bigint();
      for (let i = 0; i < 5; i++) {
        assert.throws(() => readImageFile(full), /over the limit of 50 megapixels/);
        assert.throws(() => decodeImage(bytes, { name: 'upload.png' }), /^ImageFileError: upload\.png is 20000x20000 = 400 megapixels|^upload\.png is 20000x20000/);
        await assert.rejects(generator.translate(bytes), /input image buffer is 20000x20000 = 400 megapixels, over the limit/);
      }
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const grew = (process.memoryUsage().rss - rss) / 2 ** 20;
      assert.ok(ms < 2000, `15 refusals took ${ms.toFixed(0)} ms`);
      assert.ok(grew < 64, `RSS grew ${grew.toFixed(1)} MB while refusing the bomb`);
      // A lower limit is honoured too.
      assert.throws(() => readImageFile(path.join(BAD_INPUTS, '../../datasets/facades/train/1.jpg'), { maxPixels: 100000 }), /is 512x256 = 0\.131072 megapixels, over the limit of 0\.1 megapixels/);
    });
  });

  describe('img2img train on a dataset holding broken images', () => {
    const data = path.join(tmp, 'broken');
    const truncatedOnly = path.join(tmp, 'truncated');
    before(() => {
      facadesDataset(data, 2);
      for (const file of Object.keys(IMAGE_REFUSALS)) fs.copyFileSync(path.join(BAD_INPUTS, file), path.join(data, 'train', `0_${file}`));
      facadesDataset(truncatedOnly, 2);
      fs.copyFileSync(path.join(BAD_INPUTS, 'truncated.jpg'), path.join(truncatedOnly, 'train', '0_truncated.jpg'));
    });

    it('fails fast, before training on anything: exit 1 naming every image whose header is broken, and why', async () => {
      const r = await train(data, 'broken', ['--serial_batches']);
      assert.strictEqual(r.code, 1, r.out);
      assert.match(r.out, /img2img train: /);
      for (const file of ['empty.jpg', 'text_named.jpg', 'bomb_20000x20000.png']) {
        assertLine(r.out, `${path.join(data, 'train', `0_${file}`)} `, IMAGE_REFUSALS[file]);
      }
      assert.doesNotMatch(r.out, /\[Rank 0\]/, 'no iteration ran');
      assert.doesNotMatch(r.out, /\n\s+at /, 'no stack trace');
      assert.ok(!fs.existsSync(path.join(checkpoints, 'broken/latest_net_G.pth')));
    });

    it('a JPEG whose header is fine but whose data is cut off stops the run when it is read: exit 1 naming it', async () => {
      const r = await train(truncatedOnly, 'truncated', ['--serial_batches']);
      assert.strictEqual(r.code, 1, r.out);
      assertLine(r.out, `img2img train: ${path.join(truncatedOnly, 'train', '0_truncated.jpg')} `, IMAGE_REFUSALS['truncated.jpg']);
      assert.doesNotMatch(r.out, /\[Rank 0\]/, 'it is the first image: no iteration ran');
      assert.doesNotMatch(r.out, /\n\s+at /, 'no stack trace');
    });

    it('--skip_bad_images skips a JPEG cut off after its header with a warning naming it, trains on the rest and exits 0', async () => {
      const r = await train(truncatedOnly, 'truncated_skipped', ['--skip_bad_images']);
      assert.strictEqual(r.code, 0, r.out);
      assertLine(r.out, `Skipping a bad image (--skip_bad_images): ${path.join(truncatedOnly, 'train', '0_truncated.jpg')} `, IMAGE_REFUSALS['truncated.jpg']);
      assert.strictEqual(r.out.match(/\[Rank 0\]/g)?.length, 2, 'trained on the two good pairs');
    });

    it('--skip_bad_images warns about each broken image, naming it and why, trains on the good ones and exits 0', async () => {
      const r = await train(data, 'skipped', ['--skip_bad_images']);
      assert.strictEqual(r.code, 0, r.out);
      for (const [file, refusal] of Object.entries(IMAGE_REFUSALS)) {
        const lines = r.out.split('\n').filter((l) => /warning|skipping/i.test(l) && l.includes(path.join(data, 'train', `0_${file}`)) && refusal.test(l));
        assert.ok(lines.length >= 1, `a warning naming ${file} and why\n${r.out}`);
      }
      assert.strictEqual(r.out.match(/\[Rank 0\]/g)?.length, 2, 'trained on the two good pairs');
      assert.match(r.out, /saving the final model as latest \(epoch 1, iters 2\)/);
    });

    it('--max_image_pixels below the images\' size refuses them from their header', async () => {
      const r = await train(facadesDataset(path.join(tmp, 'limit'), 1), 'limit', ['--max_image_pixels', '100000']);
      assert.strictEqual(r.code, 1, r.out);
      assertLine(r.out, `${path.join(tmp, 'limit/train/1.jpg')} is 512x256 = 0.131072 megapixels, over the limit of 0.1 megapixels (--max_image_pixels)`);
    });
  });

  describe('img2img train on empty or missing folders', () => {
    const cases: Array<[string, string, (root: string) => void, string, RegExp]> = [
      ['pix2pix, no train/', 'pix2pix', () => undefined, 'train', /does not exist/],
      ['pix2pix, empty train/', 'pix2pix', (root) => fs.mkdirSync(path.join(root, 'train')), 'train', /has no images \(looked for \.jpg/],
      ['cycle_gan, no trainA/', 'cycle_gan', (root) => {
        fs.mkdirSync(path.join(root, 'trainB'));
        fs.writeFileSync(path.join(root, 'trainB/1.png'), pngImage(64, 64));
      }, 'trainA', /does not exist/],
      ['cycle_gan, empty trainB/', 'cycle_gan', (root) => {
        fs.mkdirSync(path.join(root, 'trainA'));
        fs.mkdirSync(path.join(root, 'trainB'));
        fs.writeFileSync(path.join(root, 'trainA/1.png'), pngImage(64, 64));
        fs.writeFileSync(path.join(root, 'trainB/notes.txt'), 'not an image');
      }, 'trainB', /has no images \(looked for \.jpg/],
    ];
    cases.forEach(([title, model, make, folder, problem], i) => {
      it(`${title}: exit 1 naming ${folder}/ and what is wrong with it`, async () => {
        const root = path.join(tmp, `folders${i}`);
        fs.mkdirSync(root);
        make(root);
        const r = await runCli(['train', '--dataroot', root, '--name', `folders${i}`, '--checkpoints_dir', checkpoints, '--model', model, ...TINY]);
        assert.strictEqual(r.code, 1, r.out);
        assert.match(r.out, /img2img train: /);
        assertLine(r.out, `${path.join(root, folder)} `, problem);
        assert.doesNotMatch(r.out, /\n\s+at /, 'no stack trace');
      });
    });
  });

  describe('img2img train on unusual images', () => {
    function aligned(name: string, width: number, height: number, colorType: 0 | 2 | 4 | 6): string {
      const root = path.join(tmp, name);
      fs.mkdirSync(path.join(root, 'train'), { recursive: true });
      fs.writeFileSync(path.join(root, 'train/1.png'), pngImage(width, height, colorType));
      return root;
    }

    it('images smaller than --crop_size with --preprocess crop: exit 1 naming the image and the fix (the reference crashes)', async () => {
      const r = await train(aligned('small', 128, 64, 2), 'small', ['--preprocess', 'crop']);
      assert.strictEqual(r.code, 1, r.out);
      assert.match(r.out, /img2img train: /);
      assertLine(r.out, path.join(tmp, 'small/train'), /1\.png/, /smaller than --crop_size 128/, /use --preprocess resize_and_crop/);
    });

    for (const [title, name, width, colorType, extra] of [
      ['grayscale (PNG gray) into a 3-channel model', 'gray', 256, 0, []],
      ['grayscale into a 1-channel model (--input_nc 1 --output_nc 1)', 'gray1', 256, 0, ['--input_nc', '1', '--output_nc', '1']],
      ['RGBA (alpha dropped, as PIL convert("RGB"))', 'rgba', 256, 6, []],
      ['odd-width aligned pairs (257 px: A gets 128, B 129, as the reference splits)', 'odd', 257, 2, []],
    ] as Array<[string, string, number, 0 | 2 | 6, string[]]>) {
      it(`${title}: trains, exits 0, finite checkpoint`, async () => {
        const r = await train(aligned(name, width, 128, colorType), name, extra);
        assert.strictEqual(r.code, 0, r.out);
        if (width % 2) assertLine(r.out, 'warning: ', /has an odd width, so B gets one column more than A/);
        assert.match(r.out, /\[Rank 0\] \(epoch: 1, iters: 1,[^\n]*G_L1: \d+\.\d{3}/);
        const c = nonFiniteCount(path.join(checkpoints, name, 'latest_net_G.pth'));
        assert.ok(c.values > 0 && c.nonFinite === 0, JSON.stringify(c));
      });
    }
  });
});
