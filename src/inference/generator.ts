// The embedding API: load a trained generator once, translate many images without stalling the host app.
//   const g = await loadGenerator('./checkpoints/facades');      // a run folder or a .pth/.safetensors file
//   const png = await g.translate('photo.jpg');                   // path, encoded Buffer, or raw pixels
// Every step of a translation (decode, conversion, normalization, padding/tiling, forward, encode) runs in the
// generator's own worker thread; the caller's thread only posts the input and receives the result.
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { Device } from '../device';
import { DEFAULT_MAX_IMAGE_PIXELS } from '../data/image_io';
import { AbortError, abortErrorOf, deserializeError, GeneratorDisposedError } from '../errors';
import { Network, NetworkDescription } from '../networks';
import { getNumThreads, resolveDevice } from '../runtime';
import { checkPrecision, Precision } from '../precision';
import { OptionError } from '../options/option_errors';
import { createForwardGate } from './forward_gate';
import { GENERATOR_WORKER_ROLE, GeneratorReply, GeneratorRequest, GeneratorWorkerData } from './generator_worker';
import { ArchitectureOptions, buildGenerator, findCheckpointFile } from './load_network';
import { pickArchitecture } from '../checkpoint/run_checkpoints';
import { sizeMultiple } from '../architectures';
import type { JobOptions, OutputFormat, RawPixels, TileOptions, TranslateInput } from './translate_job';
import { splitInput } from './input_pieces';

export type { RawPixels, TranslateInput, TileOptions, OutputFormat } from './translate_job';
export { DEFAULT_MAX_FORWARD_BYTES, forwardBytesPerPixel } from './translate_job';
import { DEFAULT_MAX_FORWARD_BYTES } from './translate_job';

/** Compiled worker entry, next to this file (dist/src/inference/generator_worker.js). */
const WORKER_SCRIPT = path.join(__dirname, 'generator_worker.js');

/** One gate for every generator of this thread: one forward at a time (see forward_gate.ts). */
const FORWARD_GATE = createForwardGate(1);

/** Generator.translate()'s options; `F` fixes the result type. */
export interface TranslateOptions<F extends OutputFormat = OutputFormat> {
  /** 'png' (default) or 'jpeg' give an encoded Buffer; 'raw' gives RawPixels (uint8). */
  output?: F;
  /** JPEG quality (1-100, default 90). */
  quality?: number;
  /** Translate in tiles of bounded size (large images in bounded memory). */
  tile?: TileOptions;
  /** Overrides the generator's mode for this call. */
  mode?: 'eval' | 'train';
  /** Overrides the generator's precision for this call ('fp32', 'bf16', 'fp16'; checked as loadGenerator's). */
  precision?: Precision;
  /** With precision 'bf16' on a CPU that only emulates it: run it anyway instead of rejecting. */
  forcePrecision?: boolean;
  /** Receives notes such as "alpha channel dropped". */
  onNote?: (note: string) => void;
  /** Called after each tile of a tiled call with the tiles done and their total. */
  onProgress?: (done: number, total: number) => void;
  /** Aborts the call: a queued call is dropped, a running one stops before its next tile; rejects with AbortError. */
  signal?: AbortSignal;
}

/** What translate resolves with for an output format: raw pixels for 'raw', an encoded Buffer otherwise. */
export type TranslateResult<F extends OutputFormat> = F extends 'raw' ? RawPixels : Buffer;

/** Where the generator runs and how; the architecture fields (ArchitectureOptions) only override the checkpoint's description. */
export interface LoadGeneratorOptions extends ArchitectureOptions {
  /** 'cpu', 'cuda', 'cuda:N' or '' (auto: CUDA when available). */
  device?: Device;
  /**
   * 'eval' (default here): BatchNorm uses its running statistics and dropout is off, so outputs are deterministic.
   * 'train': the reference's test.py default (batch statistics and dropout active, as in the pix2pix paper).
   */
  mode?: 'eval' | 'train';
  /** Which network of a run folder: 'G' (pix2pix/test), 'G_A' or 'G_B' (CycleGAN). Default: the first found. */
  netName?: string;
  /** Checkpoint label in a run folder (default 'latest'). */
  epoch?: string | number;
  /** Decompression-bomb guard for inputs (default 50 megapixels). */
  maxImagePixels?: number;
  /**
   * Memory a single forward may take (default DEFAULT_MAX_FORWARD_BYTES, 4 GiB). Larger images are translated in
   * tiles automatically (with a note), since the pixel limit alone lets one forward take many gigabytes.
   */
  maxForwardBytes?: number;
  /**
   * Mixed precision of the forwards: 'fp32' (default), 'bf16' (CUDA, or a CPU with avx512_bf16/amx_bf16) or 'fp16'
   * (CUDA). Outputs are fp32 either way; see docs/performance.md for what each buys.
   */
  precision?: Precision;
  /** Run bf16 on a CPU that only emulates it (slower than fp32, same numerics) instead of refusing. */
  forcePrecision?: boolean;
}

interface Job {
  id: number;
  input: TranslateInput;
  options: JobOptions;
  onNote?: (note: string) => void;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
  settled: boolean;
  resolve(v: Buffer | RawPixels): void;
  reject(e: Error): void;
}

/**
 * The input as posted. The caller keeps its bytes, so they are copied; postMessage's serializer copies a view's
 * whole ArrayBuffer straight into the message (no ArrayBuffer, hence no GC pressure, on this thread), so views
 * that cover most of theirs go as they are and only small views into big buffers are cut out first.
 */
function forPosting(input: TranslateInput): TranslateInput {
  const trim = (v: Uint8Array | Uint8ClampedArray | Uint16Array) => (v.byteLength * 2 < v.buffer.byteLength ? v.slice() : v);
  if (input instanceof Uint8Array) return trim(input) as Uint8Array;
  if (input && typeof input === 'object' && 'data' in input && ArrayBuffer.isView(input.data)) {
    return { data: trim(input.data), width: input.width, height: input.height, channels: input.channels };
  }
  return input;
}

/**
 * A loaded generator, running in its own worker thread. Calls are queued and run one at a time per generator;
 * forwards of all generators share one gate so that several generators never oversubscribe the cores.
 * dispose(): calls issued before it still finish; calls after it reject with GeneratorDisposedError.
 */
export class Generator {
  readonly multiple: number;
  private readonly queue: Job[] = [];
  private current: Job | null = null;
  private nextId = 0;
  private disposed = false;
  private dead: Error | null = null;
  private localNetwork: Network | null = null;
  private released: Promise<void> | null = null;
  private releaseDone: () => void = () => undefined;
  private exited = false;

  /** Use loadGenerator(). */
  constructor(private readonly worker: Worker, readonly description: NetworkDescription, readonly device: string,
    readonly mode: 'eval' | 'train', readonly checkpoint: string, private readonly architecture: ArchitectureOptions,
    readonly precision: Precision = 'fp32') {
    this.multiple = sizeMultiple(description.arch);
    worker.unref(); // an idle generator never keeps the process alive
    worker.on('message', (m: GeneratorReply) => this.onReply(m));
    worker.on('error', (err) => this.stop(new GeneratorDisposedError(`generator worker of ${checkpoint} crashed: ${err.message}`)));
    worker.on('exit', (code) => {
      this.exited = true;
      this.stop(new GeneratorDisposedError(`generator worker of ${checkpoint} exited with code ${code}`));
      this.releaseDone(); // dispose() resolves once the worker (and its network) are gone
    });
  }

  get inputChannels(): number { return this.description.inputNc; }
  get outputChannels(): number { return this.description.outputNc ?? 3; }
  get isDisposed(): boolean { return this.disposed; }

  /**
   * The network on the calling thread, for direct forwards (loaded from the checkpoint on first use, then
   * kept until dispose). translate() does not use it: it runs the worker's copy.
   */
  get network(): Network {
    if (this.disposed) throw new GeneratorDisposedError();
    if (!this.localNetwork) {
      this.localNetwork = buildGenerator(this.checkpoint, this.architecture, this.device).network;
      this.localNetwork.train(this.mode === 'train');
      this.localNetwork.precision = this.precision;
    }
    return this.localNetwork;
  }

  /** Translates one image; resolves with an encoded image or raw pixels of exactly the input's size. */
  translate<F extends OutputFormat = 'png'>(input: TranslateInput, options?: TranslateOptions<F>): Promise<TranslateResult<F>>;
  translate(input: TranslateInput, options: TranslateOptions = {}): Promise<Buffer | RawPixels> {
    if (this.disposed) return Promise.reject(new GeneratorDisposedError());
    const { signal, onNote, onProgress, ...rest } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      return Promise.reject(new OptionError(`Expected an AbortSignal for signal but received ${String(signal)}`, 'signal'));
    }
    if (signal?.aborted) return Promise.reject(abortErrorOf(signal, 'translate'));
    const { forcePrecision, ...jobOptions } = rest;
    if (jobOptions.precision !== undefined) {
      try { checkPrecision(jobOptions.precision, this.device, { force: forcePrecision }); } catch (e) { return Promise.reject(e); }
    }
    return new Promise<Buffer | RawPixels>((resolve, reject) => {
      const job: Job = { id: this.nextId++, input, options: jobOptions, onNote, onProgress, signal, settled: false, resolve, reject };
      if (signal) {
        job.onAbort = () => this.abort(job);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.pump();
    });
  }

  /**
   * Stops taking calls. Calls already issued finish (or fail) as they would have; then the worker and the
   * network are released. Resolves when they are. Later calls reject with GeneratorDisposedError.
   */
  dispose(): Promise<void> {
    if (!this.released) {
      this.disposed = true;
      this.released = this.exited ? Promise.resolve() : new Promise((r) => { this.releaseDone = r; });
      this.localNetwork?.dispose();
      this.localNetwork = null;
      this.releaseIfIdle();
    }
    return this.released;
  }

  private pump(): void {
    if (this.current || this.dead) return;
    const job = this.queue.shift();
    if (!job) { this.releaseIfIdle(); return; }
    this.current = job;
    this.worker.ref(); // keep the process alive while a call is out
    const split = splitInput(job.input);
    const req: GeneratorRequest = { type: 'translate', id: job.id, input: split ? split.head : forPosting(job.input), options: { ...job.options, progress: !!job.onProgress } };
    try {
      this.worker.postMessage(req);
    } catch (err) {
      this.current = null;
      this.settle(job, err as Error);
      this.pump();
      return;
    }
    if (split) void this.postPieces(job, split.pieces());
  }

  /** A big input's pieces, one per event-loop turn (input_pieces.ts); an abort stops them (the worker then answers the cancel). */
  private async postPieces(job: Job, pieces: Iterable<Uint8Array>): Promise<void> {
    for (const piece of pieces) {
      if (job.settled || this.dead || this.current !== job) return;
      this.worker.postMessage({ type: 'input-piece', id: job.id, piece } satisfies GeneratorRequest, [piece.buffer as ArrayBuffer]);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private abort(job: Job): void {
    const err = abortErrorOf(job.signal!, 'translate');
    const i = this.queue.indexOf(job);
    if (i >= 0) this.queue.splice(i, 1); // queued: dropped before it reaches the worker
    else if (this.current === job) this.worker.postMessage({ type: 'cancel', id: job.id } satisfies GeneratorRequest);
    this.settle(job, err); // a running job stays current until the worker answers (one job at a time there)
    if (i >= 0) this.releaseIfIdle();
  }

  private onReply(m: GeneratorReply): void {
    if (m.type === 'ready' || m.type === 'load-failed') return;
    const job = this.current;
    if (!job || job.id !== m.id) return;
    if (m.type === 'progress') { if (!job.settled) job.onProgress?.(m.done, m.total); return; }
    this.current = null;
    this.worker.unref();
    if (!job.settled) for (const n of m.notes) job.onNote?.(n);
    if (m.type === 'failed') this.settle(job, deserializeError(m.error));
    else if ('encoded' in m.output) this.settle(job, null, Buffer.from(m.output.encoded.buffer, m.output.encoded.byteOffset, m.output.encoded.byteLength));
    else this.settle(job, null, m.output.raw);
    this.pump();
  }

  private settle(job: Job, err: Error | null, value?: Buffer | RawPixels): void {
    if (job.settled) return;
    job.settled = true;
    if (job.onAbort) job.signal!.removeEventListener('abort', job.onAbort);
    if (err) job.reject(err instanceof AbortError || !job.signal?.aborted ? err : abortErrorOf(job.signal, 'translate'));
    else job.resolve(value!);
  }

  private releaseIfIdle(): void {
    if (!this.disposed || this.current || this.queue.length) return;
    if (this.dead) return;
    this.dead = new GeneratorDisposedError();
    this.worker.ref(); // until it has exited, so that awaiting dispose() always resolves
    this.worker.postMessage({ type: 'dispose' } satisfies GeneratorRequest);
  }

  /** The worker is gone: everything still pending fails with `err`. */
  private stop(err: Error): void {
    if (this.dead) return;
    this.dead = err;
    this.disposed = true;
    const pending = [...(this.current ? [this.current] : []), ...this.queue];
    this.current = null;
    this.queue.length = 0;
    for (const job of pending) this.settle(job, err);
  }
}

/**
 * Loads a generator from a run folder (./checkpoints/<name>) or a checkpoint file (.pth from the reference or
 * from us, or .safetensors). Self-describing checkpoints need no architecture options; others are recognised
 * from their keys and shapes, or described by the options. Reading and building happen in the worker thread.
 */
export async function loadGenerator(pathOrDir: string, options: LoadGeneratorOptions = {}): Promise<Generator> {
  const maxForwardBytes = options.maxForwardBytes ?? DEFAULT_MAX_FORWARD_BYTES;
  if (!(maxForwardBytes > 0)) throw new OptionError(`Expected a positive number of bytes for maxForwardBytes but received ${maxForwardBytes}`, 'maxForwardBytes');
  const file = findCheckpointFile(pathOrDir, options);
  const mode = options.mode ?? 'eval';
  if (mode !== 'eval' && mode !== 'train') throw new OptionError(`Expected 'eval' or 'train' for mode but received '${String(mode)}'`, 'mode');
  const precision = checkPrecision(options.precision, resolveDevice(options.device ?? ''), { force: options.forcePrecision });
  const architecture = pickArchitecture(options);
  const data: GeneratorWorkerData = {
    role: GENERATOR_WORKER_ROLE, file, architecture, device: options.device ?? '', mode, precision,
    maxImagePixels: options.maxImagePixels ?? DEFAULT_MAX_IMAGE_PIXELS, maxForwardBytes, threads: getNumThreads(), gate: FORWARD_GATE,
  };
  if (!fs.existsSync(WORKER_SCRIPT)) {
    throw new Error(`generator worker script ${WORKER_SCRIPT} not found: generators run from compiled JavaScript; build it with "npx tsc -p ."`);
  }
  const worker = new Worker(WORKER_SCRIPT, { workerData: data });
  const ready = await new Promise<Extract<GeneratorReply, { type: 'ready' }>>((resolve, reject) => {
    const onExit = (code: number) => reject(new Error(`generator worker for ${file} exited with code ${code} while loading`));
    worker.once('error', reject);
    worker.once('exit', onExit);
    worker.once('message', (m: GeneratorReply) => {
      worker.off('error', reject);
      worker.off('exit', onExit);
      if (m.type === 'ready') resolve(m);
      else {
        void worker.terminate();
        reject(m.type === 'load-failed' ? deserializeError(m.error) : new Error(`unexpected ${m.type} from generator worker`));
      }
    });
  });
  return new Generator(worker, ready.description, ready.device, mode, file, architecture, precision);
}
