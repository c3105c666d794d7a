// Adam as the reference configures it: betas (beta1, 0.999), eps 1e-8, no weight decay. The update runs in C++
// (one fused pass per parameter on CPU); this class adds state export for resumable checkpoints.
import type { NativeAdam } from '../binding';
import { native } from './native';
import { Tensor } from './tensor';
import type { DynamicLossScaler } from './loss_scaler';

/** One parameter's Adam state: its step count and moments (null before the first step). */
export interface AdamStateEntry { step: number; expAvg: Tensor | null; expAvgSq: Tensor | null }

// glibc keeps the pages of freed tensors and RSS creeps up ~0.5 MB per training step (measured); handing them back
// every TRIM_EVERY optimizer steps keeps it flat at no measurable cost.
const TRIM_EVERY = 100;
let stepsSinceTrim = 0;
function countStep(): void {
  if (++stepsSinceTrim >= TRIM_EVERY) { stepsSinceTrim = 0; native().releaseMemory(); }
}

/** torch.optim.Adam over a list of parameters, stepped in libtorch. */
export class Adam {
  /** @internal The native handle (binding/). */
  readonly native: NativeAdam;
  readonly numParams: number;
  /** The parameters, in the order the optimizer was given them (shared with their networks). */
  readonly params: readonly Tensor[];
  /** Runs before every step (data-parallel training installs its gradient all-reduce here). */
  beforeStep: ((optimizer: Adam) => void) | null = null;
  /** fp16 training: the loss scaler whose scale the gradients carry; step() unscales and may skip (loss_scaler.ts). */
  lossScaler: DynamicLossScaler | null = null;

  constructor(params: Tensor[], opts: { lr: number; beta1: number; beta2?: number; eps?: number; fused?: boolean }) {
    this.native = new (native().Adam)(params.map((p) => p.native), { lr: opts.lr, beta1: opts.beta1, beta2: opts.beta2 ?? 0.999, eps: opts.eps ?? 1e-8 });
    this.numParams = params.length;
    this.params = [...params];
    if (opts.fused === false) this.native.fused = false;
  }

  /** One Adam update; with a loss scaler, the gradients are unscaled first and a step with inf/NaN ones is skipped. */
  step(): void {
    this.beforeStep?.(this);
    if (!this.lossScaler || this.lossScaler.unscale(this)) this.native.step();
    countStep();
  }
  /** Drops gradients (set_to_none); zeroGrad(false) zeroes them in place as torch 1.13's default does. */
  zeroGrad(setToNone = true): void { this.native.zeroGrad(setToNone); }
  get lr(): number { return this.native.lr; }
  set lr(v: number) { this.native.lr = v; }

  /** Moments and step counts (tensors shared with the optimizer: copy or dispose as needed). */
  getState(): AdamStateEntry[] {
    return this.native.getState().map((e) => ({
      step: e.step, expAvg: e.expAvg ? new Tensor(e.expAvg) : null, expAvgSq: e.expAvgSq ? new Tensor(e.expAvgSq) : null,
    }));
  }
  /** Restores moments and step counts saved by getState (copied in). */
  setState(state: AdamStateEntry[]): void {
    this.native.setState(state.map((e) => ({ step: e.step, expAvg: e.expAvg?.native ?? null, expAvgSq: e.expAvgSq?.native ?? null })));
  }
}

/**
 * One backward's steps for several optimizers that share one loss scaler (CUT's G and F under fp16): each one's
 * beforeStep, every gradient unscaled, one inf/NaN check over all of them, all steps taken or all skipped, and one
 * scale update (GradScaler's step() per optimizer, then one update()). Returns whether the steps were taken.
 */
export function stepTogether(optimizers: Adam[], scaler: DynamicLossScaler): boolean {
  for (const o of optimizers) o.beforeStep?.(o);
  let nonFinite = false;
  for (const o of optimizers) nonFinite = o.native.unscaleGrads(1 / scaler.scale) || nonFinite;
  scaler.update(nonFinite);
  if (!nonFinite) {
    for (const o of optimizers) {
      o.native.step();
      countStep();
    }
  }
  return !nonFinite;
}
