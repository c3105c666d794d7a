// Numeric comparisons that say where they fail: the worst element, its index, and both values.
import * as assert from 'assert';

export interface DiffReport { maxAbs: number; index: number; actual: number; expected: number }

export function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): DiffReport {
  assert.strictEqual(actual.length, expected.length, `length ${actual.length} != expected ${expected.length}`);
  let worst: DiffReport = { maxAbs: 0, index: -1, actual: NaN, expected: NaN };
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= worst.maxAbs)) worst = { maxAbs: Number.isNaN(d) ? Infinity : d, index: i, actual: actual[i], expected: expected[i] };
  }
  return worst;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): DiffReport {
  const r = maxAbsDiff(actual, expected);
  assert.ok(r.maxAbs <= tol,
    `${what}: max |diff| ${r.maxAbs.toExponential(3)} > ${tol} at index ${r.index} (got ${r.actual}, expected ${r.expected})`);
  return r;
}

export function shareWithin(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): number {
  let ok = 0;
  for (let i = 0; i < actual.length; i++) if (Math.abs(actual[i] - expected[i]) <= tol) ok++;
  return actual.length ? ok / actual.length : 1;
}
