// Entry point of the worker thread train() starts: runs the training loop there and forwards every callback to
// the caller's thread as a message (plain data: visuals become uint8 images).
import { parentPort, workerData } from 'worker_threads';
import type { RawImage8 } from '../data/image';
import { serializeError, SerializedError } from '../errors';
import type { Options } from '../options/parse_options';
import { visualToImage } from '../inference/visuals';
import { EpochInfo, IterationInfo, runTrainingLoop, StopSignal, TrainingLoopCallbacks, TrainResult } from './trainer';
import type { ValidationInfo } from './validation';

export const TRAIN_WORKER_ROLE = 'torch-img2img-train-worker';

export interface TrainWorkerData {
  role: typeof TRAIN_WORKER_ROLE;
  options: Options | string | readonly string[];
  argv?: readonly string[];
  /** Whether the caller wants visuals (converting them costs a copy per display step). */
  visuals: boolean;
  /** The caller's signal was aborted before the start: stop after the first iteration (a message could come later). */
  aborted: boolean;
}

/** After setup, before the first step (plain data). */
export interface TrainStartInfo {
  /** The run's options, after the model's defaults and a resumed checkpoint's architecture were applied. */
  opt: Options;
  /** Images per epoch. */
  datasetSize: number;
  /** The first epoch this run trains (later than --epoch_count when resuming). */
  startEpoch: number;
  lastEpoch: number;
}

export type TrainWorkerMessage =
  | { type: 'start'; info: TrainStartInfo }
  | { type: 'iteration'; info: IterationInfo }
  | { type: 'epoch'; info: EpochInfo }
  | { type: 'validation'; info: ValidationInfo }
  | { type: 'visuals'; epoch: number; totalIters: number; visuals: Array<[string, RawImage8]> }
  | { type: 'log'; line: string }
  | { type: 'done'; result: TrainResult }
  | { type: 'failed'; error: SerializedError };

export type TrainWorkerRequest = { type: 'stop' };

async function run(data: TrainWorkerData): Promise<void> {
  const port = parentPort!;
  const post = (m: TrainWorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  const stop = new StopSignal();
  if (data.aborted) stop.requested = 'aborted';
  port.on('message', (m: TrainWorkerRequest) => { if (m.type === 'stop') stop.requested ??= 'aborted'; });
  const callbacks: TrainingLoopCallbacks = {
    onStart: ({ opt, datasetSize, startEpoch, lastEpoch }) => post({ type: 'start', info: { opt, datasetSize, startEpoch, lastEpoch } }),
    onIteration: (info) => post({ type: 'iteration', info }),
    onEpoch: (info) => post({ type: 'epoch', info }),
    onValidation: (info) => post({ type: 'validation', info }),
    log: (line) => post({ type: 'log', line }),
    onVisuals: data.visuals ? ({ epoch, totalIters, visuals }) => {
      const images: Array<[string, RawImage8]> = [...visuals].map(([k, t]) => [k, visualToImage(t, { singleChannel: true })]);
      post({ type: 'visuals', epoch, totalIters, visuals: images }, images.map(([, i]) => i.data.buffer as ArrayBuffer));
    } : undefined,
  };
  try {
    const result = await runTrainingLoop(data.options, callbacks, { stop, argv: data.argv });
    post({ type: 'done', result });
  } catch (err) {
    post({ type: 'failed', error: serializeError(err) });
  } finally {
    port.close();
  }
}

if (parentPort && (workerData as TrainWorkerData | undefined)?.role === TRAIN_WORKER_ROLE) {
  void run(workerData as TrainWorkerData);
}
