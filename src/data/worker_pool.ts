/**
 * A fixed set of data-loading worker threads (--num_threads). Each file is always sent to the same worker
 * (by a hash of its path) so that worker's decoded-image cache serves it in later epochs. Idle workers are
 * unref'ed and never keep the process alive.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { expected } from '../options/option_errors';
import { DATA_WORKER_ROLE, DataWorkerData, WorkerReply, WorkerRequest } from './data_worker';
import { deserializeError } from '../errors';
import { ImageJob, JobResult } from './load_job';

/** Compiled worker entry, next to this file (dist/src/data/data_worker.js). */
export const DATA_WORKER_SCRIPT = path.join(__dirname, 'data_worker.js');

interface PendingJob {
  job: ImageJob;
  resolve(result: JobResult): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker | null;
  pending: Map<number, PendingJob>;
}

export class ImageWorkerPool {
  private readonly slots: Slot[];
  private nextId = 0;
  private closed = false;

  /**
   * @param size number of worker threads
   * @param cacheBudgetBytes decoded-image cache budget shared by all workers (each gets an equal part)
   */
  constructor(
    readonly size: number,
    private readonly cacheBudgetBytes: number,
    private readonly script: string = DATA_WORKER_SCRIPT,
  ) {
    if (!Number.isInteger(size) || size < 1) throw expected('an integer >= 1', '--num_threads', size);
    if (!fs.existsSync(script)) {
      throw new Error(
        `data loader worker script ${script} not found: the loader runs its workers from compiled JavaScript; ` +
          `build it with "npx tsc -p ." or use --num_threads 0`,
      );
    }
    this.slots = Array.from({ length: size }, () => ({ worker: null, pending: new Map() }));
  }

  /** Decodes and transforms one file in the worker that owns it. Rejects with the worker's error (ImageFileError for bad files). */
  run(job: ImageJob): Promise<JobResult> {
    if (this.closed) return Promise.reject(new Error('the data loader was closed'));
    const index = hashPath(job.path) % this.size;
    const slot = this.slots[index];
    const worker = slot.worker ?? this.start(index);
    const id = this.nextId++;
    return new Promise<JobResult>((resolve, reject) => {
      slot.pending.set(id, { job, resolve, reject });
      worker.ref(); // keep the process alive while a job is out
      const request: WorkerRequest = { id, job };
      worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.slots.map(async (slot) => {
        const worker = slot.worker;
        slot.worker = null;
        this.failPending(slot, new Error('the data loader was closed'));
        if (worker) await worker.terminate();
      }),
    );
  }

  private start(index: number): Worker {
    const slot = this.slots[index];
    const data: DataWorkerData = { role: DATA_WORKER_ROLE, cacheBudgetBytes: Math.floor(this.cacheBudgetBytes / this.size) };
    const worker = new Worker(this.script, { workerData: data });
    worker.unref();
    worker.on('message', (reply: WorkerReply) => {
      const pending = slot.pending.get(reply.id);
      if (!pending) return;
      slot.pending.delete(reply.id);
      if (slot.pending.size === 0) worker.unref();
      if ('error' in reply) pending.reject(deserializeError(reply.error));
      else pending.resolve(reply.result);
    });
    worker.on('error', (err) => {
      if (slot.worker === worker) slot.worker = null;
      this.failPending(slot, new Error(`data loader worker ${index} crashed: ${err.message}`));
    });
    worker.on('exit', (code) => {
      if (slot.worker === worker) slot.worker = null;
      this.failPending(slot, new Error(`data loader worker ${index} exited with code ${code}`));
    });
    slot.worker = worker;
    return worker;
  }

  private failPending(slot: Slot, err: Error): void {
    for (const { job, reject } of slot.pending.values()) {
      reject(new Error(`${err.message} while loading ${job.path}`));
    }
    slot.pending.clear();
  }
}

/** FNV-1a: a stable, well-spread worker choice per file. */
function hashPath(p: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < p.length; i++) {
    h ^= p.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
