// The FID Inception state dict filled by shared/fixtures/fid/case.json's integer-hash formula (keys, order and
// shapes of pt_inception-2015-12-05-6726825d.pth), so the fixture's pytorch-fid outputs can be reproduced.
import * as fs from 'fs';
import * as path from 'path';
import type { RawTensor } from '../../../src/checkpoint';
import { SHARED } from '../../helpers/paths';

export const FID_CASE_DIR = path.join(SHARED, 'fixtures', 'fid');

export interface FidCase {
  state_dict_keys: string[];
  shapes: Record<string, number[]>;
  frechet_distance_X_Y: number;
  tolerance: { features_max_abs: number; mean_max_abs: number; frechet_rel: number };
}

export function readFidCase(): FidCase {
  return JSON.parse(fs.readFileSync(path.join(FID_CASE_DIR, 'case.json'), 'utf8')) as FidCase;
}

/** u_i in [-0.5, 0.5) of element i of tensor t (case.json 'formula'). */
function hashUniform(i: number, t: number): number {
  let h = (Math.imul(i, 0x9e3779b1) + Math.imul(t, 0x85ebca77)) >>> 0;
  h ^= h >>> 16; h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15; h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32 - 0.5;
}

/** The formula's value of element i given u; float64, rounded to float32 when stored. */
function valueRule(key: string, shape: number[]): (u: number) => number {
  if (key.endsWith('.bn.weight')) return (u) => 1 + 0.2 * u;
  if (key.endsWith('.bn.bias')) return (u) => 0.2 * u;
  if (key.endsWith('.bn.running_mean')) return (u) => 0.1 * u;
  if (key.endsWith('.bn.running_var')) return (u) => 1 + 0.5 * (u + 0.5);
  if (key.endsWith('.weight')) {
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    const gain = Math.sqrt(2 / fanIn), unitStd = Math.sqrt(1 / 12);
    // Left to right as the formula is written: (u * gain) / unitStd rounds differently from u * (gain / unitStd).
    return (u) => (u * gain) / unitStd;
  }
  if (key.endsWith('.bias')) return (u) => 0.1 * u;
  throw new Error(`case.json's formula has no rule for ${key}`);
}

export function formulaStateDict(c: FidCase = readFidCase()): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  c.state_dict_keys.forEach((key, t) => {
    const shape = c.shapes[key];
    if (key.endsWith('num_batches_tracked')) {
      out.set(key, { dtype: 'int64', shape, data: Buffer.alloc(8) });
      return;
    }
    const n = shape.reduce((a, b) => a * b, 1);
    const rule = valueRule(key, shape);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = rule(hashUniform(i, t));
    out.set(key, { dtype: 'float32', shape, data: Buffer.from(values.buffer) });
  });
  return out;
}
