// Mixed precision (--precision / loadGenerator's precision): the one list of choices, what this CPU can do in
// bf16 (img2img info reports it), and the one check that refuses a precision the device cannot run well.
// The network's forward applies the choice (cpp/precision.h); weights, Adam state, losses and checkpoints stay fp32.
import * as fs from 'fs';
import { OptionError } from './options/option_errors';

/** The --precision names: float32, bfloat16 or float16 autocast. */
export const PRECISIONS = ['fp32', 'bf16', 'fp16'] as const;
/** A --precision value. */
export type Precision = typeof PRECISIONS[number];

/** The /proc/cpuinfo flags that mean bf16 arithmetic in hardware (AVX-512 BF16 dot products, AMX tiles). */
export const NATIVE_BF16_FLAGS = ['avx512_bf16', 'amx_bf16'] as const;

/** Whether this CPU computes bf16 in hardware, and the flags that say so. */
export interface CpuBf16Support {
  /** True when the CPU computes bf16 natively (one of NATIVE_BF16_FLAGS). */
  native: boolean;
  /** Which of NATIVE_BF16_FLAGS it has. */
  flags: string[];
  /** The CPU's model name, when /proc/cpuinfo gives one. */
  model: string | null;
  /** Whether the flags could be read at all (Linux /proc/cpuinfo); false elsewhere, where native is false. */
  known: boolean;
}

/** What the CPU offers for bf16, from /proc/cpuinfo text (the default reads this machine's). */
export function cpuBf16Support(cpuinfo: string | null = readCpuinfo()): CpuBf16Support {
  if (cpuinfo === null) return { native: false, flags: [], model: null, known: false };
  const flagLine = /^flags\s*:(.*)$/m.exec(cpuinfo);
  const have = new Set((flagLine?.[1] ?? '').trim().split(/\s+/));
  const flags = NATIVE_BF16_FLAGS.filter((f) => have.has(f));
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1].trim() ?? null;
  return { native: flags.length > 0, flags, model, known: !!flagLine };
}

// The CPU's flags do not change while the process runs: /proc/cpuinfo is read once, not on every bf16 translate().
let cpuinfoText: string | null | undefined;
function readCpuinfo(): string | null {
  if (cpuinfoText === undefined) {
    try { cpuinfoText = fs.readFileSync('/proc/cpuinfo', 'utf8'); } catch { cpuinfoText = null; }
  }
  return cpuinfoText;
}

/**
 * Why `precision` should not run on `device` (a resolved device: 'cpu' or 'cuda:N'), or null when it may.
 * fp16 on CPU is refused even when forced: libtorch 1.13's CPU autocast implements bf16 only.
 */
export function precisionRefusal(precision: Precision, device: string, opts: { force?: boolean; cpu?: CpuBf16Support } = {}): string | null {
  if (precision === 'fp32' || device.startsWith('cuda')) return null;
  if (precision === 'fp16') {
    return 'fp16 is not available on CPU: libtorch 1.13\'s CPU autocast supports only bf16 (use bf16, or fp16 on a CUDA device)';
  }
  const cpu = opts.cpu ?? cpuBf16Support();
  if (cpu.native || opts.force) return null;
  const where = cpu.known ? `this CPU${cpu.model ? ` (${cpu.model})` : ''} has neither ${NATIVE_BF16_FLAGS.join(' nor ')}` :
    'native bf16 support could not be read (no /proc/cpuinfo)';
  return `bf16 on CPU needs native bf16 (${NATIVE_BF16_FLAGS.join(' or ')}), but ${where}; libtorch would emulate bf16, ` +
    'which is slower than fp32 (3-25x per convolution on an AVX2 CPU). Use fp32, or force it (--force_precision / ' +
    'forcePrecision: true) to run emulated bf16 anyway: same numerics as native bf16, not the same speed';
}

/** Validates a precision option at the edge (CLI or API) and returns it; throws OptionError naming `option`. */
export function checkPrecision(precision: string | undefined, device: string, opts: { force?: boolean; option?: string } = {}): Precision {
  const option = opts.option ?? 'precision';
  const p = (precision ?? 'fp32') as Precision;
  if (!PRECISIONS.includes(p)) {
    throw new OptionError(`Expected one of ${PRECISIONS.join(', ')} for ${option} but received '${String(precision)}'`, option);
  }
  const why = precisionRefusal(p, device, { force: opts.force });
  if (why) throw new OptionError(`${option} ${p} refused on ${device}: ${why}`, option);
  return p;
}
