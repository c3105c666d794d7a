/**
 * resizeBicubic against Pillow's Image.resize(size, Image.BICUBIC) on real facades pixels (decoded by Pillow
 * and handed over losslessly as PNG), up- and down-scaling, one or both dimensions, RGB and L.
 * Tolerance: exact (max abs difference 0).
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { RawImage8 } from '../../../src/data/image';
import { readImageFile, toGray8, toRGB8 } from '../../../src/data/image_io';
import { resizeBicubic } from '../../../src/data/pil_resize';
import { cropImage } from '../../../src/data/transforms';
import { runPython } from '../../helpers/run_python';
import { facadesAsPng, requirePil, tempDir, worstDifference } from './data_test_helpers';

/** [source crop width, height] → [target width, height]; the source is facades/train/1.jpg (512x256). */
const CASES: Array<[[number, number], [number, number]]> = [
  [[256, 256], [286, 286]], // resize_and_crop's load_size step on an aligned half
  [[256, 256], [128, 128]], // downscale by 2 (support widens to 4)
  [[512, 256], [286, 286]], // non-uniform scale, both directions
  [[37, 53], [64, 64]], // odd sizes
  [[512, 256], [512, 300]], // only the height changes: PIL skips the horizontal pass
  [[512, 256], [100, 256]], // only the width changes: PIL skips the vertical pass
  [[512, 256], [3, 7]], // extreme shrink
  [[512, 256], [1000, 17]], // stretch one way, shrink the other
  [[255, 256], [256, 256]], // __make_power_2-like tiny change
];

const PIL_RESIZE = String.raw`
import json, sys, os
from PIL import Image
src_path, out_dir, cases = json.load(sys.stdin)
src = Image.open(src_path).convert('RGB')
for i, ((sw, sh), (tw, th)) in enumerate(cases):
    im = src.crop((0, 0, sw, sh))
    open(os.path.join(out_dir, f'rgb{i}.raw'), 'wb').write(im.resize((tw, th), Image.BICUBIC).tobytes())
    open(os.path.join(out_dir, f'l{i}.raw'), 'wb').write(im.convert('L').resize((tw, th), Image.BICUBIC).tobytes())
`;

describe('data/pil_resize (Pillow BICUBIC parity, exact)', function () {
  this.timeout(30000);
  let dir: string;
  let source: RawImage8;

  before(() => {
    requirePil();
    dir = tempDir('pil-resize');
    const [png] = facadesAsPng(dir, 'src', ['1.jpg']);
    source = toRGB8(readImageFile(png));
    runPython(PIL_RESIZE, JSON.stringify([png, dir, CASES]));
  });

  CASES.forEach(([[sw, sh], [tw, th]], i) => {
    for (const mode of ['RGB', 'L'] as const) {
      it(`${mode} ${sw}x${sh} → ${tw}x${th}`, () => {
        const cropped = cropImage(source, 0, 0, sw, sh);
        const input = mode === 'L' ? toGray8(cropped) : cropped;
        const ours = resizeBicubic(input, tw, th);
        assert.deepStrictEqual([ours.width, ours.height, ours.channels], [tw, th, mode === 'L' ? 1 : 3]);
        const pil = fs.readFileSync(path.join(dir, `${mode === 'L' ? 'l' : 'rgb'}${i}.raw`));
        assert.strictEqual(ours.data.length, pil.length);
        const { max, index } = worstDifference(ours.data, pil);
        const c = ours.channels;
        const where = `pixel (${Math.floor(index / c) % tw}, ${Math.floor(index / c / tw)}) channel ${index % c}`;
        assert.strictEqual(max, 0, `worst difference ${max} at ${where}: ours ${ours.data[index]}, Pillow ${pil[index]}`);
      });
    }
  });

  it('same size returns an equal copy; RGBA and bad sizes are refused', () => {
    const copy = resizeBicubic(source, source.width, source.height);
    assert.notStrictEqual(copy.data, source.data);
    assert.deepStrictEqual(copy.data, source.data);
    const rgba = { data: new Uint8Array(16), width: 2, height: 2, channels: 4 as const, bitDepth: 8 as const };
    assert.throws(() => resizeBicubic(rgba as unknown as RawImage8, 4, 4), /Expected a gray or RGB image/);
    assert.throws(() => resizeBicubic(source, 0, 4), /Expected a positive integer size for resizeBicubic but received 0x4/);
  });
});
