/**
 * Shared pieces of the reliability tests (issue 7): `img2img` in a child process (so that it can be killed, signalled
 * or fail without taking mocha down), tiny datasets, polling instead of fixed sleeps, and checks on saved files.
 */
import { ChildProcess, spawn } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import { readStateDictRaw } from '../../src/checkpoint';
import { REPO_ROOT, SHARED } from '../helpers/paths';

export const CLI = path.join(REPO_ROOT, 'bin/img2img.js');
export const BAD_INPUTS = path.join(SHARED, 'fixtures/bad_inputs');
export const PWNED_MARKER = '/tmp/img2img_pwned_marker';

/** The smallest pix2pix that still exercises everything: unet_128 at 128x128, 8 filters, no loader workers. */
export const TINY = ['--netG', 'unet_128', '--ngf', '8', '--ndf', '8', '--load_size', '128', '--crop_size', '128', '--num_threads', '0'];
/** Quiet runs: no visuals, no HTML, loss lines only when asked. */
export const QUIET = ['--display_freq', '100000', '--update_html_freq', '100000'];

/**
 * A fresh folder name for one test file. Nothing is created: before() hooks create it (they run only when a test of
 * the file runs, as does the after() that removes it), so a filtered run (mocha -g) leaves nothing behind.
 */
export function tmpdir(tag: string): string {
  return path.join(os.tmpdir(), `img2img-rel-${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** `n` facades pairs (A|B side by side, 512x256 JPEG) in `<root>/<split>/`. */
export function facadesDataset(root: string, n: number, split = 'train'): string {
  fs.mkdirSync(path.join(root, split), { recursive: true });
  for (let i = 1; i <= n; i++) {
    fs.copyFileSync(path.join(SHARED, 'datasets/facades/train', `${i}.jpg`), path.join(root, split, `${i}.jpg`));
  }
  return root;
}

/** A PNG with a smooth pattern: colorType 0 gray, 2 RGB, 4 gray+alpha, 6 RGBA. */
export function pngImage(width: number, height: number, colorType: 0 | 2 | 4 | 6 = 2): Buffer {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      png.data[i] = (x * 255) / width; png.data[i + 1] = (y * 255) / height; png.data[i + 2] = ((x + y) * 7) % 256; png.data[i + 3] = 160;
    }
  }
  return PNG.sync.write(png, { colorType, inputHasAlpha: true });
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  /** Milliseconds from spawn to exit. */
  ms: number;
}

/** A running `img2img` child: its output so far, and promises for lines and exit. */
export class CliProcess {
  readonly child: ChildProcess;
  out = '';
  readonly exited: Promise<CliResult>;
  private readonly started = Date.now();
  private waiters: Array<() => void> = [];

  constructor(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
    this.child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd ?? os.tmpdir(),
      env: { ...process.env, IMG2IMG_THREADS: '2', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const onData = (chunk: Buffer) => { this.out += chunk.toString('utf8'); for (const w of this.waiters) w(); };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        for (const w of this.waiters) w();
        resolve({ code, signal, out: this.out, ms: Date.now() - this.started });
      });
    });
  }

  get running(): boolean { return this.child.exitCode === null && this.child.signalCode === null; }

  /** Resolves once the output matches `re` (counting `count` matches); rejects if the child exits first or after `timeoutMs`. */
  waitForOutput(re: RegExp, count = 1, timeoutMs = 120000): Promise<void> {
    const global = new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g');
    const matched = () => (this.out.match(global)?.length ?? 0) >= count;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { done(); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re} x${count} in:\n${this.out}`)); }, timeoutMs);
      const check = () => {
        if (matched()) { done(); resolve(); } else if (!this.running) { done(); reject(new Error(`img2img exited before printing ${re} x${count}:\n${this.out}`)); }
      };
      const done = () => { clearTimeout(timer); this.waiters = this.waiters.filter((w) => w !== check); };
      this.waiters.push(check);
      check();
    });
  }

  /** Sends a signal to this child (and only to it). */
  kill(signal: NodeJS.Signals): void {
    if (!this.running) throw new Error(`img2img exited before it could be sent ${signal}:\n${this.out}`);
    this.child.kill(signal);
  }
}

/** Runs `img2img <args>` to the end. */
export function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new CliProcess(args, opts).exited;
}

/** Polls `probe` every `everyMs` until it returns a value other than undefined/false; rejects after `timeoutMs`. */
export async function pollFor<T>(probe: () => T | undefined | false, what: string, timeoutMs = 120000, everyMs = 5): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** sha256 of every file in `dir` whose name matches `re`. */
export function hashFiles(dir: string, re: RegExp): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).sort()) if (re.test(f)) out[f] = sha256(path.join(dir, f));
  return out;
}

/** Names of writeFileAtomic temporaries (`<target>.tmp-<pid>-<hex>`) in `dir`. */
export function temporaries(dir: string): string[] {
  try { return fs.readdirSync(dir).filter((f) => /\.tmp-\d+-[0-9a-f]{12}$/.test(f)); } catch { return []; }
}

/** Counts NaN/Inf among the float32 values of a checkpoint or state file (throws if it does not load). */
export function nonFiniteCount(file: string): { values: number; nonFinite: number } {
  let values = 0, nonFinite = 0;
  for (const t of readStateDictRaw(file).tensors.values()) {
    if (t.dtype !== 'float32') continue;
    const f = new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
    values += f.length;
    for (const v of f) if (!Number.isFinite(v)) nonFinite++;
  }
  return { values, nonFinite };
}

/** Largest absolute difference between the float32 tensors of two checkpoints with the same keys. */
export function maxWeightDifference(a: string, b: string): number {
  const ta = readStateDictRaw(a).tensors, tb = readStateDictRaw(b).tensors;
  let worst = 0;
  for (const [k, t] of ta) {
    const u = tb.get(k);
    if (!u) throw new Error(`${b} has no ${k}`);
    if (t.dtype !== 'float32') continue;
    const fa = new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
    const fb = new Float32Array(u.data.buffer.slice(u.data.byteOffset, u.data.byteOffset + u.data.byteLength));
    for (let i = 0; i < fa.length; i++) worst = Math.max(worst, Math.abs(fa[i] - fb[i]));
  }
  return worst;
}

/** The "learning rate a -> b" line printed at the end of each epoch, keyed by that epoch. */
export function epochLrs(out: string): Map<number, string> {
  const lrs = new Map<number, string>();
  const re = /learning rate (\S+ -> \S+)\n(?:saving[^\n]*\n)*End of epoch (\d+) \//g;
  for (let m = re.exec(out); m; m = re.exec(out)) lrs.set(Number(m[2]), m[1]);
  return lrs;
}
