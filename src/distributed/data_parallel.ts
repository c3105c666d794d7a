// Synchronous data parallelism as torch's DistributedDataParallel does it, for the training loop: rank 0's weights
// and buffers are copied to every rank once, gradients are averaged over ranks (in ~25 MB buckets) before every
// optimizer step, and each rank reads its own shard of every epoch. With W ranks of batch size B the updates are
// those of one process with batch size W·B (exactly so with instance norm; BatchNorm statistics stay per rank).
import * as os from 'os';
import type { BaseModel } from '../models/base_model';
import { expected } from '../options/option_errors';
import type { Options } from '../options/parse_options';
import { manualSeed, resolveDevice } from '../runtime';
import type { Tensor } from '../tensor';
import type { PythonRandom } from '../util/python_random';
import { DistributedEnv, readDistributedEnv } from './env';
import { backendFor, DEFAULT_BUCKET_BYTES, ProcessGroup } from './process_group';
import { DistributedSampler } from './sampler';

/** What every rank must agree on before training starts; a mismatch would hang or silently diverge. */
export interface SetupFacts {
  datasetLength: number;
  batchesPerEpoch: number;
  startEpoch: number;
  lastEpoch: number;
  totalIters: number;
}

/** What the ranks decided together after one iteration. */
export interface IterationAgreement {
  /** Some rank was asked to stop (signal or callback): every rank saves/stops after this iteration. */
  stop: boolean;
  /** The first loss that is NaN/Inf on some rank (with this rank's value), or undefined. */
  nonFinite: [string, number] | undefined;
}

/**
 * --norm syncbatch is refused when training across processes: synchronized BatchNorm is not implemented. (The
 * reference's own check is inverted and refuses every other norm instead, upstream #1709.)
 */
export function checkNormAcrossProcesses(norm: string, context: string): void {
  if (norm !== 'syncbatch') return;
  throw expected('instance, batch or none', '--norm', 'syncbatch',
    `${context}: synchronized BatchNorm across processes is not implemented; instance is the usual choice for pix2pix/CycleGAN, batch keeps statistics per process`);
}

export class DistributedTraining {
  private bucketsLogged = false;

  private constructor(readonly env: DistributedEnv, readonly group: ProcessGroup, readonly sampler: DistributedSampler,
    private readonly seed: number, private readonly log: (line: string) => void) {}

  get rank(): number { return this.env.rank; }
  get worldSize(): number { return this.env.worldSize; }
  /** Rank 0: the only one that writes files (checkpoints, logs, web page, opt.txt). */
  get isMain(): boolean { return this.env.rank === 0; }

  /**
   * Joins the process group when WORLD_SIZE > 1 (set by img2img train --nproc_per_node, torchrun or any launcher
   * that sets its variables), else returns null. Settles in `opt`: the device (cuda:LOCAL_RANK on CUDA), the
   * threads (cores / LOCAL_WORLD_SIZE unless chosen) and the seed (rank 0's, so that every rank shuffles alike).
   */
  static fromEnvironment(opt: Options, log: (line: string) => void, env = readDistributedEnv()): DistributedTraining | null {
    if (!env) return null;
    checkNormAcrossProcesses(opt.norm, `WORLD_SIZE ${env.worldSize}`);
    let device = resolveDevice(opt.device);
    if (device.startsWith('cuda')) device = resolveDevice(`cuda:${env.localRank}`);  // one GPU per local rank, as init_ddp
    opt.device = device;
    if (!opt.threads) {
      const fromEnv = Number(process.env.IMG2IMG_THREADS || process.env.OMP_NUM_THREADS || 0);
      opt.threads = fromEnv > 0 ? Math.floor(fromEnv) : Math.max(1, Math.floor(os.cpus().length / env.localWorldSize));
    }
    const backend = backendFor(device);
    const group = ProcessGroup.join(env, backend);
    const [seed] = group.broadcastNumbers([opt.seed]);
    opt.seed = seed;
    log(`distributed: rank ${env.rank} of ${env.worldSize} (local rank ${env.localRank}), ${backend} over ${env.masterAddr}:${env.masterPort}, ` +
      `timeout ${env.timeoutMs} ms; ${opt.threads} thread(s) per process`);
    const sampler = new DistributedSampler(env.rank, env.worldSize, !opt.serial_batches, seed);
    return new DistributedTraining(env, group, sampler, seed, log);
  }

  /**
   * DDP's construction, after the model is built and any checkpoint or training state is loaded: checks that
   * every rank set up the same run, copies rank 0's parameters and buffers to all ranks, and installs the
   * gradient all-reduce before every optimizer step.
   */
  prepare(model: BaseModel, facts: SetupFacts): void {
    const tensors: Tensor[] = [];
    for (const name of model.modelNames) tensors.push(...model.networks[name].stateDict().values());
    try {
      const numel = tensors.reduce((n, t) => n + t.numel, 0);
      const checks: Array<[string, number]> = [
        ['the number of network tensors', tensors.length], ['the number of network elements', numel],
        ['the number of training images', facts.datasetLength], ['the batches per epoch', facts.batchesPerEpoch],
        ['the first epoch (resume state)', facts.startEpoch], ['the last epoch', facts.lastEpoch],
        ['total_iters (resume state)', facts.totalIters], ['the number of optimizers', model.optimizers.length],
      ];
      const values = checks.map(([, v]) => v);
      const min = this.group.reduceNumbers(values, 'min'), max = this.group.reduceNumbers(values, 'max');
      const bad = checks.map(([label], i) => (min[i] !== max[i] ? `${label} (${min[i]} to ${max[i]}; here ${checks[i][1]})` : '')).filter(Boolean);
      if (bad.length) {
        throw new Error(`the ${this.worldSize} processes disagree on ${bad.join(', ')}: every rank needs the same options, ` +
          'the same dataset and, with --continue_train, the same checkpoints_dir');
      }
      this.group.broadcast(tensors, 0);
    } finally {
      for (const t of tensors) t.dispose();  // wrappers only: the networks keep their storage
    }
    for (const optimizer of model.optimizers) {
      optimizer.beforeStep = (o) => {
        const buckets = this.group.allreduceGradients(o.params, DEFAULT_BUCKET_BYTES);
        if (!this.bucketsLogged) {
          this.bucketsLogged = true;
          this.log(`distributed: gradients averaged over ${this.worldSize} processes in ${buckets} bucket(s) per optimizer step`);
        }
      };
    }
  }

  /**
   * At the start of every epoch: the sampler's permutation follows the epoch (set_epoch). Ranks > 0 reseed their
   * augmentation and dropout streams from (seed, rank, epoch), so they differ from rank 0's and a resumed run
   * replays them without saving them; rank 0 keeps the single-process streams (saved in its training state).
   */
  startEpoch(epoch: number, dataRng: PythonRandom): void {
    this.sampler.setEpoch(epoch);
    if (this.rank === 0) return;
    const seed = (this.seed + 1_000_003 * this.rank + 7_919 * epoch) % 2 ** 31;
    dataRng.seed(seed);
    manualSeed(seed);
  }

  /**
   * One small all-reduce after every iteration, so that every rank stops, or rolls back a non-finite step, at the
   * same iteration: a rank that left the loop alone would leave the others waiting in their next collective.
   */
  agree(losses: Record<string, number>, stopRequested: boolean): IterationAgreement {
    const names = Object.keys(losses);
    const flags = [stopRequested ? 1 : 0, ...names.map((n) => (Number.isFinite(losses[n]) ? 0 : 1))];
    const max = this.group.reduceNumbers(flags, 'max');
    const i = max.indexOf(1, 1);
    if (i < 0) return { stop: max[0] === 1, nonFinite: undefined };
    const name = names[i - 1];
    return { stop: max[0] === 1, nonFinite: [name, Number.isFinite(losses[name]) ? NaN : losses[name]] };
  }

  /** Leaves the group: after a barrier when every rank ended normally, at once after an error. */
  close(ok: boolean): void {
    if (this.group.isDisposed) return;
    if (ok) this.group.barrier();
    this.group.dispose();
  }
}
