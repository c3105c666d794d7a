/**
 * Learning-rate schedules of the reference's get_scheduler (reference.md §3.6), stepped once per epoch,
 * with PyTorch 1.13's exact arithmetic so the LR sequence matches the reference to the last bit:
 *  - linear:  LambdaLR, lr = base * (1 - max(0, e + epoch_count - n_epochs) / (n_epochs_decay + 1))
 *  - step:    StepLR(step_size=lr_decay_iters, gamma=0.1), chainable (lr *= 0.1)
 *  - plateau: ReduceLROnPlateau(mode=min, factor=0.2, threshold=0.01 rel, patience=5, cooldown=0, eps=1e-8)
 *  - cosine:  CosineAnnealingLR(T_max=n_epochs, eta_min=0) in its recursive (chainable) form, which
 *             keeps rising again after T_max (epoch 150 trains at 9.69e-5, epoch 200 at 2.0e-4).
 * `e` (lastEpoch) is the number of steps taken; construction counts as PyTorch's initial step (e = 0).
 */
import { OptionError } from '../options/option_errors';
import { pythonFixed } from '../util/python_format';

export const LR_POLICIES = ['linear', 'step', 'plateau', 'cosine'] as const;
export type LrPolicy = (typeof LR_POLICIES)[number];

/** The options a scheduler reads (a subset of the train options). */
export interface SchedulerOptions {
  lr_policy: string;
  epoch_count: number;
  n_epochs: number;
  n_epochs_decay: number;
  lr_decay_iters: number;
}

/** JSON-able scheduler state (Infinity is stored as null). */
export interface SchedulerState {
  policy: LrPolicy;
  baseLr: number;
  lr: number;
  lastEpoch: number;
  /** plateau only */
  best?: number | null;
  numBadEpochs?: number;
  cooldownCounter?: number;
}

export interface LrScheduler {
  readonly policy: LrPolicy;
  /** The learning rate the optimizer should use now. */
  readonly lr: number;
  /** One epoch has ended. `metric` is only read by plateau (the reference always passes model.metric = 0). */
  step(metric?: number): void;
  stateDict(): SchedulerState;
  loadStateDict(state: SchedulerState): void;
}

const STEP_GAMMA = 0.1;
const PLATEAU_FACTOR = 0.2;
const PLATEAU_THRESHOLD = 0.01;
const PLATEAU_PATIENCE = 5;
const PLATEAU_COOLDOWN = 0;
const PLATEAU_MIN_LR = 0;
/** ReduceLROnPlateau ignores reductions smaller than this (so the LR stops at 2.56e-9 from 2e-4). */
const PLATEAU_EPS = 1e-8;
const COSINE_ETA_MIN = 0;

abstract class EpochScheduler implements LrScheduler {
  abstract readonly policy: LrPolicy;
  protected currentLr: number;
  protected lastEpoch = 0;

  constructor(protected readonly baseLr: number) {
    this.currentLr = baseLr;
  }

  get lr(): number {
    return this.currentLr;
  }

  abstract step(metric?: number): void;

  stateDict(): SchedulerState {
    return { policy: this.policy, baseLr: this.baseLr, lr: this.currentLr, lastEpoch: this.lastEpoch };
  }

  loadStateDict(state: SchedulerState): void {
    if (state.policy !== this.policy) {
      throw new OptionError(`Expected a ${this.policy} scheduler state for --lr_policy but received '${state.policy}'`, '--lr_policy');
    }
    this.currentLr = state.lr;
    this.lastEpoch = state.lastEpoch;
  }
}

/** LambdaLR with the reference's linear-decay rule (not chainable: lr is recomputed from base each step). */
class LinearScheduler extends EpochScheduler {
  readonly policy = 'linear';

  constructor(baseLr: number, private readonly opt: SchedulerOptions) {
    super(baseLr);
    this.currentLr = baseLr * this.factor(0);
  }

  private factor(epoch: number): number {
    return 1.0 - Math.max(0, epoch + this.opt.epoch_count - this.opt.n_epochs) / (this.opt.n_epochs_decay + 1);
  }

  step(): void {
    this.lastEpoch += 1;
    this.currentLr = this.baseLr * this.factor(this.lastEpoch);
  }
}

/** StepLR: multiply the current LR by 0.1 every `lr_decay_iters` epochs. */
class StepScheduler extends EpochScheduler {
  readonly policy = 'step';

  constructor(baseLr: number, private readonly stepSize: number) {
    super(baseLr);
  }

  step(): void {
    this.lastEpoch += 1;
    if (this.lastEpoch % this.stepSize === 0) this.currentLr *= STEP_GAMMA;
  }
}

/** CosineAnnealingLR's recursive form (PyTorch 1.13 get_lr), including its restart branch. */
class CosineScheduler extends EpochScheduler {
  readonly policy = 'cosine';

  constructor(baseLr: number, private readonly tMax: number) {
    super(baseLr);
  }

  step(): void {
    this.lastEpoch += 1;
    const e = this.lastEpoch;
    const t = this.tMax;
    if ((e - 1 - t) % (2 * t) === 0) {
      this.currentLr = this.currentLr + (this.baseLr - COSINE_ETA_MIN) * (1 - Math.cos(Math.PI / t)) / 2;
    } else {
      this.currentLr = (1 + Math.cos(Math.PI * e / t)) / (1 + Math.cos(Math.PI * (e - 1) / t))
        * (this.currentLr - COSINE_ETA_MIN) + COSINE_ETA_MIN;
    }
  }
}

/** ReduceLROnPlateau (mode min, relative threshold). */
class PlateauScheduler extends EpochScheduler {
  readonly policy = 'plateau';
  private best = Infinity;
  private numBadEpochs = 0;
  private cooldownCounter = 0;

  step(metric = 0): void {
    this.lastEpoch += 1;
    if (metric < this.best * (1 - PLATEAU_THRESHOLD)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs += 1;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > PLATEAU_PATIENCE) {
      const reduced = Math.max(this.currentLr * PLATEAU_FACTOR, PLATEAU_MIN_LR);
      if (this.currentLr - reduced > PLATEAU_EPS) this.currentLr = reduced;
      this.cooldownCounter = PLATEAU_COOLDOWN;
      this.numBadEpochs = 0;
    }
  }

  stateDict(): SchedulerState {
    return {
      ...super.stateDict(),
      best: Number.isFinite(this.best) ? this.best : null,
      numBadEpochs: this.numBadEpochs,
      cooldownCounter: this.cooldownCounter,
    };
  }

  loadStateDict(state: SchedulerState): void {
    super.loadStateDict(state);
    this.best = state.best ?? Infinity;
    this.numBadEpochs = state.numBadEpochs ?? 0;
    this.cooldownCounter = state.cooldownCounter ?? 0;
  }
}

function requireAtLeastOne(value: number, option: string, policy: string): void {
  if (!(Number.isInteger(value) && value >= 1)) {
    throw new OptionError(`Expected an integer >= 1 for ${option} but received '${value}' (needed by --lr_policy ${policy})`, option);
  }
}

/** The reference's get_scheduler for one optimizer whose initial LR is `baseLr`. */
export function createScheduler(opt: SchedulerOptions, baseLr: number): LrScheduler {
  switch (opt.lr_policy) {
    case 'linear':
      return new LinearScheduler(baseLr, opt);
    case 'step':
      requireAtLeastOne(opt.lr_decay_iters, '--lr_decay_iters', 'step');
      return new StepScheduler(baseLr, opt.lr_decay_iters);
    case 'plateau':
      return new PlateauScheduler(baseLr);
    case 'cosine':
      requireAtLeastOne(opt.n_epochs, '--n_epochs', 'cosine');
      return new CosineScheduler(baseLr, opt.n_epochs);
    default:
      // The reference *returns* NotImplementedError here (and crashes later); we fail at once.
      throw new OptionError(`Expected one of ${LR_POLICIES.join(', ')} for --lr_policy but received '${opt.lr_policy}'`, '--lr_policy');
  }
}

/** The line the reference's update_learning_rate prints: `learning rate 0.0002000 -> 0.0001980`. */
export function formatLrChange(oldLr: number, newLr: number): string {
  return `learning rate ${pythonFixed(oldLr, 7)} -> ${pythonFixed(newLr, 7)}`;
}
