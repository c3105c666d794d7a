/**
 * The libjpeg-turbo-exact JPEG decoder against Pillow (which decodes with libjpeg-turbo): real facades files,
 * every chroma subsampling / progressive / optimized-Huffman combination Pillow writes, tiny sizes, and cjpeg
 * files with restart markers and unusual sampling (fixtures/). Tolerance: exact.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { decodeImage, readImageFile } from '../../../src/data/image_io';
import { decodeJpegExact } from '../../../src/data/jpeg_decoder';
import { runPythonJson } from '../../helpers/run_python';
import { REPO_ROOT } from '../../helpers/paths';
import { CYCLEGAN_FACADES, FACADES, requirePil, tempDir, worstDifference } from './data_test_helpers';

const FIXTURES = path.join(REPO_ROOT, 'test', 'unit', 'data', 'fixtures');

/** Writes Pillow's pixels of each file to <out>/<i>.raw (RGB, or L for gray files); returns the modes. */
function pillowPixels(files: string[], out: string): string[] {
  return runPythonJson<string[]>(
    `import json, sys, os, numpy as np\nfrom PIL import Image\nfiles, out = json.load(sys.stdin)\nmodes = []\nfor i, f in enumerate(files):\n` +
      `    im = Image.open(f)\n    modes.append(im.mode)\n    im = im if im.mode == 'L' else im.convert('RGB')\n    np.asarray(im).tofile(os.path.join(out, f'{i}.raw'))\nprint(json.dumps(modes))`,
    JSON.stringify([files, out]),
  );
}

function assertSameAsPillow(files: string[], label: string): void {
  const out = tempDir('jpeg-ref');
  const modes = pillowPixels(files, out);
  files.forEach((file, i) => {
    const ours = decodeJpegExact(fs.readFileSync(file));
    assert.ok(ours, `${label}: ${path.basename(file)} fell back to jpeg-js`);
    assert.strictEqual(ours.channels, modes[i] === 'L' ? 1 : 3, `${path.basename(file)} channels`);
    const ref = fs.readFileSync(path.join(out, `${i}.raw`));
    assert.strictEqual(ours.data.length, ref.length, `${path.basename(file)} size`);
    const { max, index } = worstDifference(ours.data, ref);
    const c = ours.channels;
    assert.strictEqual(max, 0, `${path.basename(file)}: worst difference ${max} at pixel (${Math.floor(index / c) % ours.width}, ${Math.floor(index / c / ours.width)})`);
  });
}

describe('data/jpeg_decoder (libjpeg-turbo parity, exact)', function () {
  this.timeout(60000);
  before(requirePil);

  it('decodes facades train/test and cyclegan_facades JPEGs exactly as Pillow', () => {
    const pick = (dir: string, n: number) => fs.readdirSync(dir).sort().slice(0, n).map((f) => path.join(dir, f));
    assertSameAsPillow(
      [...pick(path.join(FACADES, 'train'), 25), ...pick(path.join(FACADES, 'test'), 5), ...pick(path.join(CYCLEGAN_FACADES, 'trainA'), 5), ...pick(path.join(CYCLEGAN_FACADES, 'trainB'), 5)],
      'facades',
    );
  });

  it('decodes every subsampling × progressive × optimize × quality Pillow writes, at tiny and odd sizes', () => {
    const dir = tempDir('jpeg-variants');
    const files = runPythonJson<string[]>(
      `import json, sys, itertools, os\nfrom PIL import Image\nimport numpy as np\nout = sys.stdin.read()\n` +
        `src = Image.open('${path.join(FACADES, 'train', '7.jpg')}').convert('RGB')\nnoise = Image.fromarray(np.random.RandomState(1).randint(0, 256, (40, 40, 3), dtype=np.uint8))\nfiles = []\n` +
        `for (w, h), sub, prog, q, opt in itertools.product([(1, 1), (2, 2), (3, 5), (17, 9), (40, 40), (255, 129)], [0, 1, 2], [False, True], [50, 95], [False, True]):\n` +
        `    im = noise if (w, h) == (40, 40) else src.resize((w, h))\n    p = os.path.join(out, f'v_{w}x{h}_{sub}_{int(prog)}_{q}_{int(opt)}.jpg')\n    im.save(p, quality=q, subsampling=sub, progressive=prog, optimize=opt)\n    files.append(p)\n` +
        `for (w, h) in [(1, 1), (3, 5), (255, 129)]:\n    for prog in (False, True):\n        p = os.path.join(out, f'g_{w}x{h}_{int(prog)}.jpg')\n        src.resize((w, h)).convert('L').save(p, quality=90, progressive=prog)\n        files.append(p)\n` +
        `print(json.dumps(files))`,
      dir,
    );
    assert.strictEqual(files.length, 150);
    assertSameAsPillow(files, 'Pillow variants');
  });

  it('decodes cjpeg files with restart markers, 4:4:0, 4:1:1, 3x1 sampling, RGB components and gray', () => {
    const names = ['restart_1block_420.jpg', 'progressive_restart_440.jpg', 'sampling_411.jpg', 'sampling_3x1.jpg', 'rgb_components.jpg', 'gray_restart.jpg'];
    assertSameAsPillow(names.map((n) => path.join(FIXTURES, n)), 'cjpeg fixtures');
  });

  it('decodeImage uses it (exact facades pixels) and refuses arithmetic-coded JPEGs by name', () => {
    const file = path.join(FACADES, 'train', '1.jpg');
    const out = tempDir('jpeg-one');
    pillowPixels([file], out);
    const img = readImageFile(file);
    assert.strictEqual(worstDifference(img.data, fs.readFileSync(path.join(out, '0.raw'))).max, 0);
    assert.throws(() => readImageFile(path.join(FIXTURES, 'arithmetic.jpg')), /arithmetic\.jpg is an arithmetic-coded JPEG, which is not supported/);
  });

  it('reports corrupt scan data as a corrupt JPEG naming the file', () => {
    const buf = Buffer.from(fs.readFileSync(path.join(FACADES, 'train', '1.jpg')));
    // garble the Huffman tables' code counts so no code fits
    const dht = buf.indexOf(Buffer.from([0xff, 0xc4]));
    buf.fill(0xff, dht + 5, dht + 21);
    assert.throws(() => decodeImage(buf, { name: 'garbled.jpg' }), /garbled\.jpg is a corrupt or truncated JPEG/);
  });

  it('is not slower than jpeg-js on facades (both measured here)', () => {
    const buf = fs.readFileSync(path.join(FACADES, 'train', '5.jpg'));
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const jpegJs = require('jpeg-js') as { decode(b: Buffer, o: object): unknown };
    const time = (f: () => unknown) => {
      for (let i = 0; i < 3; i++) f();
      const t = process.hrtime.bigint();
      for (let i = 0; i < 10; i++) f();
      return Number(process.hrtime.bigint() - t) / 1e7;
    };
    const exact = time(() => decodeJpegExact(buf));
    const js = time(() => jpegJs.decode(buf, { useTArray: true, formatAsRGBA: false }));
    assert.ok(exact < js * 1.5, `exact ${exact.toFixed(1)} ms vs jpeg-js ${js.toFixed(1)} ms per image`);
  });
});
