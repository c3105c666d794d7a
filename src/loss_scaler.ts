// The dynamic loss scaler of fp16 training (torch.cuda.amp.GradScaler's semantics): the loss is multiplied by
// `scale` before backward so small fp16 gradients do not flush to zero; before the optimizer step the gradients
// are divided back and checked, a step with inf/NaN gradients is skipped and the scale backs off, and after
// `growthInterval` clean steps in a row the scale grows. One scaler per backward: where one loss feeds one
// optimizer, that optimizer's step unscales and updates; where one backward feeds several (CUT's G and F), they
// share one scaler and optim.ts's stepTogether checks all their gradients and updates the scale once, as
// GradScaler's step() per optimizer and one update() do.
import type { NativeAdam } from '../binding';
import type { Tensor } from './tensor';

/** Settings of a DynamicLossScaler; the defaults are GradScaler's (2^16, x2, x0.5, every 2000 steps). */
export interface LossScalerOptions {
  initScale?: number; growthFactor?: number; backoffFactor?: number; growthInterval?: number;
}

/** What a training state saves of a scaler: its scale and the clean steps since it last changed. */
export interface LossScalerState { scale: number; growthTracker: number }

// GradScaler's defaults.
const INIT_SCALE = 2 ** 16;
const GROWTH_FACTOR = 2;
const BACKOFF_FACTOR = 0.5;
const GROWTH_INTERVAL = 2000;

/** fp16 dynamic loss scaling for one optimizer, with torch.cuda.amp.GradScaler's rules. */
export class DynamicLossScaler {
  scale: number;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  /** Clean steps since the last growth or backoff. */
  growthTracker = 0;
  /** Steps skipped for inf/NaN gradients (for logs and tests). */
  skippedSteps = 0;

  constructor(opts: LossScalerOptions = {}) {
    this.scale = opts.initScale ?? INIT_SCALE;
    this.growthFactor = opts.growthFactor ?? GROWTH_FACTOR;
    this.backoffFactor = opts.backoffFactor ?? BACKOFF_FACTOR;
    this.growthInterval = opts.growthInterval ?? GROWTH_INTERVAL;
    if (!(this.scale > 0) || !(this.growthFactor > 1) || !(this.backoffFactor > 0 && this.backoffFactor < 1) ||
      !Number.isInteger(this.growthInterval) || this.growthInterval < 1) {
      throw new Error('Expected initScale > 0, growthFactor > 1, backoffFactor in (0, 1) and an integer growthInterval >= 1 for the loss scaler');
    }
  }

  /** loss * scale, for backward (a new tensor; the caller's tidy scope frees it). */
  scaleLoss(loss: Tensor): Tensor { return loss.mul(this.scale); }

  /**
   * Unscales the optimizer's gradients in place and updates the scale; returns whether the step may go ahead
   * (false: a gradient held inf or NaN, so the step is skipped).
   */
  unscale(optimizer: { native: NativeAdam }): boolean {
    const nonFinite = optimizer.native.unscaleGrads(1 / this.scale);
    this.update(nonFinite);
    return !nonFinite;
  }

  /** GradScaler.update: back off after an overflow, grow after growthInterval clean steps. */
  update(foundNonFinite: boolean): void {
    if (foundNonFinite) {
      this.scale *= this.backoffFactor;
      this.growthTracker = 0;
      this.skippedSteps++;
      return;
    }
    if (++this.growthTracker === this.growthInterval) {
      this.scale *= this.growthFactor;
      this.growthTracker = 0;
    }
  }

  /** The scale and growth counter, for the training state. */
  state(): LossScalerState { return { scale: this.scale, growthTracker: this.growthTracker }; }
  /** Restores what state() returned. */
  loadState(s: LossScalerState): void { this.scale = s.scale; this.growthTracker = s.growthTracker; }
}
