/**
 * Entry point of a data-loading worker thread: decodes files (or takes them from this worker's cache) and
 * runs the planned transforms, sending back Float32Array tensors by transfer, not copy. The loader routes
 * each file to the same worker every epoch, so each worker's cache holds its own share of the dataset.
 */
import { parentPort, workerData } from 'worker_threads';
import { DecodedImageCache } from './image_cache';
import { serializeError, SerializedError } from '../errors';
import { ImageJob, JobResult, runImageJob } from './load_job';

/** workerData.role value that marks a thread started by ImageWorkerPool. */
export const DATA_WORKER_ROLE = 'torch-img2img-data-worker';

export interface DataWorkerData {
  role: typeof DATA_WORKER_ROLE;
  cacheBudgetBytes: number;
}

export interface WorkerRequest {
  id: number;
  job: ImageJob;
}

export type WorkerReply = { id: number; result: JobResult } | { id: number; error: SerializedError };

function serve(data: DataWorkerData): void {
  const port = parentPort!;
  const cache = new DecodedImageCache(data.cacheBudgetBytes);
  port.on('message', (request: WorkerRequest) => {
    let reply: WorkerReply;
    let transfer: ArrayBuffer[] = [];
    try {
      const result = runImageJob(request.job, cache);
      transfer = Object.values(result.tensors).map((t) => t!.data.buffer as ArrayBuffer);
      reply = { id: request.id, result };
    } catch (err) {
      reply = { id: request.id, error: serializeError(err) };
    }
    port.postMessage(reply, transfer);
  });
}

if (parentPort && (workerData as DataWorkerData | undefined)?.role === DATA_WORKER_ROLE) {
  serve(workerData as DataWorkerData);
}
