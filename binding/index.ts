// Typed loader of the native module: the only file that knows its raw surface.
// Every native method states its threading contract: [sync] runs on the calling JS thread and blocks it;
// [async] runs on the libuv thread pool and returns a Promise.
import * as fs from 'fs';
import * as path from 'path';
import type { BuilderFields, NetworkDescription } from '../src/architectures';

/** The CPU convolution rewrites that setFastPath switches (docs/performance.md). */
export type FastPathName = 'winograd' | 'winogradTrain' | 'phaseConv' | 'bf16Block';
export type NativeDType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** One torch::Tensor. The JS object owns one reference; dispose() drops it now, the GC later otherwise. */
export interface NativeTensor {
  readonly shape: number[];
  readonly dtype: NativeDType;
  readonly device: string;
  readonly isDisposed: boolean;
  readonly requiresGrad: boolean;
  /** Bytes of this tensor's elements. */
  readonly numBytes: number;
  /** [sync] */ setRequiresGrad(on: boolean): NativeTensor;
  /** [sync] Drops the native reference now. */ dispose(): void;
  /** [sync] Copy into a new Float32Array (moves to CPU and converts first). */ toFloat32Array(): Float32Array;
  /** [sync] Copy of the raw little-endian bytes in the tensor's own dtype. */ toBytes(): Buffer;
  /** [sync] The single value of a one-element tensor. */ item(): number;
  /** [sync] The accumulated gradient (shares storage), or null. */ grad(): NativeTensor | null;
  /** [sync] Backpropagates from this tensor. */ backward(gradient?: NativeTensor | null, retainGraph?: boolean, createGraph?: boolean): void;
  /** [sync] In-place copy without autograd history; shapes must match. */ copyFrom(src: NativeTensor): NativeTensor;
  /** [sync] New tensor: clone, detach, contiguous, neg, abs, sqrt, exp, log, sigmoid, tanh, relu, flipW (flip the last dim), sign, isfinite, zerosLike, onesLike, float. */
  unary(op: string): NativeTensor;
  /** [sync] New tensor: add, sub, mul, div, pow, maximum (tensor) or add, sub, mul, div, pow, fill (number). */
  binary(op: string, other: NativeTensor | number): NativeTensor;
  /** [sync] mean | sum over all or some dims; max | min over all. */
  reduce(op: string, dims?: number[], keepdim?: boolean): NativeTensor;
  /** [sync] */ reshape(shape: number[]): NativeTensor;
  /** [sync] */ expand(shape: number[]): NativeTensor;
  /** [sync] A view of [start, end) along dim. */ slice(dim: number, start: number, end: number): NativeTensor;
  /** [sync] Copy to a device and/or dtype ('cpu', 'cuda:N'). */ to(device: string | null, dtype?: NativeDType): NativeTensor;
  /** [sync] p-norm along one dim. */ norm(p: number, dim: number): NativeTensor;
}

/**
 * What the native Network constructor takes: the description (names, for messages) plus the builder fields the
 * architecture table resolves them to ('FID': pytorch-fid's Inception v3, builder fid_inception_v3, whose forward
 * maps [N, 3, H, W] in [0, 1] to [N, 2048] pool3 features).
 */
export type NativeNetworkSpec = NetworkDescription & BuilderFields;

/** One generator, discriminator or FID Inception (a libtorch module). */
export interface NativeNetwork {
  /** [sync] Forward on the JS thread (records autograd history when grad mode is on). */
  forward(x: NativeTensor): NativeTensor;
  /** [async] Forward on the libuv pool; holds its own references, so dispose() meanwhile is safe. noGrad (default) uses InferenceMode. */
  forwardAsync(x: NativeTensor, opts?: { noGrad?: boolean; outputDevice?: string }): Promise<NativeTensor>;
  /** [sync] */ train(on?: boolean): NativeNetwork;
  readonly isTraining: boolean;
  /** [sync] Moves parameters and buffers in place. */ to(device: string): NativeNetwork;
  readonly device: string;
  /** [sync] The reference's init_weights (normal | xavier | kaiming | orthogonal). */ initWeights(type: string, gain: number): void;
  /** [sync] [name, tensor (shares storage), isParameter] in the reference's state_dict order. */
  namedTensors(): Array<[string, NativeTensor, boolean]>;
  /** [sync] Trainable tensors (shared with the module). */ parameters(): NativeTensor[];
  /** [sync] */ setRequiresGrad(on: boolean): void;
  /** [sync] torch 1.13 zero_grad(set_to_none=False). */ zeroGrad(): void;
  /** [sync] */ numParameters(): number;
  /** [sync] */ describe(): string;
  /** [sync] Drops the module reference (async work in flight keeps its own). */ dispose(): void;
  readonly isDisposed: boolean;
  /** [sync] Converts 4-D weights to channels_last. */ channelsLast(): void;
  /** [sync] Autocast dtype of later forwards ('fp32' = off); parameters and outputs stay float32. */
  precision: 'fp32' | 'bf16' | 'fp16';
  /** [sync] CUT's encode_only forward (ResNet G), under `precision`: new float32 Tensors, the outputs of the listed `model` layers; records autograd history when grad mode is on. */
  encode(x: NativeTensor, layers: number[]): NativeTensor[];
  /** [sync] PatchSampleF (kind F), under `precision`: per feature map its rows ids[i] through mlp_<i>, L2-normalised; new float32 Tensors, inputs only read. */
  samplePatches(feats: NativeTensor[], ids: NativeTensor[]): NativeTensor[];
}

export interface NativeAdamStateEntry { step: number; expAvg: NativeTensor | null; expAvgSq: NativeTensor | null }

/** torch.optim.Adam of the reference; holds references to its parameters and owns its moments. */
export interface NativeAdam {
  /** [sync] */ step(): void;
  /** [sync] Drops gradients (default) or zeroes them in place (false). */ zeroGrad(setToNone?: boolean): void;
  lr: number;
  /** One-pass CPU update (default true); false = op-by-op reference math. */
  fused: boolean;
  /** [sync] Moments are shared, not copied. */ getState(): NativeAdamStateEntry[];
  /** [sync] Copies the moments in. */ setState(state: NativeAdamStateEntry[]): void;
  /** [sync] Multiplies every gradient by invScale in place; true when one holds inf or NaN (loss scaler). */
  unscaleGrads(invScale: number): boolean;
}

/** What makes a process join a c10d group (torchrun's rendezvous with rank 0 hosting the TCPStore). */
export interface NativeProcessGroupOptions {
  backend: 'gloo' | 'nccl';
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  /** Rendezvous and collective timeout. */
  timeoutMs: number;
  /** Gloo binds to this network interface (GLOO_SOCKET_IFNAME) … */
  glooInterface?: string;
  /** … or to this host's address; neither = the address this host name resolves to. */
  glooHostname?: string;
}

/**
 * One c10d process group (issue 9). Every collective is [sync]: it blocks the JS thread until every rank joined it
 * or the timeout passed, and must be called in the same order on every rank. After a failed collective the group
 * is unusable (and is kept allocated until exit: tearing down a half-failed Gloo context can wait on dead peers).
 */
export interface NativeProcessGroup {
  readonly rank: number;
  readonly size: number;
  readonly backend: string;
  readonly isDisposed: boolean;
  /** [sync] In place, one collective per tensor. */ allreduce(tensors: NativeTensor[], op?: 'sum' | 'max' | 'min' | 'product'): void;
  /** [sync] Each parameter's .grad becomes the mean over ranks; bucketed (per dtype/device, ~bucketBytes); returns the bucket count. */
  allreduceGradients(params: NativeTensor[], bucketBytes: number): number;
  /** [sync] Copies root's values into these tensors on every rank (no autograd history); returns the bucket count. */
  broadcast(tensors: NativeTensor[], root: number, bucketBytes: number): number;
  /** [sync] */ barrier(): void;
  /** [sync] Releases the group and (rank 0) the store. */ dispose(): void;
}

/** The large-block CPU cache's counters (cpuBlockCacheStats). */
export interface CpuBlockCacheStats { cachedBytes: number; liveBytes: number; hits: number; misses: number; holders: number }

export interface NativeInfo {
  torchVersion: string;
  cudaAvailable: boolean;
  cudnnAvailable: boolean;
  deviceCount: number;
  threads: number;
  mkldnn: boolean;
  openmp: boolean;
  parallelInfo: string;
  configuration: string;
}

export interface NativeBinding {
  Tensor: Function;
  Network: new (spec: NativeNetworkSpec) => NativeNetwork;
  Adam: new (params: NativeTensor[], opts: { lr: number; beta1: number; beta2?: number; eps?: number }) => NativeAdam;
  /** [sync] Copies data. */ fromFloat32Array(data: Float32Array, shape: number[], device?: string): NativeTensor;
  /** [sync] Copies bytes. */ fromBytes(bytes: Uint8Array, dtype: NativeDType, shape: number[], device?: string): NativeTensor;
  /** [sync] */ full(shape: number[], value: number, device?: string): NativeTensor;
  /** [sync] Uniform [0,1) from the default generator. */ rand(shape: number[], device?: string): NativeTensor;
  /** [sync] */ randn(shape: number[], device?: string): NativeTensor;
  /** [sync] */ cat(tensors: NativeTensor[], dim: number): NativeTensor;
  /** [sync] Mean-reduced l1 | mse | bce_logits; a number target is expanded to the input's shape. */
  loss(kind: 'l1' | 'mse' | 'bce_logits', input: NativeTensor, target: NativeTensor | number): NativeTensor;
  /** [sync] torch.autograd.grad */
  autogradGrad(outputs: NativeTensor[], inputs: NativeTensor[], gradOutputs: NativeTensor[], createGraph: boolean, retainGraph: boolean): NativeTensor[];
  /** [sync] Thread-local grad mode; returns the previous one. */ setGradEnabled(on: boolean): boolean;
  /** [sync] torch.manual_seed */ manualSeed(seed: number): void;
  /** [sync] */ getRngState(): Buffer;
  /** [sync] */ setRngState(state: Buffer): void;
  /** [sync] */ setNumThreads(n: number): void;
  /** [sync] */ getNumThreads(): number;
  /** [sync] */ info(): NativeInfo;
  /** [sync] */ setCudnnBenchmark(on: boolean): void;
  /** [sync] Sub-pixel ConvTranspose2d on CPU (default on); returns the previous setting. */ setFastConvTranspose(on: boolean): boolean;
  /** [sync] One CPU convolution rewrite on or off (default on); returns the previous setting; throws for other names. */ setFastPath(name: FastPathName, on: boolean): boolean;
  /** [sync] Returns freed heap pages to the OS (malloc_trim); true when memory was released. */ releaseMemory(): boolean;
  /** [sync] One more hold on the large-block CPU cache (cpp/cpu_block_cache.h): freed blocks of 1 MiB+ are kept for reuse until the last hold is released. */ retainCpuBlockCache(): void;
  /** [sync] Drops one hold; the last one unmaps every cached block. */ releaseCpuBlockCache(): void;
  /** [sync] A new plain object: bytes cached and live (large blocks), cache hits and misses, holders. */ cpuBlockCacheStats(): CpuBlockCacheStats;
  /** [sync] Seconds per Conv2d forward of the given size (benchmark's conv peak). */ benchConv(cin: number, cout: number, k: number, h: number, w: number, iters: number): number;
  /** [sync] a(ᵀ) @ b(ᵀ) of 2-D tensors; a new tensor owned by the caller, inputs only read. */
  matmul(a: NativeTensor, b: NativeTensor, transposeA?: boolean, transposeB?: boolean): NativeTensor;
  /** [sync] torch.linalg.eigh of a symmetric matrix: [eigenvalues ascending, eigenvectors as columns], both new and owned by the caller. */
  symmetricEigen(a: NativeTensor): [NativeTensor, NativeTensor];
  /** [sync] CUT's PatchNCELoss: per-patch loss [patches] (new, owned by the caller) of q against detached k; batchDim 1 = negatives from the whole minibatch. */
  patchNceLoss(q: NativeTensor, k: NativeTensor, batchDim: number, nceT: number): NativeTensor;
  /** [sync] Joins (rank 0: hosts) the rendezvous and builds the group; blocks until every rank arrived or timeoutMs. */
  ProcessGroup: new (opts: NativeProcessGroupOptions) => NativeProcessGroup;
  /** [sync] Which c10d backends this build has. */ distributedBackends(): { gloo: boolean; nccl: boolean };
}

function repoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'CMakeLists.txt'))) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..', '..');
}

let cached: NativeBinding | null = null;

/** Loads build/Release/img2img.node once; on failure says which libtorch it was built for and how to rebuild. */
export function loadBinding(): NativeBinding {
  if (cached) return cached;
  const root = repoRoot();
  const candidates = [
    process.env.IMG2IMG_ADDON,
    path.join(root, 'build', 'Release', 'img2img.node'),
    path.join(root, 'build', 'Debug', 'img2img.node'),
  ].filter((p): p is string => !!p);
  const failures: string[] = [];
  // libgomp reads this when libtorch loads. Its default (spin, then sleep) collapses when threads outnumber free
  // cores (data-loading workers, other processes): measured 50x slower steps on 2 busy cores. Passive waiting costs
  // little on an idle machine and avoids that cliff; a user's own setting wins.
  if (!process.env.OMP_WAIT_POLICY) process.env.OMP_WAIT_POLICY = 'PASSIVE';
  for (const file of candidates) {
    if (!fs.existsSync(file)) { failures.push(`${file}: not found`); continue; }
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      cached = require(file) as NativeBinding;
      return cached;
    } catch (e) {
      failures.push(`${file}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  let built = '';
  try {
    const meta = JSON.parse(fs.readFileSync(path.join(root, 'build', 'libtorch.json'), 'utf8'));
    built = `\nIt was built against libtorch ${meta.version} (${meta.cuda ? 'CUDA' : 'CPU'}) from ${meta.torchDir}.`;
  } catch { /* never built */ }
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const rebuild: string = require(path.join(root, 'scripts', 'package_layout.js')).rebuildCommand(root);
  throw new Error(
    'Could not load the torch-img2img native addon.\n' + failures.map((f) => `  - ${f}`).join('\n') + built +
    '\nPossible solutions:\n' +
    `  - build it: ${rebuild} (needs libtorch: on Debian/Ubuntu \`apt-get install libtorch-dev libopenblas0-pthread\`)\n` +
    `  - if libtorch moved or was upgraded, rebuild: ${rebuild}\n` +
    `  - point at a libtorch explicitly: LIBTORCH=/path/to/libtorch ${rebuild}`);
}
