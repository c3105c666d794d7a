// trainInWorker: train() in a worker thread, so the host app's event loop never waits for a training step;
// callbacks run on the caller's thread, in order, as the worker reports.
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { RawImage8 } from '../data/image';
import { deserializeError } from '../errors';
import type { Options } from '../options/parse_options';
import type { EpochInfo, IterationInfo, TrainResult } from './trainer';
import { StartInfo, TRAIN_WORKER_ROLE, TrainWorkerData, TrainWorkerMessage, TrainWorkerRequest } from './train_worker';

const WORKER_SCRIPT = path.join(__dirname, 'train_worker.js');

/** train()'s callbacks as plain data: the model stays in the worker, visuals arrive as uint8 images; training does not wait for them. */
export interface WorkerTrainCallbacks {
  onStart?(info: StartInfo): void;
  onIteration?(info: IterationInfo): void;
  onEpoch?(info: EpochInfo): void;
  onVisuals?(info: { epoch: number; totalIters: number; visuals: Map<string, RawImage8> }): void;
  /** Where console lines go (default: stdout). */
  log?(line: string): void;
}

export interface TrainInWorkerOptions {
  /** Aborting stops the run after the current iteration and saves 'latest', as Ctrl-C does; the result has interrupted: true. */
  signal?: AbortSignal;
  /** The command line, when `options` were parsed by the caller (tells explicit flags apart for --continue_train). */
  argv?: readonly string[];
}

/**
 * Runs train(options) in a worker thread. Callbacks are called on this thread (a callback that throws is
 * reported as the run's error after the worker stops).
 */
export function trainInWorker(options: Options | string | readonly string[], callbacks: WorkerTrainCallbacks = {},
  extra: TrainInWorkerOptions = {}): Promise<TrainResult> {
  const data: TrainWorkerData = { role: TRAIN_WORKER_ROLE, options, argv: extra.argv, visuals: !!callbacks.onVisuals };
  if (!fs.existsSync(WORKER_SCRIPT)) {
    return Promise.reject(new Error(`training worker script ${WORKER_SCRIPT} not found: it runs from compiled JavaScript; build it with "npx tsc -p ."`));
  }
  const worker = new Worker(WORKER_SCRIPT, { workerData: data });
  const stop = () => worker.postMessage({ type: 'stop' } satisfies TrainWorkerRequest);
  if (extra.signal?.aborted) stop();
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
