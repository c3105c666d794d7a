// The training loop of the reference's train.py, plus what it lacks: a real resume (optimizer, scheduler,
// counters, pools, RNGs), atomic saves, Ctrl-C/SIGTERM handling, NaN guards and a progress bar.
import * as fs from 'fs';
import * as path from 'path';
import { createDataLoader, DataLoader } from '../data/data_loader';
import { createDataset } from '../data/create_dataset';
import type { DataOptions } from '../data/base_dataset';
import { createModel } from '../models';
import type { BaseModel } from '../models/base_model';
import { parseOptionsWithParser, Options } from '../options/parse_options';
import { formatOptions, saveOptions } from '../options/print_options';
import type { OptionParser } from '../options/option_parser';
import { info, manualSeed, resolveDevice, setNumThreads } from '../runtime';
import type { Tensor } from '../tensor';
import { ProgressBar } from '../util/progress';
import { PythonRandom } from '../util/python_random';
import { formatLrChange } from '../util/schedulers';
import { loadTrainingState, readTrainingStateMeta, saveTrainingState, statePath, TrainingCounters } from './training_state';
import { Visualizer } from './visualizer';
import { quickCheckDataset } from '../tools/check_data';

export interface IterationInfo {
  epoch: number;
  epochIter: number;
  totalIters: number;
  /** Present on print steps (every print_freq images). */
  losses?: Record<string, number>;
  lr: number;
  tComp: number;
  tData: number;
  epochSize: number;
  lastEpoch: number;
}

export interface EpochInfo {
  epoch: number;
  totalIters: number;
  lr: number;
  seconds: number;
  losses: Record<string, number>;
}

export interface TrainCallbacks {
  /** After setup: the model, options and dataset size. */
  onStart?(info: { opt: Options; model: BaseModel; datasetSize: number; startEpoch: number; lastEpoch: number }): void;
  /** After every optimization step. */
  onIteration?(info: IterationInfo): void | Promise<void>;
  /** On display steps (every display_freq images): the current visuals (valid during the call only). */
  onVisuals?(info: { epoch: number; totalIters: number; visuals: Map<string, Tensor> }): void;
  onEpoch?(info: EpochInfo): void | Promise<void>;
  /** Where console lines go (default: stdout, through the progress bar). */
  log?(line: string): void;
  /** Polled after each iteration: true stops the run after saving `latest` (as Ctrl-C does). */
  shouldStop?(): boolean;
}

export interface TrainResult {
  epochs: number;
  totalIters: number;
  interrupted: boolean;
  lastLosses: Record<string, number>;
  /** Seconds spent waiting for data, and in total. */
  dataSeconds: number;
  seconds: number;
}

/** Thrown when a loss turns NaN/Inf under --nan_policy stop. */
export class NonFiniteLossError extends Error {
  constructor(readonly lossName: string, readonly value: number, readonly epoch: number, readonly totalIters: number) {
    super(`loss ${lossName} became ${value} at epoch ${epoch}, iteration ${totalIters}: training stopped ` +
      '(the last saved checkpoint is kept unchanged; lower --lr or use --nan_policy skip)');
  }
}

/** A stop request from a signal or the caller; the loop saves `latest` and returns. */
export class StopSignal {
  requested: string | null = null;
}

function isOptions(v: unknown): v is Options {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'dataroot' in (v as object);
}

/**
 * Trains a model as the reference's train.py does. `options` is a command line (string or argv) or parsed
 * options. Resolves when the last epoch ends or a stop was requested.
 */
export async function train(options: Options | string | readonly string[], callbacks: TrainCallbacks = {},
  extra: { parser?: OptionParser; stop?: StopSignal } = {}): Promise<TrainResult> {
  let opt: Options;
  let parser = extra.parser;
  if (isOptions(options)) opt = options;
  else { const p = parseOptionsWithParser(options as string[], { isTrain: true }); opt = p.opt; parser = p.parser; }
  if (!opt.isTrain) throw new Error('train() needs training options (isTrain)');
  if (!parser) parser = parseOptionsWithParser(['--dataroot', opt.dataroot, '--model', opt.model, '--dataset_mode', opt.dataset_mode], { isTrain: true }).parser;

  let bar: ProgressBar | null = null;
  const log = (line: string) => {
    if (callbacks.log) callbacks.log(line);
    else if (bar) bar.log(line);
    else process.stdout.write(line + '\n');
  };

  setNumThreads(opt.threads);
  opt.device = resolveDevice(opt.device);
  const rt = info();
  log(`device: ${opt.device} (libtorch ${rt.torchVersion}, ${rt.threads} threads${opt.device === 'cpu' && rt.cudaAvailable ? '; CUDA is available: use --device cuda' : ''})`);
  log(`seed: ${opt.seed}`);
  manualSeed(opt.seed);
  log(formatOptions(opt, parser));
  saveOptions(opt, parser);

  // The cheap part of `img2img check-data` (headers only): fail before a long run starts, not hours into it.
  const check = quickCheckDataset(opt as never);
  for (const w of check.warnings) log(`warning: ${w}`);
  if (check.errors.length) {
    throw new Error(`the dataset is not usable (img2img check-data --dataroot ${opt.dataroot} --dataset_mode ${opt.dataset_mode} for a full report):\n  ` +
      check.errors.slice(0, 10).join('\n  ') + (check.errors.length > 10 ? `\n  … and ${check.errors.length - 10} more` : ''));
  }
  const dataRng = new PythonRandom(opt.seed);
  const dataset = createDataset(opt as unknown as DataOptions, dataRng);
  const loader: DataLoader = createDataLoader(opt as unknown as DataOptions, dataset);
  log(`The number of training images = ${loader.length}`);

  const model = createModel(opt);
  const stop = extra.stop ?? new StopSignal();
  const result: TrainResult = { epochs: 0, totalIters: 0, interrupted: false, lastLosses: {}, dataSeconds: 0, seconds: 0 };
  const started = Date.now();
  try {
    log(model.describeNetworks(opt.verbose));
    const lastEpoch = opt.n_epochs! + opt.n_epochs_decay!;
    let startEpoch = opt.epoch_count!;
    let totalIters = 0;
    let skipItems = 0;
    let resumedEpochIter = 0;

    if (opt.continue_train) {
      const suffix = opt.load_iter > 0 ? `iter_${opt.load_iter}` : opt.epoch;
      const file = statePath(model.saveDir, suffix);
      if (fs.existsSync(file)) {
        const meta = loadTrainingState(file, model);
        totalIters = meta.totalIters;
        if (meta.epochComplete) {
          startEpoch = meta.epoch + 1;
          if (meta.dataRng) dataRng.setState(meta.dataRng);
        } else {
          // Mid-epoch: replay that epoch's order from its start and skip what was already trained on.
          startEpoch = meta.epoch;
          if (meta.dataRngEpochStart) dataRng.setState(meta.dataRngEpochStart);
          skipItems = meta.epochIter;
          resumedEpochIter = meta.epochIter;
        }
        log(`resuming from ${file}: epoch ${startEpoch}${skipItems ? ` (after ${skipItems} images)` : ''}, total_iters ${totalIters}, lr ${model.optimizers[0]?.lr}`);
      } else {
        log(`no training state ${path.basename(file)}: loaded weights only (as the reference); epoch_count ${startEpoch}, optimizer moments start at zero`);
      }
    }

    const visualizer = new Visualizer(opt as never);
    callbacks.onStart?.({ opt, model, datasetSize: loader.length, startEpoch, lastEpoch });
    const batchSize = opt.batch_size;
    const printFreq = opt.print_freq!, displayFreq = opt.display_freq!, htmlFreq = opt.update_html_freq!;
    const saveLatestFreq = opt.save_latest_freq!, saveEpochFreq = opt.save_epoch_freq!;
    let dataRngEpochStart = dataRng.getState();

    const saveLatest = (epoch: number, counters: TrainingCounters, label: string) => {
      model.saveNetworks(label);
      saveTrainingState(statePath(model.saveDir, label), model, counters, { data: dataRng.getState(), dataEpochStart: dataRngEpochStart });
    };

    for (let epoch = startEpoch; epoch <= lastEpoch; epoch++) {
      const epochStart = Date.now();
      let iterDataTime = Date.now();
      let epochIter = 0;
      let tData = 0;
      visualizer.reset();
      dataRngEpochStart = dataRng.getState();
      const interactive = process.stdout.isTTY && !callbacks.log;
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
        model.setInput({
          A: { data: batch.A, shape: batch.shapeA },
          B: batch.B ? { data: batch.B, shape: batch.shapeB! } : undefined,
          A_paths: batch.A_paths, B_paths: batch.B_paths,
        });
        model.optimizeParameters();
        losses = model.getCurrentLosses();
        const bad = Object.entries(losses).find(([, v]) => !Number.isFinite(v));
        if (bad) {
          if ((opt.nan_policy ?? 'stop') === 'stop') throw new NonFiniteLossError(bad[0], bad[1], epoch, totalIters);
          log(`warning: loss ${bad[0]} became ${bad[1]} at epoch ${epoch}, iteration ${totalIters}; --nan_policy skip: restoring the last saved state`);
          const latest = statePath(model.saveDir, 'latest');
          if (!fs.existsSync(latest)) throw new NonFiniteLossError(bad[0], bad[1], epoch, totalIters);
          loadTrainingState(latest, model);
        }
        if (totalIters % displayFreq === 0) {
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
        if (stop.requested || callbacks.shouldStop?.()) {
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
      const [oldLr, newLr] = model.updateLearningRate();
      log(formatLrChange(oldLr, newLr));
      // Every epoch ends with a complete resumable state; the reference's files follow its own cadence.
      saveTrainingState(statePath(model.saveDir, 'latest'), model, { epoch, epochIter: 0, totalIters, epochComplete: true },
        { data: dataRng.getState(), dataEpochStart: dataRngEpochStart });
      if (epoch % saveEpochFreq === 0) {
        log(`saving the model at the end of epoch ${epoch}, iters ${totalIters}`);
        model.saveNetworks('latest');
        model.saveNetworks(epoch);
      } else if (epoch === lastEpoch) {
        // The reference writes nothing after a run shorter than save_epoch_freq; the final weights are kept here.
        log(`saving the final model as latest (epoch ${epoch}, iters ${totalIters})`);
        model.saveNetworks('latest');
      }
      const seconds = (Date.now() - epochStart) / 1000;
      log(`End of epoch ${epoch} / ${lastEpoch} \t Time Taken: ${Math.round(seconds)} sec`);
      result.epochs++;
      result.totalIters = totalIters;
      result.lastLosses = losses;
      await callbacks.onEpoch?.({ epoch, totalIters, lr: newLr, seconds, losses });
      void resumedEpochIter;
    }
    return result;
  } finally {
    bar?.finish();
    result.seconds = (Date.now() - started) / 1000;
    await loader.close?.();
    model.dispose();
  }
}

/** Reads the counters of a saved state (for tools and tests). */
export { readTrainingStateMeta };
