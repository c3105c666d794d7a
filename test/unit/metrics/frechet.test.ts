/** The Fréchet distance against live scipy (pytorch-fid's formula) where covariances are rank-deficient (N < D). */
import * as assert from 'assert';
import { featureStatistics, frechetDistance } from '../../../src/metrics/frechet';
import { Tensor } from '../../../src/tensor';
import { runPythonJson } from '../../helpers/run_python';

const PYTORCH_FID_FORMULA = String.raw`
import json, sys
import numpy as np
from scipy import linalg
p = json.load(sys.stdin); n, d = p['n'], p['d']
X = np.array(p['x']).reshape(n, d); Y = np.array(p['y']).reshape(n, d)
mu1, mu2 = X.mean(0), Y.mean(0); s1 = np.cov(X, rowvar=False); s2 = np.cov(Y, rowvar=False)
diff = mu1 - mu2
covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
if not np.isfinite(covmean).all():
    offset = np.eye(d) * 1e-6
    covmean = linalg.sqrtm((s1 + offset).dot(s2 + offset))
if np.iscomplexobj(covmean):
    covmean = covmean.real
print(json.dumps(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)))
`;

describe('metrics/frechet', () => {
  it('agrees with pytorch-fid\'s scipy formula on rank-deficient covariances (40 samples of 256 features)', () => {
    const n = 40, d = 256;
    const x = Array.from({ length: n * d }, (_, i) => Math.sin(i * 0.37) * Math.cos(i * 0.011));
    const y = Array.from({ length: n * d }, (_, i) => Math.cos(i * 0.53) + 0.1 * Math.sin(i * 0.007));
    const ref = runPythonJson<number>(PYTORCH_FID_FORMULA, JSON.stringify({ n, d, x, y }));
    const tx = Tensor.fromBytes(new Uint8Array(new Float64Array(x).buffer), 'float64', [n, d]);
    const ty = Tensor.fromBytes(new Uint8Array(new Float64Array(y).buffer), 'float64', [n, d]);
    const a = featureStatistics(tx), b = featureStatistics(ty);
    try {
      const ours = frechetDistance(a, b);
      const rel = Math.abs(ours - ref) / ref;
      console.log(`      ${ours} vs scipy ${ref} (relative ${rel.toExponential(2)})`);
      assert.ok(rel <= 1e-6, `relative difference ${rel}`);
    } finally {
      for (const t of [tx, ty, a.mu, a.sigma, b.mu, b.sigma]) t.dispose();
    }
  });

  it('refuses statistics of different feature counts with a coded error', () => {
    const t1 = Tensor.fromBytes(new Uint8Array(new Float64Array(8).map((_, i) => i * i).buffer), 'float64', [4, 2]);
    const t2 = Tensor.fromBytes(new Uint8Array(new Float64Array(12).map((_, i) => i % 5).buffer), 'float64', [4, 3]);
    const a = featureStatistics(t1), b = featureStatistics(t2);
    try {
      assert.throws(() => frechetDistance(a, b), (e: Error & { code?: string }) => e.code === 'ERR_IMG2IMG_METRIC_BAD_FEATURES' && /^Expected statistics of 2 features/.test(e.message));
    } finally {
      for (const t of [t1, t2, a.mu, a.sigma, b.mu, b.sigma]) t.dispose();
    }
  });
});
