// Process-wide libtorch settings: seeds, threads, devices, and what the addon was built with.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseDevice } from './device';
import type { ResolvedDevice } from './device';
import type { FastPathName } from '../binding';
import { native } from './native';
import { OptionError } from './options/option_errors';
import { cpuBf16Support, CpuBf16Support } from './precision';

/** What info() reports about the loaded libtorch. */
export interface RuntimeInfo {
  torchVersion: string;
  cuda: boolean;
  cudaAvailable: boolean;
  deviceCount: number;
  threads: number;
  mkldnn: boolean;
  openmp: boolean;
  libtorchPath: string | null;
  blas: string | null;
  /** Native bf16 on this CPU (what --precision bf16 on CPU needs; src/precision.ts). */
  cpuBf16: CpuBf16Support;
}

/** torch.manual_seed: seeds the CPU generator and all CUDA generators. */
export function manualSeed(seed: number): void { native().manualSeed(seed); }
/** The CPU generator's state (torch.get_rng_state()), for resumable runs. */
export function getRngState(): Buffer { return native().getRngState(); }
/** Restores a state from getRngState(). */
export function setRngState(state: Buffer): void { native().setRngState(state); }

/** Intra-op threads of libtorch; 0 or undefined = all cores. */
export function setNumThreads(n?: number): void {
  const count = !n || n <= 0 ? Math.max(1, os.cpus().length) : Math.floor(n);
  native().setNumThreads(count);
}
/** The intra-op thread count libtorch uses now. */
export function getNumThreads(): number { return native().getNumThreads(); }

/** Whether this libtorch build has CUDA and a device is visible. */
export function cudaIsAvailable(): boolean { return native().info().cudaAvailable; }
/** The number of visible CUDA devices (0 on CPU builds). */
export function cudaDeviceCount(): number { return native().info().deviceCount; }

/**
 * Resolves a device option: '' or 'auto' = cuda:0 when available, else cpu. Explicit CUDA devices that do not
 * exist are errors (never a silent CPU fallback).
 */
export function resolveDevice(device: string | undefined | null): ResolvedDevice {
  const d = (device ?? '').trim();
  const parsed = parseDevice(d);
  if (!parsed) throw new OptionError(`Expected 'cpu', 'cuda' or 'cuda:N' for device but received '${d}'`, 'device');
  if (parsed.type === 'auto') return cudaIsAvailable() ? 'cuda:0' : 'cpu';
  if (parsed.type === 'cpu') return 'cpu';
  if (!cudaIsAvailable()) throw new OptionError(`device '${d}' was asked for but CUDA is not available in this libtorch build; use --device cpu`, 'device');
  if (parsed.index >= cudaDeviceCount()) throw new OptionError(`device '${d}' does not exist: ${cudaDeviceCount()} CUDA device(s) are visible`, 'device');
  return `cuda:${parsed.index}`;
}

function builtWith(): { torchDir?: string; version?: string; cuda?: boolean } {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const f = path.join(dir, 'build', 'libtorch.json');
    if (fs.existsSync(f)) { try { return JSON.parse(fs.readFileSync(f, 'utf8')); } catch { return {}; } }
    dir = path.dirname(dir);
  }
  return {};
}

function activeBlas(): string | null {
  const link = '/etc/alternatives/libblas.so.3-x86_64-linux-gnu';
  try { return fs.realpathSync(link); } catch { return null; }
}

/** What libtorch the addon runs on (img2img info). */
export function info(): RuntimeInfo {
  const n = native().info();
  const b = builtWith();
  return {
    torchVersion: n.torchVersion,
    cuda: !!b.cuda || n.cudaAvailable,
    cudaAvailable: n.cudaAvailable,
    deviceCount: n.deviceCount,
    threads: n.threads,
    mkldnn: n.mkldnn,
    openmp: n.openmp,
    libtorchPath: b.torchDir ?? null,
    blas: activeBlas(),
    cpuBf16: cpuBf16Support(),
  };
}

/**
 * The sub-pixel ConvTranspose2d path on CPU (exact rewrite as one convolution + interleave, used for inputs of
 * 32x32 and up); returns the previous setting. On by default; IMG2IMG_FAST_DECONV=0 turns it off at load.
 */
export function setFastConvTranspose(on: boolean): boolean { return native().setFastConvTranspose(on); }

/**
 * The CPU convolution rewrites of docs/performance.md, each on by default; returns the previous setting.
 * - `winograd`: Winograd F(4x4, 3x3) for 3x3 and F(3x3, 4x4) for 4x4 stride-1 convolutions of 256+ channels
 *   without autograd (the ResNet blocks at inference); equal to the direct convolution within float rounding (~10x
 *   its rounding error). IMG2IMG_WINOGRAD=0 turns it off at load.
 * - `winogradTrain`: the same convolutions with autograd (training: the ResNet blocks and the ndf-64
 *   discriminators' 256 -> 512 layer), forward and both gradients by Winograd (the backward is the forward's exact
 *   adjoint); mean relative error ~2-3e-6 against float64 where the direct convolution's is ~2-5e-7. Off keeps the
 *   reference's rounding in training. IMG2IMG_WINOGRAD_TRAIN=0.
 * - `phaseConv`: the 7x7 convolution to at most 4 channels (the ResNet's output layer) as one stride-2 convolution
 *   over its 4 output phases, with and without autograd; exact up to summation order. IMG2IMG_PHASE_CONV=0.
 * - `bf16Block`: the ResNet generators' inference forward at `precision: 'bf16'` on CPU in channels-last layout
 *   with InstanceNorm, ReLU and reflection padding fused into one pass per convolution, and in training each ResNet
 *   block as one autograd function with the same fused passes forward and backward; the plain autocast path's
 *   rounding points, up to the summation order of the norm statistics; a second derivative (create_graph) through
 *   the training block is refused (turn this off for it). IMG2IMG_BF16_BLOCK=0.
 */
export function setFastPath(name: FastPathName, on: boolean): boolean { return native().setFastPath(name, on); }

