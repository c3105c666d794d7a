/**
 * A time-bounded, mutation-based fuzzer. Each input runs in a child process (worker.ts) with a deadline: an input
 * that does not finish in time is a hang (the child is killed and replaced), one that kills the child is a
 * crash, one that makes it use more memory than allowed is a memory finding, one that fails with anything but a
 * clean error (targets.ts) is a bug. Every such input is saved to
 * `outDir` as `<kind>-<target>-<sha256 prefix>.bin`, with a `.txt` saying what happened, so it can be replayed
 * and kept as a regression test. The unmutated seeds run first.
 */
import { ChildProcess, fork } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { mutate, Rng } from './mutate';
import type { Seed } from './seeds';
import type { TargetName } from './targets';
import type { WorkerReply, WorkerRequest } from './worker';

export interface FuzzOptions {
  seconds: number;
  /** Deadline of one input (default 5000 ms). */
  perInputMs?: number;
  /** Where findings are saved (created when there is one). */
  outDir: string;
  seeds: Partial<Record<TargetName, Seed[]>>;
  /** PRNG seed (default: from the clock; printed in the report, so a run can be repeated). */
  seed?: number;
  /** Resident memory the child may use, in MB (default 1024); an input that needs more is a finding. */
  maxRssMb?: number;
  log?: (line: string) => void;
}

export type FindingKind = 'hang' | 'crash' | 'unclean' | 'memory';

export interface Finding {
  kind: FindingKind;
  target: TargetName;
  file: string;
  detail: string;
}

export interface FuzzReport {
  seed: number;
  inputs: number;
  byTarget: Record<string, { inputs: number; ok: number; clean: number }>;
  findings: Finding[];
  seconds: number;
}

type Outcome = { kind: 'ok' } | { kind: 'clean' } | { kind: FindingKind; detail: string };

const WORKER = path.join(__dirname, 'worker.js');

/** Resident memory of a process in MB, from /proc (null where there is none: the check is then skipped). */
function rssMb(pid: number): number | null {
  try {
    const pages = Number(fs.readFileSync(`/proc/${pid}/statm`, 'latin1').split(' ')[1]);
    return (pages * 4096) / 2 ** 20;
  } catch {
    return null;
  }
}

/** How often the child's memory is sampled while an input runs. */
const MEMORY_POLL_MS = 20;

/** One child process, restarted after a hang, crash or memory blow-up. */
class Worker {
  private child: ChildProcess | null = null;
  private nextId = 1;

  constructor(private readonly maxRssMb: number) {}

  private async start(): Promise<ChildProcess> {
    const child = fork(WORKER, [], {
      execArgv: [`--max-old-space-size=${this.maxRssMb}`],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { ...process.env, IMG2IMG_THREADS: '1' },
    });
    child.stderr!.resume(); // a crashing child may print a lot; it is reported from its exit instead
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code, signal) => reject(new Error(`the fuzz worker exited at start (${signal ?? code})`)));
    });
    child.removeAllListeners('exit');
    return child;
  }

  async run(target: TargetName, input: Buffer, deadlineMs: number): Promise<Outcome> {
    if (!this.child) this.child = await this.start();
    const child = this.child;
    const id = this.nextId++;
    return new Promise<Outcome>((resolve) => {
      const done = (outcome: Outcome, restart: boolean) => {
        clearTimeout(timer);
        clearInterval(memory);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (restart) {
          child.kill('SIGKILL');
          this.child = null;
        }
        resolve(outcome);
      };
      const onMessage = (reply: WorkerReply) => {
        if (reply.id !== id) return;
        if (reply.outcome === 'unclean') done({ kind: 'unclean', detail: reply.stack ?? reply.message ?? '' }, false);
        else done({ kind: reply.outcome }, false);
      };
      const onExit = (code: number | null, signal: string | null) => done({ kind: 'crash', detail: `the worker died (${signal ?? `exit code ${code}`})` }, true);
      const timer = setTimeout(() => done({ kind: 'hang', detail: `no result after ${deadlineMs} ms` }, true), deadlineMs);
      // sampled from outside: a decoder stuck in one synchronous allocation cannot report on itself
      const memory = setInterval(() => {
        const mb = child.pid !== undefined ? rssMb(child.pid) : null;
        if (mb !== null && mb > this.maxRssMb) done({ kind: 'memory', detail: `the worker used ${mb.toFixed(0)} MB, more than ${this.maxRssMb} MB` }, true);
      }, MEMORY_POLL_MS);
      child.on('message', onMessage);
      child.on('exit', onExit);
      child.send({ id, target, input } satisfies WorkerRequest);
    });
  }

  close(): void {
    this.child?.kill('SIGKILL');
    this.child = null;
  }
}

function saveFinding(outDir: string, kind: FindingKind, target: TargetName, input: Buffer, detail: string, from: string): string {
  fs.mkdirSync(outDir, { recursive: true });
  const base = `${kind}-${target}-${createHash('sha256').update(input).digest('hex').slice(0, 16)}`;
  fs.writeFileSync(path.join(outDir, `${base}.bin`), input);
  fs.writeFileSync(path.join(outDir, `${base}.txt`), `${kind} in target ${target} (mutated from ${from}):\n${detail}\n`);
  return path.join(outDir, `${base}.bin`);
}

/** Fuzzes the targets that have seeds, round-robin, for `seconds` (see the file comment). */
export async function fuzz(options: FuzzOptions): Promise<FuzzReport> {
  const seed = options.seed ?? (Date.now() & 0x7fffffff);
  const rng = new Rng(seed);
  const deadlineMs = options.perInputMs ?? 5000;
  const log = options.log ?? (() => undefined);
  const targets = (Object.keys(options.seeds) as TargetName[]).filter((t) => (options.seeds[t] ?? []).length > 0);
  if (targets.length === 0) throw new Error('Expected seeds for at least one fuzz target but received none');
  const worker = new Worker(options.maxRssMb ?? 1024);
  const report: FuzzReport = { seed, inputs: 0, byTarget: {}, findings: [], seconds: 0 };
  for (const t of targets) report.byTarget[t] = { inputs: 0, ok: 0, clean: 0 };
  const seen = new Set<string>();
  const started = Date.now();
  const end = started + options.seconds * 1000;

  const runOne = async (target: TargetName, input: Buffer, from: string): Promise<void> => {
    // the run ends at most one deadline after its time limit; shrinking the deadline instead would call slow inputs hangs
    const outcome = await worker.run(target, input, deadlineMs);
    report.inputs++;
    report.byTarget[target].inputs++;
    if (!('detail' in outcome)) {
      report.byTarget[target][outcome.kind]++;
      return;
    }
    const key = `${outcome.kind}:${target}:${outcome.detail.split('\n').slice(0, 2).join('|')}`;
    if (seen.has(key) && outcome.kind === 'unclean') return; // the same bug again
    seen.add(key);
    const file = saveFinding(options.outDir, outcome.kind, target, input, outcome.detail, from);
    report.findings.push({ kind: outcome.kind, target, file, detail: outcome.detail.split('\n')[0] });
    log(`${outcome.kind} in ${target} (from ${from}): ${outcome.detail.split('\n')[0]} -> ${file}`);
  };

  try {
    for (const target of targets) {
      for (const s of options.seeds[target]!) {
        if (Date.now() >= end) break;
        await runOne(target, s.data, `${s.name} (unmutated)`);
      }
    }
    for (let round = 0; Date.now() < end; round++) {
      const target = targets[round % targets.length];
      const pool = options.seeds[target]!;
      const base = rng.pick(pool);
      await runOne(target, mutate(base.data, rng.pick(pool).data, rng), base.name);
    }
  } finally {
    worker.close();
  }
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

/** Runs saved inputs again (regressions): the outcome of each, in the order given. */
export async function replay(target: TargetName, inputs: Buffer[], perInputMs = 5000): Promise<Outcome[]> {
  const worker = new Worker(1024);
  try {
    const outcomes: Outcome[] = [];
    for (const input of inputs) outcomes.push(await worker.run(target, input, perInputMs));
    return outcomes;
  } finally {
    worker.close();
  }
}
