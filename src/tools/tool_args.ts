/**
 * Plumbing shared by the dataset tools (download, combine, make-aligned, check-data): flag parsing with the
 * project's OptionParser plus positional arguments, the exit-code convention of the CLI, a bounded async map,
 * and a small worker-thread pool for the per-image work (decode, concatenate, encode), which is CPU-bound.
 */
import * as fs from 'fs';
import * as os from 'os';
import { isMainThread, parentPort, Worker, workerData } from 'worker_threads';
import { HelpRequested, OptionError } from '../options/option_errors';
import { OptionParser, OptionValues } from '../options/option_parser';

export interface ParsedToolArgs {
  values: OptionValues;
  /** Non-flag tokens, in order. */
  positionals: string[];
}

export interface ToolArgsSpec {
  /** Accepted spellings mapped to the declared flag, e.g. the reference's `--dataset-path` → `--dataset_path`. */
  aliases?: Readonly<Record<string, string>>;
  /** How many positional arguments the command takes (default 0); more is a usage error. */
  maxPositionals?: number;
}

/**
 * Parses `args` with `parser`: --help throws HelpRequested with the help text, unknown flags and surplus
 * positionals throw an OptionError naming them (with a "did you mean" when a flag is close to a known one).
 */
export function parseToolArgs(parser: OptionParser, args: readonly string[], spec: ToolArgsSpec = {}): ParsedToolArgs {
  const aliases = spec.aliases ?? {};
  const rewritten = args.map((token) => {
    const [flag, ...rest] = token.split('=');
    const alias = aliases[flag];
    return alias ? [alias, ...rest].join('=') : token;
  });
  if (rewritten.includes('--help') || rewritten.includes('-h')) throw new HelpRequested(parser.formatHelp());
  const known = parser.parseKnown(rewritten);
  if (known.unknownFlags.length > 0) {
    const flag = known.unknownFlags[0];
    const suggestion = parser.suggest(flag);
    throw new OptionError(`unrecognized arguments: ${known.unknownFlags.join(' ')}${suggestion ? ` (did you mean ${suggestion}?)` : ''}`, flag);
  }
  const positionals = known.extras;
  const max = spec.maxPositionals ?? 0;
  if (positionals.length > max) {
    throw new OptionError(`unrecognized arguments: ${positionals.slice(max).join(' ')}`, positionals[max]);
  }
  return { values: known.values, positionals };
}

/** Where a command writes its report and its errors (replaceable in tests). */
export interface ToolIO {
  out(line: string): void;
  err(line: string): void;
  /** The stream progress bars draw on. */
  progress: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export const PROCESS_IO: ToolIO = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  progress: process.stderr,
};

/**
 * Runs a tool command with the CLI's exit codes: 0 done, 1 failed, 2 usage error (bad flag or value);
 * --help prints the help text and returns 0.
 */
export async function runTool(name: string, io: ToolIO, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof HelpRequested) {
      io.out(err.helpText.replace(/\n$/, ''));
      return 0;
    }
    if (err instanceof OptionError) {
      io.err(`img2img ${name}: error: ${err.message}`);
      return 2;
    }
    io.err(`img2img ${name}: ${err instanceof Error ? err.message : String(err)}`);
    if (process.env.IMG2IMG_DEBUG && err instanceof Error) io.err(String(err.stack));
    return 1;
  }
}

export { listSome, plural } from '../util/text';

/** Cores available to this process (at least 1). */
export function defaultWorkerCount(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, cores);
}

/** `fn` over `items` with at most `limit` calls in flight; results in input order. The first rejection rejects. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  });
  await Promise.all(lanes);
  return results;
}

// ---------------------------------------------------------------------------------------------------------
// Worker threads: a module that wants workers calls serveToolWorker(role, handler) at its top level, and the
// main thread starts `new ToolWorkerPool(__filename, role, n)`. Requests and replies are structured-cloned.

interface ToolRequest<Req> {
  id: number;
  request: Req;
}

type ToolReply<Res> = { id: number; ok: true; result: Res } | { id: number; ok: false; message: string };

interface ToolWorkerData {
  toolWorkerRole: string;
}

/** True when the compiled module can be started as a worker (not when running from .ts sources). */
export function canStartWorkers(script: string): boolean {
  return script.endsWith('.js') && fs.existsSync(script);
}

/** Inside a worker started for `role`: answers each request with `handler`. Does nothing elsewhere. */
export function serveToolWorker<Req, Res>(role: string, handler: (request: Req) => Promise<Res> | Res): void {
  if (isMainThread || !parentPort) return;
  const data = workerData as Partial<ToolWorkerData> | undefined;
  if (data?.toolWorkerRole !== role) return;
  const port = parentPort;
  port.on('message', async (message: ToolRequest<Req>) => {
    let reply: ToolReply<Res>;
    try {
      reply = { id: message.id, ok: true, result: await handler(message.request) };
    } catch (err) {
      reply = { id: message.id, ok: false, message: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(reply);
  });
}

interface Pending<Res> {
  resolve(result: Res): void;
  reject(err: Error): void;
}

/** A fixed number of worker threads running one module's handler; each job goes to the least busy worker. */
export class ToolWorkerPool<Req, Res> {
  private readonly workers: Array<{ worker: Worker; pending: Map<number, Pending<Res>> }> = [];
  private nextId = 0;
  private closed = false;

  constructor(script: string, role: string, size: number) {
    if (!canStartWorkers(script)) throw new Error(`worker script ${script} is not compiled JavaScript; build with "npx tsc -p ."`);
    for (let i = 0; i < Math.max(1, size); i++) {
      const data: ToolWorkerData = { toolWorkerRole: role };
      const worker = new Worker(script, { workerData: data });
      const slot = { worker, pending: new Map<number, Pending<Res>>() };
      worker.on('message', (reply: ToolReply<Res>) => {
        const pending = slot.pending.get(reply.id);
        if (!pending) return;
        slot.pending.delete(reply.id);
        if (reply.ok) pending.resolve(reply.result);
        else pending.reject(new Error(reply.message));
        if (slot.pending.size === 0) worker.unref();
      });
      const failAll = (err: Error) => {
        for (const pending of slot.pending.values()) pending.reject(err);
        slot.pending.clear();
      };
      worker.on('error', (err) => failAll(err));
      worker.on('exit', (code) => {
        if (!this.closed) failAll(new Error(`a worker thread exited unexpectedly (code ${code})`));
      });
      worker.unref();
      this.workers.push(slot);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  run(request: Req): Promise<Res> {
    if (this.closed) return Promise.reject(new Error('the worker pool was closed'));
    let slot = this.workers[0];
    for (const candidate of this.workers) if (candidate.pending.size < slot.pending.size) slot = candidate;
    const id = this.nextId++;
    return new Promise<Res>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.ref();
      const message: ToolRequest<Req> = { id, request };
      slot.worker.postMessage(message);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((slot) => slot.worker.terminate()));
  }
}

/**
 * Runs `handler` over `requests`, in `workers` threads of `script` when workers > 1 and the script is compiled,
 * else on this thread one at a time. Reports each finished item through `onDone`.
 */
export async function runParallel<Req, Res>(
  script: string,
  role: string,
  requests: readonly Req[],
  handler: (request: Req) => Promise<Res>,
  workers: number,
  onDone?: (result: Res, index: number) => void,
): Promise<Res[]> {
  const threads = Math.min(workers, requests.length);
  if (threads <= 1 || !canStartWorkers(script)) {
    const results: Res[] = [];
    for (let i = 0; i < requests.length; i++) {
      results.push(await handler(requests[i]));
      onDone?.(results[i], i);
    }
    return results;
  }
  const pool = new ToolWorkerPool<Req, Res>(script, role, threads);
  try {
    // two jobs per worker in flight keeps each busy while the main thread collects replies
    return await mapLimit(requests, threads * 2, async (request, index) => {
      const result = await pool.run(request);
      onDone?.(result, index);
      return result;
    });
  } finally {
    await pool.close();
  }
}

/** "label 120/400" redrawn on a terminal (at most every 100 ms); silent when the stream is a file or pipe. */
export function counter(io: ToolIO, label: string, total: number): { tick(done: number): void; end(): void } {
  const stream = io.progress;
  let last = 0;
  let drawn = false;
  const draw = (done: number) => {
    stream.write(`\r${label} ${done}/${total}`);
    drawn = true;
  };
  return {
    tick(done: number) {
      if (!stream.isTTY) return;
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      draw(done);
    },
    end() {
      if (stream.isTTY && drawn) stream.write(`\r${' '.repeat(label.length + 2 * String(total).length + 2)}\r`);
    },
  };
}
