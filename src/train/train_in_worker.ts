// The public train(): the training loop (trainer.ts) in a worker thread, so the host app's event loop never waits
// for a training step; callbacks run on the caller's thread, in order, as the worker reports.
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { deserializeError } from '../errors';
import type { RawPixels } from '../inference/translate_job';
import type { Options } from '../options/parse_options';
import type { EpochInfo, IterationInfo, TrainResult } from './trainer';
import { TrainStartInfo, TRAIN_WORKER_ROLE, TrainWorkerData, TrainWorkerMessage, TrainWorkerRequest } from './train_worker';
import type { ValidationInfo } from './validation';

const WORKER_SCRIPT = path.join(__dirname, 'train_worker.js');

/** The current visuals of a display step (every --display_freq images), as 8-bit images. */
export interface TrainVisuals {
  epoch: number;
  totalIters: number;
  /** By visual name (`real_A`, `fake_B`, `real_B`, …): interleaved HWC uint8 pixels, 1 or 3 channels. */
  visuals: Map<string, RawPixels & { data: Uint8Array }>;
}

/**
 * train()'s callbacks. Everything they receive is plain data copied from the training thread (the model and its
 * tensors stay there); training does not wait for them.
 */
export interface TrainCallbacks {
  /** After setup, before the first step. */
  onStart?(info: TrainStartInfo): void;
  /** After every optimization step. */
  onIteration?(info: IterationInfo): void;
  /** After each epoch's checkpoints were saved. */
  onEpoch?(info: EpochInfo): void;
  /** After each validation (--val_freq): the metric's value, and the best so far. */
  onValidation?(info: ValidationInfo): void;
  /** On display steps (every --display_freq images); converting the visuals costs a copy, so only when given. */
  onVisuals?(info: TrainVisuals): void;
  /** Where console lines go (default: stdout). */
  log?(line: string): void;
}

/** train()'s third argument. */
export interface TrainExtra {
  /**
   * Aborting stops the run after the current iteration and saves `latest`, as Ctrl-C does; the result has
   * interrupted: true. A signal aborted before the call stops after the first iteration.
   */
  signal?: AbortSignal;
  /** The command line, when `options` were parsed by the caller (tells explicit flags apart for --continue_train). */
  argv?: readonly string[];
}

/**
 * Trains a model as the reference's train.py does, in a worker thread: the caller's event loop stays free (a
 * 10 ms timer stays under 20 ms late during a pix2pix run). `options` is a command line (string or argv) or
 * parsed options (parseOptions(argv, { isTrain: true })).
 *
 * Callbacks are called on the caller's thread with plain data; a callback that throws stops the run, which then
 * rejects with that error. `extra.signal` stops the run after the current iteration, saving `latest` as Ctrl-C
 * does. Resolves when the last epoch ends or the signal stopped it; rejects with the run's error (its `code` kept).
 * The README's "Training from code" and examples/train.ts show it in use.
 */
export function train(options: Options | string | readonly string[], callbacks: TrainCallbacks = {},
  extra: TrainExtra = {}): Promise<TrainResult> {
  const data: TrainWorkerData = { role: TRAIN_WORKER_ROLE, options, argv: extra.argv, visuals: !!callbacks.onVisuals, aborted: !!extra.signal?.aborted };
  if (!fs.existsSync(WORKER_SCRIPT)) {
    return Promise.reject(new Error(`training worker script ${WORKER_SCRIPT} not found: it runs from compiled JavaScript; build it with "npx tsc -p ."`));
  }
  const worker = new Worker(WORKER_SCRIPT, { workerData: data });
  const stop = () => worker.postMessage({ type: 'stop' } satisfies TrainWorkerRequest);
  extra.signal?.addEventListener('abort', stop, { once: true });
  return new Promise<TrainResult>((resolve, reject) => {
    let callbackError: Error | null = null;
    let settled = false;
    const finish = (err: Error | null, result?: TrainResult) => {
      if (settled) return;
      settled = true;
      extra.signal?.removeEventListener('abort', stop);
      void worker.terminate(); // the run is over (saved or failed): nothing the worker still holds is needed
      if (callbackError ?? err) reject(callbackError ?? err);
      else resolve(result!);
    };
    const call = (fn: () => void) => {
      try { fn(); } catch (e) { if (!callbackError) { callbackError = e as Error; stop(); } }
    };
    worker.on('message', (m: TrainWorkerMessage) => {
      switch (m.type) {
        case 'start': call(() => callbacks.onStart?.(m.info)); break;
        case 'iteration': call(() => callbacks.onIteration?.(m.info)); break;
        case 'epoch': call(() => callbacks.onEpoch?.(m.info)); break;
        case 'validation': call(() => callbacks.onValidation?.(m.info)); break;
        case 'visuals': call(() => callbacks.onVisuals?.({ epoch: m.epoch, totalIters: m.totalIters, visuals: new Map(m.visuals) })); break;
        case 'log': call(() => (callbacks.log ? callbacks.log(m.line) : process.stdout.write(m.line + '\n'))); break;
        case 'done': finish(null, m.result); break;
        case 'failed': finish(deserializeError(m.error)); break;
      }
    });
    worker.once('error', (err) => finish(err));
    worker.once('exit', (code) => finish(new Error(`the training worker exited with code ${code} before finishing`)));
  });
}

/** train()'s earlier name, kept for code written against it. */
export const trainInWorker = train;
