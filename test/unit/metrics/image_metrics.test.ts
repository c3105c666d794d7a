/** L1, PSNR and SSIM against live scikit-image on real facades pairs. */
import * as assert from 'assert';
import type { RawImage8 } from '../../../src/data/image';
import { decodeImage, encodeJpeg } from '../../../src/data/image_io';
import { l1, psnr, ssim } from '../../../src/metrics/image_metrics';
import { MetricError } from '../../../src/metrics/metric_errors';
import { PYTHON, runPythonJson } from '../../helpers/run_python';
import { facadesHalf } from './metrics_helpers';

const SKIMAGE = String.raw`
import json, sys, base64
import numpy as np
from skimage.metrics import structural_similarity, peak_signal_noise_ratio
out = []
for p in json.load(sys.stdin):
    a = np.frombuffer(base64.b64decode(p['a']), np.uint8).reshape(p['h'], p['w'], 3)
    b = np.frombuffer(base64.b64decode(p['b']), np.uint8).reshape(p['h'], p['w'], 3)
    out.append({
        'psnr': peak_signal_noise_ratio(a, b),
        'ssim': structural_similarity(a, b, channel_axis=-1),
        'ssim_gauss': structural_similarity(a, b, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False),
        'l1': float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean()),
    })
print(json.dumps(out))
`;

function jpegCopy(img: RawImage8, quality: number): RawImage8 {
  return decodeImage(encodeJpeg(img, quality), { name: 'recompressed' }) as RawImage8;
}

describe('metrics/image_metrics', () => {
  it('PSNR, SSIM (default and Gaussian) and L1 equal scikit-image within 1e-6 on facades pairs', function () {
    assert.ok(PYTHON, 'this test needs /usr/bin/python3 with python3-skimage');
    const photo1 = facadesHalf(1, 'photo');
    const pairs: Array<[RawImage8, RawImage8]> = [
      [photo1, jpegCopy(photo1, 40)],
      [photo1, facadesHalf(2, 'photo')],
      [facadesHalf(3, 'photo'), facadesHalf(3, 'label')],
      [facadesHalf(4, 'label'), jpegCopy(facadesHalf(4, 'label'), 75)],
    ];
    const ref = runPythonJson<Array<{ psnr: number; ssim: number; ssim_gauss: number; l1: number }>>(SKIMAGE, JSON.stringify(pairs.map(([a, b]) => ({
      a: Buffer.from(a.data).toString('base64'), b: Buffer.from(b.data).toString('base64'), w: a.width, h: a.height,
    }))));
    let worst = 0;
    pairs.forEach(([a, b], i) => {
      const ours = {
        psnr: psnr(a, b), ssim: ssim(a, b),
        ssim_gauss: ssim(a, b, { gaussianWeights: true, sigma: 1.5, useSampleCovariance: false }), l1: l1(a, b),
      };
      for (const k of ['psnr', 'ssim', 'ssim_gauss', 'l1'] as const) {
        const diff = Math.abs(ours[k] - ref[i][k]);
        worst = Math.max(worst, diff);
        assert.ok(diff <= 1e-6, `pair ${i} ${k}: ours ${ours[k]}, skimage ${ref[i][k]} (diff ${diff})`);
      }
    });
    console.log(`      worst |ours - skimage| over ${pairs.length} pairs x 4 metrics: ${worst.toExponential(2)}`);
  });

  it('identical images: PSNR Infinity, SSIM 1, L1 0', () => {
    const a = facadesHalf(5, 'photo');
    assert.strictEqual(psnr(a, a), Infinity);
    assert.ok(Math.abs(ssim(a, a) - 1) < 1e-12);
    assert.strictEqual(l1(a, a), 0);
  });

  it('refuses differently sized images with a coded error', () => {
    const a = facadesHalf(5, 'photo');
    const b: RawImage8 = { ...a, width: 128, data: a.data.subarray(0, 128 * 256 * 3) };
    assert.throws(() => ssim(a, b), (e: unknown) => e instanceof MetricError && e.code === 'ERR_IMG2IMG_METRIC_SHAPE_MISMATCH' && /^Expected an image of 256x256x3/.test(e.message));
  });
});
