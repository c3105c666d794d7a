// The training loop of the reference's train.py, plus what it lacks: a real resume (optimizer, scheduler,
// counters, pools, RNGs), atomic saves, Ctrl-C/SIGTERM handling, NaN guards and a progress bar.
import * as fs from 'fs';
import * as path from 'path';
import { createDataLoader, DataLoader } from '../data/data_loader';
import { createDataset } from '../data/create_dataset';
import { DistributedTraining } from '../distributed/data_parallel';
import { createModel, findModelPlugin } from '../models';
import type { BaseModel } from '../models/base_model';
import type { Options } from '../options/parse_options';
import { parseOptionsWithParser } from '../plugins';
import { expected } from '../options/option_errors';
import { formatOptions, saveOptions } from '../options/print_options';
import type { OptionParser } from '../options/option_parser';
import { info, manualSeed, resolveDevice, setNumThreads } from '../runtime';
import type { Tensor } from '../tensor';
import { removeStaleTemporaries } from '../util/atomic_write';
import { ProgressBar } from '../util/progress';
import { PythonRandom } from '../util/python_random';
import { formatLrChange } from '../models/schedulers';
import { loadTrainingState, readTrainingStateMeta, saveTrainingState, statePath, TrainingCounters } from './training_state';
import { formatValidation, ValidationInfo, Validator } from './validation';
import { Visualizer } from './visualizer';
import { quickCheckDataset } from '../data/dataset_check';
import { applyCheckpointDescription } from '../inference/self_describing';
import { loadLabel } from '../checkpoint/run_checkpoints';
import { shellSplit } from '../options/shell_split';

/** After one optimization step (plain data). */
export interface IterationInfo {
  /** The epoch, from --epoch_count to n_epochs + n_epochs_decay. */
  epoch: number;
  /** Images trained on in this epoch so far. */
  epochIter: number;
  /** Images trained on in the whole run, resumed runs included. */
  totalIters: number;
  /** Present on print steps (every print_freq images). */
  losses?: Record<string, number>;
  /** The first optimizer's learning rate. */
  lr: number;
  /** Seconds of computation per image in this step. */
  tComp: number;
  /** Seconds waited for data before the last print step. */
  tData: number;
  /** Images per epoch. */
  epochSize: number;
  /** The last epoch of the run. */
  lastEpoch: number;
}

/** At the end of an epoch, after its checkpoints were saved (plain data). */
export interface EpochInfo {
  epoch: number;
  totalIters: number;
  /** The learning rate after this epoch's scheduler step. */
  lr: number;
  /** The epoch's duration. */
  seconds: number;
  /** The losses of the epoch's last step. */
  losses: Record<string, number>;
}

/**
 * The training loop's callbacks, called on the loop's thread; the loop awaits the ones that return a promise.
 * train() (train_in_worker.ts) turns them into plain-data messages to the caller's thread.
 */
export interface TrainingLoopCallbacks {
  /** After setup: the model, options and dataset size. */
  onStart?(info: { opt: Options; model: BaseModel; datasetSize: number; startEpoch: number; lastEpoch: number }): void;
  /** After every optimization step. */
  onIteration?(info: IterationInfo): void | Promise<void>;
  /** On display steps (every display_freq images): the current visuals (valid during the call only). */
  onVisuals?(info: { epoch: number; totalIters: number; visuals: Map<string, Tensor> }): void;
  onEpoch?(info: EpochInfo): void | Promise<void>;
  /** After each validation (--val_freq): the metric's value, and the best so far. */
  onValidation?(info: ValidationInfo): void | Promise<void>;
  /** Where console lines go (default: stdout, through the progress bar). */
  log?(line: string): void;
  /** Polled after each iteration: true stops the run after saving `latest` (as Ctrl-C does). */
  shouldStop?(): boolean;
}

/** How a training run ended. */
export interface TrainResult {
  /** Epochs completed by this run. */
  epochs: number;
  totalIters: number;
  /** True when a stop (AbortSignal, Ctrl-C, SIGTERM) ended the run early, after saving `latest`. */
  interrupted: boolean;
  lastLosses: Record<string, number>;
  /** Seconds spent waiting for data, and in total. */
  dataSeconds: number;
  seconds: number;
}

const NAN_ADVICE = 'the last saved checkpoint is kept unchanged; lower --lr or use --nan_policy skip';

/**
 * Thrown when a loss turns NaN/Inf under --nan_policy stop, or when a network's weights do (checked before every
 * save, so that a diverged step never overwrites the last good checkpoint). `lossName` is the loss, or
 * `<network>.<key>` for a weight.
 */
export class NonFiniteLossError extends Error {
  readonly code = 'ERR_IMG2IMG_NON_FINITE';
  readonly isWeight: boolean;

  constructor(readonly lossName: string, readonly value: number, readonly epoch: number, readonly totalIters: number,
    opts: { weight?: boolean; advice?: string } = {}) {
    const dot = lossName.indexOf('.');
    const what = opts.weight
      ? `weight ${lossName.slice(dot + 1)} of network ${lossName.slice(0, dot)} became non-finite (NaN or Inf)`
      : `loss ${lossName} became ${value}`;
    super(`${what} at epoch ${epoch}, iteration ${totalIters}: training stopped (${opts.advice ?? NAN_ADVICE})`);
    this.name = 'NonFiniteLossError';
    this.isWeight = !!opts.weight;
  }
}

/** The first weight or buffer holding a NaN/Inf, as `<network>.<key>`, or null when all are finite. */
function firstNonFiniteWeight(model: BaseModel): string | null {
  for (const name of model.modelNames) {
    const tensors = model.networks[name].stateDict();
    try {
      for (const [key, t] of tensors) if (!t.isFinite()) return `${name}.${key}`;
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  }
  return null;
}

/**
 * Test hook: IMG2IMG_FAULT_NAN_AT_ITER=<n> feeds an all-NaN input batch at total iteration n, so that tests can
 * exercise --nan_policy deterministically. Does nothing unless set; never set it outside tests.
 */
function faultNanIteration(): number {
  const n = Number(process.env.IMG2IMG_FAULT_NAN_AT_ITER ?? 0);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/** A stop request from a signal or the caller; the loop saves `latest` and returns. */
export class StopSignal {
  requested: string | null = null;
}

function isOptions(v: unknown): v is Options {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'dataroot' in (v as object);
}

export interface TrainingLoopExtra {
  /** The parser `options` came from (prints which values differ from their defaults). */
  parser?: OptionParser;
  /** Set by the caller (a signal handler, the worker's stop message): the loop saves `latest` and returns. */
  stop?: StopSignal;
  /** The command line the options came from, when they were parsed by the caller (tells explicit flags apart). */
  argv?: readonly string[];
}

/**
 * Trains a model as the reference's train.py does, on the calling thread: the CLI's `img2img train` and the worker
 * behind the public train(). `options` is a command line (string or argv) or parsed options. Resolves when the last
 * epoch ends or a stop was requested.
 */
export async function runTrainingLoop(options: Options | string | readonly string[], callbacks: TrainingLoopCallbacks = {},
  extra: TrainingLoopExtra = {}): Promise<TrainResult> {
  let opt: Options;
  let parser = extra.parser;
  let argv = extra.argv ?? [];
  if (isOptions(options)) opt = options;
  else {
    argv = typeof options === 'string' ? shellSplit(options) : options as readonly string[];
    const p = parseOptionsWithParser(argv, { isTrain: true }); opt = p.opt; parser = p.parser;
  }
  if (!opt.isTrain) throw expected('training options (parseOptions(argv, { isTrain: true }))', 'train()', 'test options (isTrain false)');
  if (!parser) parser = parseOptionsWithParser(['--dataroot', opt.dataroot, '--model', opt.model, '--dataset_mode', opt.dataset_mode], { isTrain: true }).parser;

  let bar: ProgressBar | null = null;
  let dist: DistributedTraining | null = null;
  const log = (line: string) => {
    // Across processes, ranks > 0 print only their loss records (as the reference) and warnings.
    if (dist && !dist.isMain && !line.startsWith('[Rank ') && !line.startsWith('warning')) return;
    if (callbacks.log) callbacks.log(line);
    else if (bar) bar.log(line);
    else process.stdout.write(line + '\n');
  };

  // WORLD_SIZE > 1 (img2img train --nproc_per_node, torchrun, or any launcher that sets its variables): join the
  // process group first; it settles this rank's device, threads and seed.
  dist = DistributedTraining.fromEnvironment(opt, log);
  setNumThreads(opt.threads);
  opt.device = resolveDevice(opt.device);
  const rt = info();
  log(`device: ${opt.device} (libtorch ${rt.torchVersion}, ${rt.threads} threads${opt.device === 'cpu' && rt.cudaAvailable ? '; CUDA is available: use --device cuda' : ''})`);
  log(`seed: ${opt.seed}`);
  manualSeed(opt.seed);
  // A resumed run rebuilds the networks its checkpoints describe; flags given on the command line win.
  if (opt.continue_train) for (const name of findModelPlugin(opt.model).describingNetworks(opt)) for (const note of applyCheckpointDescription(opt, argv, name)) log(note);
  log(formatOptions(opt, parser));
  if (!dist || dist.isMain) saveOptions(opt, parser);

  // The cheap part of `img2img check-data` (headers only): fail before a long run starts, not hours into it.
  const check = quickCheckDataset(opt);
  for (const w of check.warnings) log(`warning: ${w}`);
  if (check.errors.length) {
    throw new Error(`the dataset is not usable (img2img check-data --dataroot ${opt.dataroot} --dataset_mode ${opt.dataset_mode} for a full report):\n  ` +
      check.errors.slice(0, 10).join('\n  ') + (check.errors.length > 10 ? `\n  … and ${check.errors.length - 10} more` : ''));
  }
  const dataRng = new PythonRandom(opt.seed);
  const dataset = createDataset(opt, dataRng);
  const loader: DataLoader = createDataLoader(opt, dataset, dist ? { sampler: dist.sampler } : undefined);
  log(`The number of training images = ${loader.length}`);

  const model = createModel(opt);
  if (dist) model.writesFiles = dist.isMain;  // only rank 0 writes checkpoints
  // A run killed in the middle of a save leaves a temporary next to the checkpoint; it is never read, only removed.
  const stale = model.writesFiles ? removeStaleTemporaries(model.saveDir) : [];
  if (stale.length) log(`removed ${stale.length} unfinished save(s) of an interrupted run: ${stale.join(', ')}`);
  const stop = extra.stop ?? new StopSignal();
  const result: TrainResult = { epochs: 0, totalIters: 0, interrupted: false, lastLosses: {}, dataSeconds: 0, seconds: 0 };
  const started = Date.now();
  let failed = false;
  let validator: Validator | null = null;
  try {
    log(model.describeNetworks(opt.verbose));
    // Across processes rank 0 validates (it alone writes best_net_*); validation has no collectives.
    validator = !dist || dist.isMain ? Validator.create(opt, model.saveDir, model.modelNames[0]) : null;
    const lastEpoch = opt.n_epochs! + opt.n_epochs_decay!;
    let startEpoch = opt.epoch_count!;
    let totalIters = 0;
    let skipItems = 0;
    // The state a non-finite step rolls back to under --nan_policy skip: the last one this run loaded or saved.
    let lastStateFile: string | null = null;

    if (opt.continue_train) {
      const file = statePath(model.saveDir, loadLabel(opt));
      if (fs.existsSync(file)) {
        const meta = loadTrainingState(file, model);
        lastStateFile = file;
        totalIters = meta.totalIters;
        if (meta.epochComplete) {
          startEpoch = meta.epoch + 1;
          if (meta.dataRng) dataRng.setState(meta.dataRng);
        } else {
          // Mid-epoch: replay that epoch's order from its start and skip what was already trained on.
          startEpoch = meta.epoch;
          if (meta.dataRngEpochStart) dataRng.setState(meta.dataRngEpochStart);
          skipItems = meta.epochIter;
        }
        log(`resuming from ${file}: epoch ${startEpoch}${skipItems ? ` (after ${skipItems} images)` : ''}, total_iters ${totalIters}, lr ${model.optimizers[0]?.lr}`);
      } else {
        log(`no training state ${path.basename(file)}: loaded weights only (as the reference); epoch_count ${startEpoch}, optimizer moments start at zero`);
      }
    }

    // As DDP: every rank starts from rank 0's weights (after init or loading) and checks that it set up the same run.
    dist?.prepare(model, { datasetLength: loader.length, batchesPerEpoch: loader.batchesPerEpoch, startEpoch, lastEpoch, totalIters });
    const visualizer = new Visualizer(opt, dist?.rank ?? 0);
    callbacks.onStart?.({ opt, model, datasetSize: loader.length, startEpoch, lastEpoch });
    const batchSize = opt.batch_size;
    const printFreq = opt.print_freq!, displayFreq = opt.display_freq!, htmlFreq = opt.update_html_freq!;
    const saveLatestFreq = opt.save_latest_freq!, saveEpochFreq = opt.save_epoch_freq!;
    let dataRngEpochStart = dataRng.getState();
    const nanPolicy = opt.nan_policy ?? 'stop';
    const faultNanAt = faultNanIteration();
    // The first batch of this run also initialises data-dependent networks (CUT's train.py does it on its first batch).
    let dataInitialized = false;

    /** A NaN/Inf loss or weight: --nan_policy stop throws; skip rolls back to the last saved state and goes on. */
    const onNonFinite = (error: NonFiniteLossError): void => {
      if (nanPolicy === 'stop') throw error;
      if (!lastStateFile || !fs.existsSync(lastStateFile)) {
        throw new NonFiniteLossError(error.lossName, error.value, error.epoch, error.totalIters, {
          weight: error.isWeight,
          advice: '--nan_policy skip has no saved training state to roll back to yet; lower --lr, or save earlier with a smaller --save_latest_freq',
        });
      }
      log(`warning: ${error.message.replace(/: training stopped .*$/, '')}; --nan_policy skip: restoring ${lastStateFile} and going on`);
      loadTrainingState(lastStateFile, model);
    };
    /** Before every save: a diverged step must never overwrite the last good checkpoint. */
    const checkWeights = (epoch: number, iters: number): void => {
      const bad = firstNonFiniteWeight(model);
      if (bad) onNonFinite(new NonFiniteLossError(bad, NaN, epoch, iters, { weight: true }));
    };
    const saveLatest = (epoch: number, counters: TrainingCounters, label: string) => {
      checkWeights(epoch, counters.totalIters);
      model.saveNetworks(label);
      const file = statePath(model.saveDir, label);
      saveTrainingState(file, model, counters, { data: dataRng.getState(), dataEpochStart: dataRngEpochStart });
      lastStateFile = file;
    };

    for (let epoch = startEpoch; epoch <= lastEpoch; epoch++) {
      const epochStart = Date.now();
      let iterDataTime = Date.now();
      let epochIter = 0;
      let tData = 0;
      visualizer.reset();
      dist?.startEpoch(epoch, dataRng);
      dataRngEpochStart = dataRng.getState();
      const interactive = process.stdout.isTTY && !callbacks.log && (!dist || dist.isMain);
      bar = interactive ? new ProgressBar({ total: loader.length, epoch, lastEpoch }) : null;
      let losses: Record<string, number> = {};

      for await (const batch of loader) {
        if (skipItems > 0) {
          // Already trained on before the interruption: consume it (keeps the data RNG in step) without training.
          skipItems -= batchSize;
          epochIter += batchSize;
          iterDataTime = Date.now();
          continue;
        }
        const iterStart = Date.now();
        if (totalIters % printFreq === 0) tData = (iterStart - iterDataTime) / 1000;
        result.dataSeconds += (iterStart - iterDataTime) / 1000;
        totalIters += batchSize;
        epochIter += batchSize;
        const inputA = totalIters === faultNanAt ? new Float32Array(batch.A.length).fill(NaN) : batch.A;
        const input = {
          A: { data: inputA, shape: batch.shapeA },
          B: batch.B ? { data: batch.B, shape: batch.shapeB! } : undefined,
          A_paths: batch.A_paths, B_paths: batch.B_paths,
        };
        model.setInput(input);
        if (!dataInitialized) { model.dataDependentInitialize(input); dataInitialized = true; }
        model.optimizeParameters();
        losses = model.getCurrentLosses();
        // Across processes the ranks decide together (one tiny all-reduce), so that all stop or roll back at once.
        const agreed = dist?.agree(losses, !!(stop.requested || callbacks.shouldStop?.()));
        const bad = agreed ? agreed.nonFinite : Object.entries(losses).find(([, v]) => !Number.isFinite(v));
        if (bad) onNonFinite(new NonFiniteLossError(bad[0], bad[1], epoch, totalIters));
        // After a roll-back the visuals are still the diverged step's: nothing worth showing.
        if (totalIters % displayFreq === 0 && !bad) {
          const saveResult = totalIters % htmlFreq === 0;
          model.computeVisuals();
          const visuals = model.getCurrentVisuals();
          visualizer.displayCurrentResults(visuals, epoch, saveResult);
          callbacks.onVisuals?.({ epoch, totalIters, visuals });
        }
        const tComp = (Date.now() - iterStart) / 1000 / batchSize;
        if (totalIters % printFreq === 0) {
          const line = visualizer.printCurrentLosses(epoch, epochIter, losses, tComp, tData);
          log(line);
        }
        bar?.update(epochIter, losses);
        if (totalIters % saveLatestFreq === 0) {
          log(`saving the latest model (epoch ${epoch}, total_iters ${totalIters})`);
          const label = opt.save_by_iter ? `iter_${totalIters}` : 'latest';
          saveLatest(epoch, { epoch, epochIter, totalIters, epochComplete: false }, label);
        }
        await callbacks.onIteration?.({
          epoch, epochIter, totalIters, losses: totalIters % printFreq === 0 ? losses : undefined,
          lr: model.optimizers[0]?.lr ?? 0, tComp, tData, epochSize: loader.length, lastEpoch,
        });
        // Let the event loop run: with in-process loading (--num_threads 0) every await above resolves at once, and
        // without this turn SIGINT/SIGTERM handlers (and the dashboard) would wait for the end of training.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (agreed ? agreed.stop : (stop.requested || callbacks.shouldStop?.())) {
          bar?.finish(); bar = null;
          log(`${stop.requested ?? 'stop requested'}: saving the latest model (epoch ${epoch}, total_iters ${totalIters})`);
          saveLatest(epoch, { epoch, epochIter, totalIters, epochComplete: false }, 'latest');
          result.interrupted = true;
          result.totalIters = totalIters;
          result.lastLosses = losses;
          return result;
        }
        iterDataTime = Date.now();
      }
      bar?.finish(); bar = null;
      skipItems = 0;
      // Checked before the LR update, so that a roll-back under --nan_policy skip cannot undo the update.
      checkWeights(epoch, totalIters);
      const [oldLr, newLr] = model.updateLearningRate();
      log(formatLrChange(oldLr, newLr));
      // The reference's files follow its own cadence; they are written before the state that says the epoch is
      // complete, so that a kill during any of them resumes from the previous state and writes them again
      // (the other way round, the resumed run would go on to the next epoch and they would never exist).
      if (epoch % saveEpochFreq === 0) {
        log(`saving the model at the end of epoch ${epoch}, iters ${totalIters}`);
        model.saveNetworks(epoch);
        model.saveNetworks('latest');
      } else if (epoch === lastEpoch) {
        // The reference writes nothing after a run shorter than save_epoch_freq; the final weights are kept here.
        log(`saving the final model as latest (epoch ${epoch}, iters ${totalIters})`);
        model.saveNetworks('latest');
      }
      // Every epoch ends with a complete resumable state, written last.
      const epochState = statePath(model.saveDir, 'latest');
      saveTrainingState(epochState, model, { epoch, epochIter: 0, totalIters, epochComplete: true },
        { data: dataRng.getState(), dataEpochStart: dataRngEpochStart });
      lastStateFile = epochState;
      const seconds = (Date.now() - epochStart) / 1000;
      log(`End of epoch ${epoch} / ${lastEpoch} \t Time Taken: ${Math.round(seconds)} sec`);
      if (validator?.due(epoch)) {
        const v = await validator.run(model, epoch, totalIters);
        const line = formatValidation(v);
        visualizer.appendLog(line);
        log(line);
        await callbacks.onValidation?.(v);
      }
      result.epochs++;
      result.totalIters = totalIters;
      result.lastLosses = losses;
      await callbacks.onEpoch?.({ epoch, totalIters, lr: newLr, seconds, losses });
    }
    return result;
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    bar?.finish();
    result.seconds = (Date.now() - started) / 1000;
    await loader.close?.();
    validator?.dispose();
    model.dispose();
    dist?.close(!failed);
  }
}

/** Reads the counters of a saved state (for tools and tests). */
export { readTrainingStateMeta };
