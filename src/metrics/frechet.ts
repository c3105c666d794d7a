/**
 * Feature-set statistics and the distances between them, in float64 on the native side:
 * - the Fréchet distance of pytorch-fid's calculate_frechet_distance, |mu1-mu2|² + tr(S1) + tr(S2) - 2 tr(sqrtm(S1 S2)),
 *   with tr(sqrtm(S1 S2)) computed as tr(sqrtm(A)) for the symmetric A = S1^½ S2 S1^½ (the same eigenvalues), both
 *   square roots by eigendecomposition (torchmetrics' approach). Eigenvalues below 0 are rounding of a rank-deficient
 *   covariance and count as 0, as scipy's sqrtm's real part does; a non-finite result is retried with ε·I added to
 *   both covariances (pytorch-fid's ε, 1e-6);
 * - KID: the unbiased MMD² with the cubic polynomial kernel k(x, y) = (x·y/d + 1)³ (Bińkowski et al.), averaged over
 *   random subsets.
 */
import { matmul, symmetricEigen, Tensor, tidy } from '../tensor';
import { PythonRandom } from '../util/python_random';
import { MetricError } from './metric_errors';

/** pytorch-fid's offset for a non-finite sqrtm. */
export const FID_EPS = 1e-6;

/** The mean and covariance of a set of features (float64), what FID compares. */
export interface FeatureStatistics {
  /** [D] float64 mean. */
  mu: Tensor;
  /** [D, D] float64 covariance (rowvar=False, N-1 normalisation, as np.cov). */
  sigma: Tensor;
  count: number;
}

function check2d(features: Tensor, what: string, minRows: number): [number, number] {
  const [n, d] = features.shape;
  if (features.shape.length !== 2 || n < minRows) {
    throw new MetricError('ERR_IMG2IMG_METRIC_BAD_FEATURES', `an [N >= ${minRows}, D] feature matrix`, what, `shape [${features.shape.join(', ')}]`);
  }
  return [n, d];
}

/** np.mean(axis=0) and np.cov(rowvar=False) of [N, D] features, computed in float64. The caller owns the result. */
export function featureStatistics(features: Tensor): FeatureStatistics {
  const [n, d] = check2d(features, 'feature statistics', 2);
  return tidy(() => {
    const x = features.to('cpu', 'float64');
    const mu = x.mean([0]);
    const centred = x.sub(mu.reshape([1, d]));
    const sigma = matmul(centred, centred, { transposeA: true }).div(n - 1);
    return { mu, sigma, count: n };
  });
}

function trace(m: Tensor): number {
  const d = m.shape[0];
  const values = float64Values(m);
  let t = 0;
  for (let i = 0; i < d; i++) t += values[i * d + i];
  return t;
}

function identityTimes(d: number, scale: number): Tensor {
  const eye = new Float64Array(d * d);
  for (let i = 0; i < d; i++) eye[i * d + i] = scale;
  return Tensor.fromBytes(new Uint8Array(eye.buffer), 'float64', [d, d]);
}

/** Σ sqrt(max(λ, 0)) over the eigenvalues of a symmetric PSD matrix (its square root's trace). */
function sqrtEigenvalues(m: Tensor): { values: Float64Array; vectors: Tensor } {
  const { values, vectors } = symmetricEigen(m);
  return { values: float64Values(values).map((x) => Math.sqrt(Math.max(x, 0))), vectors };
}

/** tr(sqrtm(s1 s2)) via the symmetric S1^½ S2 S1^½. */
function traceSqrtProduct(s1: Tensor, s2: Tensor): number {
  return tidy(() => {
    const d = s1.shape[0];
    const { values, vectors } = sqrtEigenvalues(s1);
    const root = Tensor.fromBytes(new Uint8Array(values.buffer), 'float64', [1, d]);
    const sqrt1 = matmul(vectors.mul(root), vectors, { transposeB: true });
    // Symmetric up to rounding; eigh reads its lower triangle.
    const a = matmul(matmul(sqrt1, s2), sqrt1);
    return sqrtEigenvalues(a).values.reduce((s, x) => s + x, 0);
  });
}

/** pytorch-fid's calculate_frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6). */
export function frechetDistance(a: FeatureStatistics, b: FeatureStatistics, eps = FID_EPS): number {
  const d = a.mu.shape[0];
  if (b.mu.shape[0] !== d || a.sigma.shape[0] !== d || b.sigma.shape[0] !== d) {
    throw new MetricError('ERR_IMG2IMG_METRIC_BAD_FEATURES', `statistics of ${d} features (the first set's)`, 'the Fréchet distance', `${b.mu.shape[0]} features`);
  }
  return tidy(() => {
    const diff = a.mu.sub(b.mu);
    const meanTerm = diff.mul(diff).sum().item();
    let covTrace = traceSqrtProduct(a.sigma, b.sigma);
    if (!Number.isFinite(covTrace)) {
      const offset = identityTimes(d, eps);
      covTrace = traceSqrtProduct(a.sigma.add(offset), b.sigma.add(offset));
    }
    return meanTerm + trace(a.sigma) + trace(b.sigma) - 2 * covTrace;
  });
}

/** KID's subset sampling. */
export interface KidOptions {
  /** Number of random subsets (default 100). */
  subsets?: number;
  /** Images per subset (default 1000, capped at the smaller set). */
  subsetSize?: number;
  /** Seed of the subset draws (default 0): Python's random.Random(seed).shuffle of the indices, first subsetSize taken. */
  seed?: number;
}

/** KID: the mean and standard deviation of the unbiased MMD² over the subsets, and how they were drawn. */
export interface KidResult { mean: number; std: number; subsets: number; subsetSize: number; seed: number }

export const KID_DEFAULTS = { subsets: 100, subsetSize: 1000, seed: 0 } as const;

function drawSubset(rng: PythonRandom, n: number, m: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  rng.shuffle(idx);
  return idx.slice(0, m);
}

function float64Values(x: Tensor): Float64Array {
  const bytes = x.to('cpu', 'float64').toBytes();
  // A view when aligned (large buffers always are), else a copy.
  return bytes.byteOffset % 8 === 0 ? new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8)
    : new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

function rows(src: Float64Array, d: number, idx: number[]): Tensor {
  const out = new Float64Array(idx.length * d);
  idx.forEach((r, i) => out.set(src.subarray(r * d, (r + 1) * d), i * d));
  return Tensor.fromBytes(new Uint8Array(out.buffer), 'float64', [idx.length, d]);
}

/** Unbiased MMD² of two equal-size float64 samples with k(x, y) = (x·y/d + 1)³. */
export function polynomialMmd(x: Tensor, y: Tensor): number {
  const [m, d] = check2d(x, 'KID', 2);
  return tidy(() => {
    const kernelSum = (a: Tensor, b: Tensor) => matmul(a, b, { transposeB: true }).div(d).add(1).pow(3).sum().item();
    const selfTrace = (a: Tensor) => a.mul(a).sum([1]).div(d).add(1).pow(3).sum().item();
    const kxx = (kernelSum(x, x) - selfTrace(x)) / (m * (m - 1));
    const kyy = (kernelSum(y, y) - selfTrace(y)) / (m * (m - 1));
    const kxy = kernelSum(x, y) / (m * m);
    return kxx + kyy - 2 * kxy;
  });
}

/** KID of two feature sets: mean and (population) standard deviation of the subset MMD²s. */
export function kernelInceptionDistance(real: Tensor, fake: Tensor, options: KidOptions = {}): KidResult {
  const [nReal] = check2d(real, 'KID real features', 2);
  const [nFake] = check2d(fake, 'KID fake features', 2);
  const subsets = options.subsets ?? KID_DEFAULTS.subsets;
  const seed = options.seed ?? KID_DEFAULTS.seed;
  const subsetSize = Math.min(options.subsetSize ?? KID_DEFAULTS.subsetSize, nReal, nFake);
  if (!Number.isInteger(subsets) || subsets < 1) throw new MetricError('ERR_IMG2IMG_METRIC_BAD_OPTION', 'an integer >= 1', 'KID subsets', String(subsets));
  if (!Number.isInteger(subsetSize) || subsetSize < 2) throw new MetricError('ERR_IMG2IMG_METRIC_BAD_OPTION', 'a subset size >= 2', 'KID', String(subsetSize));
  const rng = new PythonRandom(seed);
  return tidy(() => {
    // Copied out once: each subset gathers its rows from these.
    const d = real.shape[1];
    const r = float64Values(real), f = float64Values(fake);
    const values: number[] = [];
    for (let s = 0; s < subsets; s++) {
      values.push(tidy(() => polynomialMmd(rows(r, d, drawSubset(rng, nReal, subsetSize)), rows(f, d, drawSubset(rng, nFake, subsetSize)))));
    }
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
    return { mean, std, subsets, subsetSize, seed };
  });
}
