/**
 * rgb2lab / lab2rgb against scikit-image 0.19 (D65, 2°): recorded values always, and a live comparison on
 * many colours when python3-skimage is installed. Tolerance 1e-9 on float64; the colorization tensors
 * (float32) must be equal.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { lab2rgb, labTensorsFromRgb, labTensorsToImage, rgb2lab } from '../../../src/data/color';
import { runPython } from '../../helpers/run_python';
import { hasSkimage, readFloat32, tempDir, worstDifference } from './data_test_helpers';

/** Recorded with skimage 0.19.3: color.rgb2lab(rgb[None])[0]. */
const RGB = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30], [128, 128, 128], [200, 150, 100], [1, 2, 3], [250, 10, 240]];
const LAB_OF_RGB = [
  [0.0, 0.0, 0.0], [100.0, -0.0024549378619953544, 0.004653421154054982], [53.240587943744885, 80.09230822569225, 67.20275104442868],
  [87.73509948831895, -86.18302974439501, 83.1797031753845], [32.29567256501352, 79.18559091176559, -107.85730020669489],
  [5.94847037984805, -0.6693107906908108, -8.136411786792252], [53.58501345216902, -0.0014726455530578164, 0.0027914514965976522],
  [65.76006081704224, 12.75889474829295, 33.56473660263788], [0.5098250675092544, -0.12249030481624457, -0.4704960765506305],
  [58.82260986457081, 94.7992203834776, -54.921849843166726],
];
/** Recorded with skimage 0.19.3: color.lab2rgb(lab[None])[0] (includes out-of-gamut and Z < 0 inputs). */
const LAB = [[50, 0, 0], [0, 0, 0], [100, 0, 0], [75, 20, -30], [30, 80, 90], [60, -100, 100], [10, 0, 150], [90, 127, -128]];
const RGB_OF_LAB = [
  [0.46632823364204595, 0.4663243477360152, 0.4663442328977632], [0.0, 0.0, 0.0], [1.0, 0.9999954233438438, 1.0],
  [0.7618247169849695, 0.6845447668142439, 0.9408073090574508], [0.6977020983278036, 0.0, 0.0], [0.0, 0.6949384687794185, 0.0],
  [0.17919118581525875, 0.09952406187528529, 0.0], [1.0, 0.40165329990431353, 1.0],
];

const TOLERANCE = 1e-9;

describe('data/color (scikit-image Lab)', function () {
  this.timeout(30000);

  it('rgb2lab matches recorded skimage values', () => {
    const lab = rgb2lab(Uint8Array.from(RGB.flat()));
    const w = worstDifference(lab, LAB_OF_RGB.flat());
    assert.ok(w.max <= TOLERANCE, `worst difference ${w.max} at ${w.index}`);
  });

  it('lab2rgb matches recorded skimage values, clipping out-of-gamut colours and Z < 0', () => {
    const rgb = lab2rgb(Float64Array.from(LAB.flat()));
    const w = worstDifference(rgb, RGB_OF_LAB.flat());
    assert.ok(w.max <= TOLERANCE, `worst difference ${w.max} at ${w.index}`);
  });

  it('the colorization tensors round-trip to the image within a level or two', () => {
    const data = Uint8Array.from({ length: 16 * 3 }, (_, i) => (i * 53) % 256);
    const { L, AB } = labTensorsFromRgb({ data, width: 4, height: 4, channels: 3, bitDepth: 8 });
    assert.ok(L.every((v) => v >= -1 && v <= 1));
    const back = labTensorsToImage(L, AB, 4, 4);
    const w = worstDifference(back.data, data);
    assert.ok(w.max <= 2, `worst difference ${w.max}`); // truncation in tensor2im loses up to 1, float32 a little more
  });

  it('matches live skimage on 5832 colours, the colorization float32 tensors and the model visual', function () {
    assert.ok(hasSkimage(), 'this test needs python3-skimage (.ci/run installs it)');
    const dir = tempDir('color');
    const steps = Array.from({ length: 18 }, (_, i) => i * 15);
    const colours = new Uint8Array(18 * 18 * 18 * 3);
    let k = 0;
    for (const r of steps) for (const g of steps) for (const b of steps) colours.set([r, g, b], 3 * k++);
    fs.writeFileSync(path.join(dir, 'rgb.u8'), colours);
    runPython(
      `import numpy as np, os, warnings\nfrom skimage import color\nd = '${dir}'\nrgb = np.fromfile(os.path.join(d, 'rgb.u8'), dtype=np.uint8).reshape(1, -1, 3)\n` +
        `lab = color.rgb2lab(rgb)\nlab.astype(np.float64).tofile(os.path.join(d, 'lab.f64'))\n` +
        `t = lab.astype(np.float32)[0]\n(t[:, 0] / np.float32(50.0) - np.float32(1.0)).astype(np.float32).tofile(os.path.join(d, 'A.f32'))\n` +
        `(t[:, 1:].T / np.float32(110.0)).astype(np.float32).tofile(os.path.join(d, 'B.f32'))\n` +
        `with warnings.catch_warnings():\n    warnings.simplefilter('ignore')\n    back = color.lab2rgb(lab * np.array([1.0, 1.3, 1.3]))\nback.tofile(os.path.join(d, 'back.f64'))\n` +
        // the colorization model's lab2rgb visual: float32 (L + 1) * 50, AB * 110, float64 lab2rgb * 255, uint8
        `A = np.fromfile(os.path.join(d, 'A.f32'), dtype=np.float32)\nB = np.fromfile(os.path.join(d, 'B.f32'), dtype=np.float32).reshape(2, -1)\n` +
        `Lab = np.concatenate([((A + np.float32(1.0)) * np.float32(50.0))[None], B * np.float32(110.0)], 0).astype(np.float64).T[None]\n` +
        `(color.lab2rgb(Lab) * 255).astype(np.uint8).tofile(os.path.join(d, 'visual.u8'))\n`,
    );
    const read64 = (f: string) => {
      const b = fs.readFileSync(path.join(dir, f));
      return new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
    };
    const lab = rgb2lab(colours);
    const w1 = worstDifference(lab, read64('lab.f64'));
    assert.ok(w1.max <= TOLERANCE, `rgb2lab worst difference ${w1.max} at ${w1.index}`);
    const { L, AB } = labTensorsFromRgb({ data: colours, width: 18 * 18 * 18, height: 1, channels: 3, bitDepth: 8 });
    const wA = worstDifference(L, readFloat32(path.join(dir, 'A.f32')));
    const wB = worstDifference(AB, readFloat32(path.join(dir, 'B.f32')));
    assert.strictEqual(wA.max, 0, `A = L/50 - 1: worst difference ${wA.max} at ${wA.index}`);
    assert.strictEqual(wB.max, 0, `B = ab/110: worst difference ${wB.max} at ${wB.index}`);
    const scaled = lab.map((v, i) => (i % 3 === 0 ? v : v * 1.3)); // push some colours out of gamut
    const w2 = worstDifference(lab2rgb(scaled), read64('back.f64'));
    assert.ok(w2.max <= TOLERANCE, `lab2rgb worst difference ${w2.max} at ${w2.index}`);
    const visual = labTensorsToImage(L, AB, 1, 18 * 18 * 18);
    const w3 = worstDifference(visual.data, fs.readFileSync(path.join(dir, 'visual.u8')));
    assert.strictEqual(w3.max, 0, `visual worst difference ${w3.max} at ${w3.index}`);
  });
});
