// A c10d process group (TCPStore rendezvous + ProcessGroupGloo on CPU / ProcessGroupNCCL on CUDA), the way
// torch.distributed.init_process_group builds the default group. Every collective blocks the JS thread and must be
// called in the same order on every rank.
import type { NativeProcessGroup } from '../../binding';
import { native } from '../native';
import { Tensor } from '../tensor';
import { DistributedEnv, isLoopback } from './env';

/** DDP's default bucket_cap_mb: gradients are all-reduced in flat buckets of about this size. */
export const DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024;

export type Backend = 'gloo' | 'nccl';

/** The backend for a device, as init_ddp picks it: NCCL for CUDA tensors, Gloo for CPU tensors. */
export function backendFor(device: string): Backend {
  return device.startsWith('cuda') ? 'nccl' : 'gloo';
}

/** Why this build cannot run `backend`, or null when it can. */
export function missingBackend(backend: Backend): string | null {
  const have = native().distributedBackends();
  if (backend === 'gloo' && !have.gloo) {
    return 'this build of the addon has no c10d Gloo backend: install Gloo\'s headers (Debian/Ubuntu: apt-get install libgloo-dev) and rebuild the addon (`npm rebuild torch-img2img` from an app, `npm run build` in a checkout)';
  }
  if (backend === 'nccl' && !have.nccl) {
    return 'training on CUDA across processes needs c10d\'s NCCL backend, which this build of the addon does not have ' +
      '(it needs a CUDA libtorch built with NCCL, and nccl.h at build time): use --device cpu (Gloo), or rebuild against a CUDA libtorch';
  }
  return null;
}

export class ProcessGroup {
  readonly native: NativeProcessGroup;

  private constructor(handle: NativeProcessGroup) { this.native = handle; }

  /**
   * Joins the group: rank 0 hosts the TCPStore at MASTER_ADDR:MASTER_PORT, the others connect to it; returns once
   * every rank has arrived (or throws after the timeout, naming the address).
   */
  static join(env: DistributedEnv, backend: Backend): ProcessGroup {
    const why = missingBackend(backend);
    if (why) throw new Error(why);
    // Gloo binds to GLOO_SOCKET_IFNAME if set; on loopback to 127.0.0.1 (the host name may resolve elsewhere);
    // otherwise to the address this machine's host name resolves to, as torch does.
    const glooHostname = !env.glooInterface && isLoopback(env.masterAddr) ? '127.0.0.1' : undefined;
    return new ProcessGroup(new (native().ProcessGroup)({
      backend, rank: env.rank, worldSize: env.worldSize, masterAddr: env.masterAddr, masterPort: env.masterPort,
      timeoutMs: env.timeoutMs, glooInterface: env.glooInterface, glooHostname,
    }));
  }

  get rank(): number { return this.native.rank; }
  get size(): number { return this.native.size; }
  get backend(): string { return this.native.backend; }
  get isDisposed(): boolean { return this.native.isDisposed; }

  /** In place, one collective per tensor. */
  allreduce(tensors: readonly Tensor[], op: 'sum' | 'max' | 'min' | 'product' = 'sum'): void {
    this.native.allreduce(tensors.map((t) => t.native), op);
  }
  /** Every parameter's gradient becomes the mean over ranks (bucketed); returns the number of buckets. */
  allreduceGradients(params: readonly Tensor[], bucketBytes = DEFAULT_BUCKET_BYTES): number {
    return this.native.allreduceGradients(params.map((p) => p.native), bucketBytes);
  }
  /** Copies root's values into these tensors on every rank (bucketed); returns the number of buckets. */
  broadcast(tensors: readonly Tensor[], root = 0, bucketBytes = DEFAULT_BUCKET_BYTES): number {
    return this.native.broadcast(tensors.map((t) => t.native), root, bucketBytes);
  }
  barrier(): void { this.native.barrier(); }
  dispose(): void { this.native.dispose(); }

  /** Every rank's numbers reduced element-wise (float64: exact for integers below 2^53). */
  reduceNumbers(values: readonly number[], op: 'sum' | 'max' | 'min'): number[] {
    const t = float64Tensor(values);
    try {
      this.allreduce([t], op);
      return readFloat64(t);
    } finally {
      t.dispose();
    }
  }

  /** Rank root's numbers on every rank. */
  broadcastNumbers(values: readonly number[], root = 0): number[] {
    const t = float64Tensor(values);
    try {
      this.broadcast([t], root);
      return readFloat64(t);
    } finally {
      t.dispose();
    }
  }
}

function float64Tensor(values: readonly number[]): Tensor {
  const bytes = new Uint8Array(Float64Array.from(values).buffer);
  return Tensor.fromBytes(bytes, 'float64', [values.length]);
}

function readFloat64(t: Tensor): number[] {
  return Array.from(new Float64Array(Uint8Array.from(t.toBytes()).buffer));  // copied: Buffers may be unaligned
}
