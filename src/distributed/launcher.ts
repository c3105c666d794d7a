// img2img train --nproc_per_node N: what `torchrun --standalone --nproc_per_node N` does on one machine. Starts N
// workers with torchrun's variables, forwards SIGINT/SIGTERM to them, and fails when any of them fails.
import { ChildProcess, spawn } from 'child_process';
import * as net from 'net';
import * as os from 'os';
import { DEFAULT_DIST_TIMEOUT_MS } from './env';

export interface LaunchOptions {
  /** Worker processes. */
  nproc: number;
  /** What each worker runs: [executable, ...args]. */
  command: readonly string[];
  /** Base environment of the workers (default: this process's). */
  env?: NodeJS.ProcessEnv;
  masterAddr?: string;
  /** Default: a free port on masterAddr. */
  masterPort?: number;
  /** After the first failure, survivors get this long to fail by themselves before they are killed. */
  graceMs?: number;
  log?: (line: string) => void;
}

/** A port nobody listens on right now (the OS picks it; torchrun does the same). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The workers' environment: torchrun's variables, and the machine's cores shared out unless threads were chosen. */
export function workerEnv(base: NodeJS.ProcessEnv, rank: number, nproc: number, masterAddr: string, masterPort: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...base,
    WORLD_SIZE: String(nproc), RANK: String(rank), LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: String(nproc),
    GROUP_RANK: '0', MASTER_ADDR: masterAddr, MASTER_PORT: String(masterPort),
  };
  if (!base.OMP_NUM_THREADS && !base.IMG2IMG_THREADS) env.OMP_NUM_THREADS = String(Math.max(1, Math.floor(os.cpus().length / nproc)));
  return env;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/**
 * Runs the workers; resolves to 0 when all succeed, else the exit status of the cause: the first rank killed by a
 * signal (128 + its number) if any, since the others then fail only because their peer vanished (and which of
 * those exits is seen first is a race), otherwise the first non-zero exit code.
 */
export async function launchWorkers(opts: LaunchOptions): Promise<number> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const masterAddr = opts.masterAddr ?? '127.0.0.1';
  const masterPort = opts.masterPort ?? await freePort(masterAddr);
  const base = opts.env ?? process.env;
  const timeoutMs = Number(base.IMG2IMG_DIST_TIMEOUT_MS) > 0 ? Number(base.IMG2IMG_DIST_TIMEOUT_MS) : DEFAULT_DIST_TIMEOUT_MS;
  const graceMs = opts.graceMs ?? timeoutMs + 10_000;
  const [exe, ...args] = opts.command;
  const firstEnv = workerEnv(base, 0, opts.nproc, masterAddr, masterPort);
  log(`img2img: starting ${opts.nproc} worker processes (WORLD_SIZE=${opts.nproc}, MASTER_ADDR=${masterAddr}, MASTER_PORT=${masterPort}, ` +
    `${firstEnv.OMP_NUM_THREADS ?? firstEnv.IMG2IMG_THREADS ?? 'all'} thread(s) each)`);

  const children: ChildProcess[] = [];
  let failure: number | null = null;
  let killed: number | null = null;
  let backstopFired = false; // signals we sent ourselves are no cause
  let killTimer: NodeJS.Timeout | null = null;
  // Each worker gets its own process group, so a terminal's Ctrl-C reaches it once, through us.
  const forward = (sig: NodeJS.Signals) => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(sig); };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    const exits = Array.from({ length: opts.nproc }, (_, rank) => new Promise<void>((resolve) => {
      const child = spawn(exe, args, { env: workerEnv(base, rank, opts.nproc, masterAddr, masterPort), stdio: 'inherit', detached: true });
      children.push(child);
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        const status = code ?? 128 + (signal ? SIGNAL_NUMBERS[signal] ?? 1 : 1);
        if (status !== 0) {
          log(`img2img: rank ${rank} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`);
          if (signal && killed === null && !backstopFired) killed = status;
          if (failure === null) {
            failure = status;
            // Survivors fail by themselves within the group timeout (at once when the connection drops); this is a backstop.
            killTimer = setTimeout(() => { backstopFired = true; forward('SIGKILL'); }, graceMs);
          }
        }
        resolve();
      };
      child.once('exit', done);
      child.once('error', (err) => { log(`img2img: rank ${rank} could not start: ${err.message}`); done(127, null); });
    }));
    await Promise.all(exits);
    return killed ?? failure ?? 0;
  } finally {
    if (killTimer) clearTimeout(killTimer);
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  }
}
