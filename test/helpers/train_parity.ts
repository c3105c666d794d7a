// The checks every training-parity case shares (test/parity/train.test.ts, test/parity/cut.test.ts): initial
// weights in, losses per step, last visuals and final weights against a reference run, within its tolerances.
import * as assert from 'assert';
import * as path from 'path';
import type { BaseModel } from '../../src/models/base_model';
import { readSafetensorsRaw } from '../../src/checkpoint';
import { manualSeed } from '../../src/runtime';
import type { RawTensor } from '../../src/checkpoint';
import { maxAbsDiff, shareWithin } from './compare';

export interface TrainTolerance {
  loss_rel: number; 'loss_abs_when_ref_below_1e-3': number; visuals_max_abs: number; 'weights_share_within_1e-4': number; weights_max_abs: number;
  /** Per-step bounds where the case gives them (step 1 runs before any update, so it must match tightly on every CPU). */
  tolerance_by_step?: Array<Partial<{ loss_rel: number; 'loss_abs_when_ref_below_1e-3': number }>>;
}

export function floats(t: RawTensor): Float32Array {
  return new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
}

/** Loads `net<Name>.<key>` tensors into each of the model's networks (strict). */
export function loadInitialWeights(model: BaseModel, initial: Map<string, RawTensor>): void {
  for (const netName of model.modelNames) {
    const prefix = `net${netName}.`;
    const sd = new Map([...initial].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
    model.networks[netName].loadStateDict(sd, { what: `initial weights of net${netName}` });
  }
}

/** The model's current losses against the reference's losses of step `s` (0-based). */
export function checkStepLosses(model: BaseModel, reference: Record<string, number>, tol: TrainTolerance, s: number): void {
  const losses = model.getCurrentLosses();
  assert.deepStrictEqual(Object.keys(losses), Object.keys(reference), 'loss names and order');
  const stepTol = { ...tol, ...(tol.tolerance_by_step?.[s] ?? {}) };
  for (const [k, ref] of Object.entries(reference)) {
    const got = losses[k];
    const ok = Math.abs(ref) < 1e-3 ? Math.abs(got - ref) <= stepTol['loss_abs_when_ref_below_1e-3'] : Math.abs(got - ref) / Math.abs(ref) <= stepTol.loss_rel;
    assert.ok(ok, `step ${s + 1} loss ${k}: got ${got}, reference ${ref} (relative ${(Math.abs(got - ref) / Math.abs(ref)).toExponential(2)}, bound ${stepTol.loss_rel})`);
  }
}

/** The model's visuals against `last_step.<name>` tensors. */
export function checkLastVisuals(model: BaseModel, steps: Map<string, RawTensor>, tol: TrainTolerance): void {
  const visuals = model.getCurrentVisuals();
  for (const [k, v] of steps) {
    if (!k.startsWith('last_step.')) continue;
    const vname = k.slice('last_step.'.length);
    const mine = visuals.get(vname);
    assert.ok(mine, `model lacks visual ${vname}`);
    const r = maxAbsDiff(mine!.toFloat32Array(), floats(v));
    assert.ok(r.maxAbs <= tol.visuals_max_abs, `visual ${vname}: max |diff| ${r.maxAbs} at ${r.index}`);
  }
}

/** Every network's state dict against `net<Name>.<key>`: worst element and the share within 1e-4. */
export function checkFinalWeights(model: BaseModel, final: Map<string, RawTensor>, tol: TrainTolerance): void {
  let total = 0, within = 0, worst = 0, worstKey = '';
  for (const netName of model.modelNames) {
    for (const [k, t] of model.networks[netName].stateDict()) {
      const ref = final.get(`net${netName}.${k}`);
      assert.ok(ref, `final weights lack net${netName}.${k}`);
      if (t.dtype !== 'float32') { assert.ok(t.toBytes().equals(ref!.data), `${k} differs`); t.dispose(); continue; }
      const a = t.toFloat32Array(), b = floats(ref!);
      const r = maxAbsDiff(a, b);
      if (r.maxAbs > worst) { worst = r.maxAbs; worstKey = `net${netName}.${k}[${r.index}]`; }
      within += shareWithin(a, b, 1e-4) * a.length; total += a.length;
      t.dispose();
    }
  }
  assert.ok(worst <= tol.weights_max_abs, `weights: max |diff| ${worst} at ${worstKey}`);
  assert.ok(within / total >= tol['weights_share_within_1e-4'], `weights: only ${(100 * within / total).toFixed(3)}% within 1e-4`);
}

/** The batch of step `s` (`step<s>.A` / `.B`) as setInput takes it. */
export function stepBatch(steps: Map<string, RawTensor>, s: number): { A: { data: Float32Array; shape: number[] }; B: { data: Float32Array; shape: number[] } } {
  const A = steps.get(`step${s}.A`)!, B = steps.get(`step${s}.B`)!;
  return { A: { data: floats(A), shape: A.shape }, B: { data: floats(B), shape: B.shape } };
}

/** The case's procedure after the initial weights: manualSeed(3), then per step setInput + optimizeParameters and its losses; last visuals and final weights. */
export function runStepsAndCheck(model: BaseModel, dir: string, steps: Map<string, RawTensor>,
  c: { steps: number; losses: Array<Record<string, number>>; tolerance: TrainTolerance }): void {
  manualSeed(3);
  for (let s = 0; s < c.steps; s++) {
    model.setInput(stepBatch(steps, s));
    model.optimizeParameters();
    checkStepLosses(model, c.losses[s], c.tolerance, s);
  }
  checkLastVisuals(model, steps, c.tolerance);
  checkFinalWeights(model, readSafetensorsRaw(path.join(dir, 'final_weights.safetensors')).tensors, c.tolerance);
}
