/**
 * Batches a dataset like the reference's CustomDatasetDataLoader (torch DataLoader: shuffle unless
 * --serial_batches, drop_last false, stop once i * batch_size >= --max_dataset_size).
 *
 * Every random number is drawn in the main thread, sample by sample in batch order (the shuffle at the start
 * of an epoch, then each item's draws), so results do not depend on --num_threads. With --num_threads N > 0
 * decoding and transforms run in N worker threads, each caching its share of the decoded (resized, not yet
 * cropped) images, and the next batches are planned and prepared while the current one trains — so their draws
 * happen early: give the loader an Rng of its own if the training loop draws from one too (the reference's
 * worker processes have their own RNG streams as well). With --num_threads 0 everything runs in the main
 * thread and a batch is prepared only when asked for, so the dataset's draws interleave with the training
 * loop's exactly as in the reference's single-process loader.
 */
import { expected } from '../options/option_errors';
import { DataOptions, Dataset } from './base_dataset';
import { DEFAULT_CACHE_BUDGET_BYTES, DecodedImageCache } from './image_cache';
import { ImageFileError } from './image_errors';
import { assembleSample, JobResult, printWarningOnce, runImageJob, Sample, SamplePlan } from './load_job';
import { Rng } from './transforms';
import { ImageWorkerPool } from './worker_pool';

/** One batch: tensors stacked along a new first dimension (N×C×H×W, row-major). */
export interface Batch {
  A: Float32Array;
  B?: Float32Array;
  shapeA: [number, number, number, number];
  shapeB?: [number, number, number, number];
  A_paths: string[];
  B_paths?: string[];
}

/** Chooses which items an epoch visits, in order (the DistributedSampler of data-parallel training). */
export interface Sampler {
  /** Items per epoch for a dataset of `datasetLength` items. */
  numSamples(datasetLength: number): number;
  /** The indices of the epoch about to start (asked once per epoch). */
  indices(datasetLength: number): number[];
}

export interface DataLoaderOptions {
  /** Source of the shuffle; defaults to the dataset's Rng. */
  rng?: Rng;
  /** Replaces the loader's own order (0..n-1, shuffled unless --serial_batches) when given. */
  sampler?: Sampler;
  /** Decoded images kept in memory across epochs, in bytes (all workers together; default 2 GiB). */
  cacheBudgetBytes?: number;
  /** Batches prepared ahead of the consumer when --num_threads > 0 (default: 2, or enough for 2 items per worker). */
  prefetchBatches?: number;
  /** Where warnings about skipped images go (default console.warn). */
  warn?: (message: string) => void;
}

export interface DataLoaderStats {
  /** Files read and decoded. */
  decoded: number;
  /** Files served entirely from the decoded-image cache. */
  cacheHits: number;
  /** Items skipped because of a bad image (--skip_bad_images). */
  skipped: number;
}

/** Outcome of preparing one item, kept as data so a failure in a prefetched batch is never an unhandled rejection. */
type ItemOutcome = { ok: true; sample: Sample } | { ok: false; error: Error };

export class DataLoader implements AsyncIterable<Batch> {
  /** Items per epoch as the reference reports it: min(len(dataset), max_dataset_size). */
  readonly length: number;
  /** Batches per epoch. */
  readonly batchesPerEpoch: number;
  private readonly rng: Rng;
  private readonly sampler: Sampler | null;
  private readonly pool: ImageWorkerPool | null;
  private readonly cache: DecodedImageCache | null;
  private readonly prefetch: number;
  private readonly warn: (message: string) => void;
  private readonly reportedBadFiles = new Set<string>();
  private readonly counters: DataLoaderStats = { decoded: 0, cacheHits: 0, skipped: 0 };

  constructor(
    readonly opt: DataOptions,
    readonly dataset: Dataset,
    options: DataLoaderOptions = {},
  ) {
    const { batch_size, num_threads, max_dataset_size } = opt;
    if (!Number.isInteger(batch_size) || batch_size < 1) throw expected('an integer >= 1', '--batch_size', batch_size);
    if (!Number.isInteger(num_threads) || num_threads < 0) throw expected('an integer >= 0', '--num_threads', num_threads);
    if (!(max_dataset_size >= 0)) throw expected('a number >= 0 or inf', '--max_dataset_size', max_dataset_size);
    this.rng = options.rng ?? dataset.rng;
    this.sampler = options.sampler ?? null;
    this.length = Math.min(dataset.length, max_dataset_size);
    const items = this.sampler ? this.sampler.numSamples(dataset.length) : dataset.length;
    const batchesOverDataset = Math.ceil(items / batch_size);
    this.batchesPerEpoch = Math.min(batchesOverDataset, Math.ceil(max_dataset_size / batch_size));
    const budget = options.cacheBudgetBytes ?? DEFAULT_CACHE_BUDGET_BYTES;
    this.pool = num_threads > 0 ? new ImageWorkerPool(num_threads, budget) : null;
    this.cache = num_threads > 0 ? null : new DecodedImageCache(budget);
    // enough items in flight to keep every worker busy: at least two batches and two items per worker
    const defaultPrefetch = Math.max(2, Math.ceil((2 * num_threads) / batch_size));
    this.prefetch = num_threads > 0 ? Math.max(1, options.prefetchBatches ?? defaultPrefetch) : 0;
    this.warn = options.warn ?? ((m) => console.warn(m));
  }

  stats(): DataLoaderStats {
    return { ...this.counters };
  }

  /** Stops the worker threads (idle workers never keep the process alive, but this frees them now). */
  async close(): Promise<void> {
    await this.pool?.close();
    this.cache?.clear();
  }

  /** One epoch. */
  async *[Symbol.asyncIterator](): AsyncIterator<Batch> {
    const order = this.epochOrder();
    const bs = this.opt.batch_size;
    const batchIndices = (b: number) => order.slice(b * bs, (b + 1) * bs);
    if (!this.pool) {
      for (let b = 0; b < this.batchesPerEpoch; b++) {
        const outcomes: ItemOutcome[] = [];
        for (const index of batchIndices(b)) outcomes.push(await this.prepareLocally(index));
        const batch = this.collate(outcomes);
        if (batch) yield batch;
      }
      return;
    }
    // planning is sequential (random draws in order); decoding of planned items runs in the workers
    const inFlight: Promise<ItemOutcome[]>[] = [];
    let planned = Promise.resolve();
    const schedule = (b: number) => {
      const items: Promise<ItemOutcome>[] = [];
      const ready = planned.then(async () => {
        for (const index of batchIndices(b)) items.push((await this.dispatch(index)).outcome);
      });
      planned = ready;
      inFlight.push(ready.then(() => Promise.all(items)));
    };
    let next = 0;
    for (; next < Math.min(this.prefetch + 1, this.batchesPerEpoch); next++) schedule(next);
    for (let b = 0; b < this.batchesPerEpoch; b++) {
      const outcomes = await inFlight.shift()!;
      if (next < this.batchesPerEpoch) schedule(next++);
      const batch = this.collate(outcomes);
      if (batch) yield batch;
    }
  }

  /** Indices of one epoch: the sampler's, or 0..n-1 shuffled like Python's random.shuffle unless --serial_batches. */
  private epochOrder(): number[] {
    if (this.sampler) return this.sampler.indices(this.dataset.length);
    const order = Array.from({ length: this.dataset.length }, (_, i) => i);
    if (!this.opt.serial_batches) {
      for (let i = order.length - 1; i > 0; i--) {
        const j = this.rng.randint(0, i);
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    return order;
  }

  private async prepareLocally(index: number): Promise<ItemOutcome> {
    try {
      const plan = await this.dataset.plan(index);
      const results = plan.jobs.map((job) => runImageJob(job, this.cache!));
      return { ok: true, sample: this.finish(plan, results) };
    } catch (err) {
      return { ok: false, error: asError(err) };
    }
  }

  /**
   * Plans one item now and starts decoding it in the workers. The pending outcome is wrapped in an object:
   * an async function returning a bare promise would wait for it.
   */
  private async dispatch(index: number): Promise<{ outcome: Promise<ItemOutcome> }> {
    let plan: SamplePlan;
    try {
      plan = await this.dataset.plan(index);
    } catch (err) {
      return { outcome: Promise.resolve({ ok: false, error: asError(err) }) };
    }
    const pool = this.pool!;
    const outcome = Promise.all(plan.jobs.map((job) => pool.run(job))).then(
      (results): ItemOutcome => ({ ok: true, sample: this.finish(plan, results) }),
      (err): ItemOutcome => ({ ok: false, error: asError(err) }),
    );
    return { outcome };
  }

  private finish(plan: SamplePlan, results: JobResult[]): Sample {
    for (const r of results) {
      if (r.cacheHit) this.counters.cacheHits++;
      else this.counters.decoded++;
      for (const w of r.warnings) printWarningOnce('make_power_2', w);
    }
    return assembleSample(plan, results);
  }

  /** Stacks a batch's items; bad images are skipped with a warning under --skip_bad_images, else they stop the epoch. */
  private collate(outcomes: ItemOutcome[]): Batch | null {
    const samples: Sample[] = [];
    for (const outcome of outcomes) {
      if (outcome.ok) {
        samples.push(outcome.sample);
        continue;
      }
      const { error } = outcome;
      if (!(error instanceof ImageFileError) || !this.opt.skip_bad_images) throw error;
      this.counters.skipped++;
      if (!this.reportedBadFiles.has(error.file)) {
        this.reportedBadFiles.add(error.file);
        this.warn(`Skipping a bad image (--skip_bad_images): ${error.message}`);
      }
    }
    if (samples.length === 0) return null;
    return stackSamples(samples);
  }
}

/** The reference's entry point: create_dataset(opt) wraps the dataset in its loader. */
export function createDataLoader(opt: DataOptions, dataset: Dataset, options?: DataLoaderOptions): DataLoader {
  return new DataLoader(opt, dataset, options);
}

/** default_collate: stack same-shaped CHW tensors into N×C×H×W. */
export function stackSamples(samples: Sample[]): Batch {
  const first = samples[0];
  const A = stack(samples, 'A');
  const batch: Batch = {
    A: A.data,
    shapeA: A.shape,
    A_paths: samples.map((s) => s.A_paths),
  };
  if (first.B) {
    const B = stack(samples, 'B');
    batch.B = B.data;
    batch.shapeB = B.shape;
    batch.B_paths = samples.map((s) => s.B_paths ?? s.A_paths);
  }
  return batch;
}

function stack(samples: Sample[], key: 'A' | 'B'): { data: Float32Array; shape: [number, number, number, number] } {
  const shapeKey = key === 'A' ? 'shapeA' : 'shapeB';
  const pathKey = key === 'A' ? 'A_paths' : 'B_paths';
  const shape = samples[0][shapeKey]!;
  const size = shape[0] * shape[1] * shape[2];
  if (samples.length === 1) return { data: samples[0][key]!, shape: [1, ...shape] };
  const data = new Float32Array(size * samples.length);
  samples.forEach((s, i) => {
    const t = s[key];
    const sShape = s[shapeKey];
    if (!t || !sShape || sShape.some((d, k) => d !== shape[k])) {
      throw new Error(
        `cannot stack images of different sizes into one batch: ${samples[0][pathKey]} gives ${key} ${shape.join('x')} ` +
          `but ${s[pathKey]} gives ${sShape ? sShape.join('x') : 'nothing'}; use --batch_size 1 or a --preprocess that crops to --crop_size`,
      );
    }
    data.set(t, i * size);
  });
  return { data, shape: [samples.length, ...shape] };
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
