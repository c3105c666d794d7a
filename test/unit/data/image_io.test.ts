/**
 * Decoding, encoding and PIL-style colour conversion (image_io, image_header) against Pillow, plus the
 * hostile files of fixtures/bad_inputs: each refused with an error that names it, the bomb from its header.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ImageFileError } from '../../../src/data/image_errors';
import { probeImage, readImageHeader } from '../../../src/data/image_header';
import { decodeImage, encodeJpeg, encodePng, readImageFile, toGray8, toRGB8 } from '../../../src/data/image_io';
import { runPython, runPythonJson } from '../../helpers/run_python';
import { BAD_INPUTS, FACADES, patternImage, requirePil, tempDir, worstDifference, writePng } from './data_test_helpers';

/** Files Pillow writes in every mode the pipeline may meet, with Pillow's convert("RGB") / convert("L") pixels. */
const MAKE_VARIANTS = String.raw`
import json, sys, os
import numpy as np
from PIL import Image
out = sys.argv[1] if len(sys.argv) > 1 else json.load(sys.stdin)
rng = np.random.RandomState(0)
rgb = rng.randint(0, 256, (13, 17, 3), dtype=np.uint8)
alpha = rng.randint(0, 256, (13, 17), dtype=np.uint8)
base = Image.fromarray(rgb)
variants = {
  'gray.png': base.convert('L'),
  'gray_alpha.png': Image.merge('LA', (base.convert('L'), Image.fromarray(alpha))),
  'rgb.png': base,
  'rgba.png': Image.merge('RGBA', (*base.split(), Image.fromarray(alpha))),
  'palette.png': base.convert('P', palette=Image.ADAPTIVE, colors=37),
  'bilevel.png': base.convert('1'),
  'rgb.bmp': base,
  'gray.bmp': base.convert('L'),
  'rgb.gif': base.convert('P', palette=Image.ADAPTIVE, colors=64),
  'rgb.tif': base,
  'rgb.ppm': base,
  'gray.pgm': base.convert('L'),
}
result = {}
for name, im in variants.items():
    p = os.path.join(out, name)
    im.save(p)
    back = Image.open(p)
    result[name] = {
      'mode': back.mode,
      'rgb': np.asarray(back.convert('RGB')).reshape(-1).tolist(),
      'gray': np.asarray(back.convert('L')).reshape(-1).tolist(),
    }
# a palette PNG with transparency, and 2-bit / 4-bit gray
pt = base.convert('P', palette=Image.ADAPTIVE, colors=16)
pt.save(os.path.join(out, 'palette_trns.png'), transparency=3)
back = Image.open(os.path.join(out, 'palette_trns.png'))
result['palette_trns.png'] = {'mode': back.mode, 'rgb': np.asarray(back.convert('RGB')).reshape(-1).tolist(),
                              'gray': np.asarray(back.convert('L')).reshape(-1).tolist()}
rgbt = Image.fromarray(rgb)
rgbt.save(os.path.join(out, 'rgb_trns.png'), transparency=(int(rgb[0,0,0]), int(rgb[0,0,1]), int(rgb[0,0,2])))
back = Image.open(os.path.join(out, 'rgb_trns.png'))
result['rgb_trns.png'] = {'mode': back.mode, 'rgb': np.asarray(back.convert('RGB')).reshape(-1).tolist(),
                          'gray': np.asarray(back.convert('L')).reshape(-1).tolist()}
print(json.dumps(result))
`;

interface Variant {
  mode: string;
  rgb: number[];
  gray: number[];
}

describe('data/image_io', function () {
  this.timeout(30000);
  let dir: string;
  let variants: Record<string, Variant>;

  before(() => {
    requirePil();
    dir = tempDir('image-io');
    variants = runPythonJson<Record<string, Variant>>(MAKE_VARIANTS, JSON.stringify(dir));
  });

  describe('decoding what Pillow writes, then convert("RGB") and convert("L") like Pillow', () => {
    const expectedChannels: Record<string, number> = {
      'gray.png': 1,
      'gray_alpha.png': 2,
      'rgb.png': 3,
      'rgba.png': 4,
      'palette.png': 3,
      'palette_trns.png': 4,
      'rgb_trns.png': 3,
      'bilevel.png': 1,
      'rgb.bmp': 3,
      'rgb.ppm': 3,
      'gray.pgm': 1,
    };
    for (const name of [
      'gray.png', 'gray_alpha.png', 'rgb.png', 'rgba.png', 'palette.png', 'palette_trns.png', 'rgb_trns.png',
      'bilevel.png', 'rgb.bmp', 'gray.bmp', 'rgb.gif', 'rgb.tif', 'rgb.ppm', 'gray.pgm',
    ]) {
      it(`${name}: same pixels as Pillow`, () => {
        const img = readImageFile(path.join(dir, name));
        assert.strictEqual(img.width, 17);
        assert.strictEqual(img.height, 13);
        if (expectedChannels[name]) assert.strictEqual(img.channels, expectedChannels[name], `${name} channels`);
        const rgb = toRGB8(img);
        const wrgb = worstDifference(rgb.data, variants[name].rgb);
        assert.strictEqual(wrgb.max, 0, `${name} RGB: worst difference ${wrgb.max} at sample ${wrgb.index}`);
        const gray = toGray8(img);
        const wgray = worstDifference(gray.data, variants[name].gray);
        assert.strictEqual(wgray.max, 0, `${name} L: worst difference ${wgray.max} at sample ${wgray.index}`);
      });
    }
  });

  describe('16-bit PNG', () => {
    it('keeps 16-bit samples (skipRescale) and channel counts for gray and RGB', () => {
      for (const channels of [1, 2, 3, 4] as const) {
        const img = patternImage(9, 7, channels, 16);
        const decoded = decodeImage(encodePng(img), { name: `sixteen_${channels}.png` });
        assert.strictEqual(decoded.bitDepth, 16);
        assert.strictEqual(decoded.channels, channels);
        assert.ok(decoded.data instanceof Uint16Array);
        assert.deepStrictEqual(Array.from(decoded.data), Array.from(img.data));
      }
    });

    it('toRGB8 scales by 1/257 with rounding; toGray8 applies the luma formula to the scaled samples', () => {
      const img = { data: new Uint16Array([0, 128, 129, 257, 385, 386, 65535]), width: 7, height: 1, channels: 1 as const, bitDepth: 16 as const };
      assert.deepStrictEqual(Array.from(toRGB8(img).data.filter((_, i) => i % 3 === 0)), [0, 0, 1, 1, 1, 2, 255]);
      assert.deepStrictEqual(Array.from(toGray8(img).data), [0, 0, 1, 1, 1, 2, 255]);
      const rgb16 = { data: new Uint16Array([65535, 0, 0, 0, 65535, 0]), width: 2, height: 1, channels: 3 as const, bitDepth: 16 as const };
      assert.deepStrictEqual(Array.from(toGray8(rgb16).data), [76, 150]);
    });

    it('Pillow reads our 16-bit gray PNG with the same values', () => {
      const img = patternImage(9, 7, 1, 16);
      const file = writePng(path.join(dir, 'sixteen.png'), img);
      const values = runPythonJson<number[]>(
        `import json, sys, numpy as np\nfrom PIL import Image\nprint(json.dumps(np.asarray(Image.open(sys.stdin.read())).reshape(-1).astype(int).tolist()))`,
        file,
      );
      assert.deepStrictEqual(values, Array.from(img.data));
    });
  });

  describe('encoding', () => {
    it('a 1-channel image stays a gray PNG (colour type 0) that Pillow opens as mode L', () => {
      const img = patternImage(11, 5, 1);
      const png = encodePng(img);
      assert.strictEqual(png[25], 0, 'IHDR colour type');
      const file = path.join(dir, 'gray_out.png');
      fs.writeFileSync(file, png);
      const got = runPythonJson<{ mode: string; data: number[] }>(
        `import json, sys, numpy as np\nfrom PIL import Image\nim = Image.open(sys.stdin.read())\nprint(json.dumps({'mode': im.mode, 'data': np.asarray(im).reshape(-1).tolist()}))`,
        file,
      );
      assert.strictEqual(got.mode, 'L');
      assert.deepStrictEqual(got.data, Array.from(img.data));
    });

    it('RGB and RGBA PNGs round-trip exactly', () => {
      for (const channels of [2, 3, 4] as const) {
        const img = patternImage(6, 4, channels);
        const back = decodeImage(encodePng(img), { name: 'roundtrip.png' });
        assert.strictEqual(back.channels, channels);
        assert.deepStrictEqual(Array.from(back.data), Array.from(img.data));
      }
    });

    it('encodeJpeg writes a JPEG that decodes close to the original', () => {
      const img = toRGB8(readImageFile(path.join(FACADES, 'train', '1.jpg')));
      const back = toRGB8(decodeImage(encodeJpeg(img, 95), { name: 'q95.jpg' }));
      let sum = 0;
      for (let i = 0; i < img.data.length; i++) sum += Math.abs(img.data[i] - back.data[i]);
      assert.ok(sum / img.data.length < 4, `mean abs error ${sum / img.data.length}`);
    });
  });

  describe('JPEG', () => {
    it('decodes facades 512x256 exactly as Pillow (libjpeg-turbo-exact decoder)', () => {
      const file = path.join(FACADES, 'train', '1.jpg');
      const img = toRGB8(readImageFile(file));
      assert.deepStrictEqual([img.width, img.height, img.channels], [512, 256, 3]);
      const raw = path.join(dir, 'pil_1.raw');
      runPython(`import sys, numpy as np\nfrom PIL import Image\nnp.asarray(Image.open('${file}').convert('RGB')).tofile('${raw}')`);
      const w = worstDifference(img.data, fs.readFileSync(raw));
      assert.strictEqual(w.max, 0, `worst difference ${w.max} at ${w.index}`);
    });

    it('a CMYK JPEG falls back to jpeg-js and lands within one level of Pillow', () => {
      const file = path.join(dir, 'cmyk.jpg');
      const raw = path.join(dir, 'cmyk.raw');
      runPython(
        `import numpy as np\nfrom PIL import Image\nImage.open('${path.join(FACADES, 'train', '1.jpg')}').convert('RGB').resize((64, 32)).convert('CMYK').save('${file}', quality=95)\n` +
          `np.asarray(Image.open('${file}').convert('RGB')).tofile('${raw}')`,
      );
      const img = toRGB8(readImageFile(file));
      assert.deepStrictEqual([img.width, img.height], [64, 32]);
      assert.ok(worstDifference(img.data, fs.readFileSync(raw)).max <= 1);
    });

    it('a gray JPEG decodes to 1 channel', () => {
      const file = path.join(dir, 'gray.jpg');
      runPython(`from PIL import Image\nImage.open('${path.join(FACADES, 'train', '2.jpg')}').convert('L').save('${file}', quality=90)`);
      const img = readImageFile(file);
      assert.strictEqual(img.channels, 1);
      assert.deepStrictEqual([img.width, img.height], [512, 256]);
    });
  });

  describe('headers', () => {
    it('probeImage reads size and format of every supported format from the header', () => {
      for (const [name, format] of [
        ['rgb.png', 'png'], ['rgb.bmp', 'bmp'], ['rgb.gif', 'gif'], ['rgb.tif', 'tiff'], ['rgb.ppm', 'pnm'], ['gray.pgm', 'pnm'],
      ]) {
        const header = probeImage(fs.readFileSync(path.join(dir, name)), name);
        assert.deepStrictEqual([header.format, header.width, header.height], [format, 17, 13], name);
      }
      const jpeg = probeImage(fs.readFileSync(path.join(FACADES, 'train', '1.jpg')), '1.jpg');
      assert.deepStrictEqual([jpeg.format, jpeg.width, jpeg.height, jpeg.components], ['jpeg', 512, 256, 3]);
    });

    it('readImageHeader reads only the start of a file', async () => {
      const header = await readImageHeader(path.join(BAD_INPUTS, 'bomb_20000x20000.png'));
      assert.deepStrictEqual([header.width, header.height], [20000, 20000]);
    });
  });

  describe('bad inputs (fixtures/bad_inputs) are refused with errors naming the file', () => {
    function refusal(name: string): ImageFileError {
      const file = path.join(BAD_INPUTS, name);
      try {
        readImageFile(file);
      } catch (err) {
        assert.ok(err instanceof ImageFileError, `${name}: ${String(err)}`);
        assert.ok(err.message.includes(name), `message names the file: ${err.message}`);
        assert.strictEqual(err.file, file);
        return err;
      }
      throw new Error(`${name} was decoded instead of refused`);
    }

    it('truncated.jpg (first third of a facades JPEG)', () => {
      assert.match(refusal('truncated.jpg').message, /truncated JPEG/);
    });

    it('empty.jpg (0 bytes)', () => {
      assert.match(refusal('empty.jpg').message, /is empty \(0 bytes\)/);
    });

    it('text_named.jpg (a text file)', () => {
      assert.match(refusal('text_named.jpg').message, /text_named\.jpg is not an image: it starts with text "this is not an/);
    });

    it('bomb_20000x20000.png: refused from its header, fast, without allocating its 1.2 GB', () => {
      const before = process.memoryUsage().rss;
      const start = process.hrtime.bigint();
      const err = refusal('bomb_20000x20000.png');
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const grown = (process.memoryUsage().rss - before) / 2 ** 20;
      assert.ok(
        err.message.endsWith(
          'bomb_20000x20000.png is 20000x20000 = 400 megapixels, over the limit of 50 megapixels (--max_image_pixels)',
        ),
        err.message,
      );
      assert.ok(ms < 500, `took ${ms} ms`);
      assert.ok(grown < 64, `RSS grew by ${grown.toFixed(1)} MiB`);
    });

    it('the pixel limit is configurable and applies to every format', () => {
      const file = path.join(dir, 'rgb.png');
      assert.throws(() => readImageFile(file, { maxPixels: 100 }), /is 17x13 = 0\.000221 megapixels, over the limit of 0\.0001 megapixels/);
      assert.throws(() => readImageFile(path.join(FACADES, 'train', '1.jpg'), { maxPixels: 1000 }), /1\.jpg is 512x256/);
    });

    it('a truncated PNG and a PNG with a broken CRC are refused naming the file', () => {
      const whole = encodePng(patternImage(64, 64, 3));
      const cut = path.join(dir, 'cut.png');
      fs.writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
      assert.throws(() => readImageFile(cut), (err: Error) => err instanceof ImageFileError && /cut\.png is a corrupt or truncated PNG/.test(err.message));
      const broken = Buffer.from(whole);
      broken[40] ^= 0xff; // inside IDAT
      const bad = path.join(dir, 'badcrc.png');
      fs.writeFileSync(bad, broken);
      assert.throws(() => readImageFile(bad), /badcrc\.png is a corrupt or truncated PNG/);
    });

    it('a missing file and a folder are refused naming them', () => {
      assert.throws(() => readImageFile(path.join(dir, 'nope.jpg')), /nope\.jpg does not exist/);
      assert.throws(() => readImageFile(dir), /is not a regular file/);
    });
  });
});
