// Tensor: the public wrapper of a native libtorch tensor, plus scopes that release native memory
// deterministically (tidy) instead of leaving it to the garbage collector.
import type { NativeTensor } from '../binding';
import { native } from './native';

// The element types: the checkpoint format's list (binding's NativeDType is the same union).
import type { DType } from './checkpoint/raw_tensor';
export type { DType };

// Each open tidy() scope collects the tensors created inside it.
const scopes: Array<Set<Tensor>> = [];

/** A libtorch tensor. Owns its native memory: dispose() it, or create it inside tidy(). */
export class Tensor {
  /** @internal The native handle (binding/), owned by this object. */
  readonly native: NativeTensor;

  /** @internal Wraps a native handle (binding/); create tensors with the static methods. */
  constructor(handle: NativeTensor) {
    this.native = handle;
    const scope = scopes[scopes.length - 1];
    if (scope) scope.add(this);
  }

  /** [sync] Copies `data` into a new float32 tensor of `shape` (on `device`, default CPU). */
  static fromFloat32Array(data: Float32Array, shape: number[], device?: string): Tensor {
    return new Tensor(native().fromFloat32Array(data, shape, device));
  }
  /** [sync] Copies raw little-endian bytes of `dtype` into a new tensor. */
  static fromBytes(bytes: Uint8Array, dtype: DType, shape: number[], device?: string): Tensor {
    return new Tensor(native().fromBytes(bytes, dtype, shape, device));
  }
  /** A tensor of `shape` filled with `value`. */
  static full(shape: number[], value: number, device?: string): Tensor {
    return new Tensor(native().full(shape, value, device));
  }
  /** A tensor of `shape` filled with zeros. */
  static zeros(shape: number[], device?: string): Tensor { return Tensor.full(shape, 0, device); }
  /** Uniform [0, 1) draws from the default generator (seeded by manualSeed). */
  static rand(shape: number[], device?: string): Tensor { return new Tensor(native().rand(shape, device)); }
  /** Standard normal samples from the libtorch generator (seeded by manualSeed). */
  static randn(shape: number[], device?: string): Tensor { return new Tensor(native().randn(shape, device)); }

  get shape(): number[] { return this.native.shape; }
  get dtype(): DType { return this.native.dtype; }
  get device(): string { return this.native.device; }
  get isDisposed(): boolean { return this.native.isDisposed; }
  get requiresGrad(): boolean { return this.native.requiresGrad; }
  get numel(): number { return this.shape.reduce((a, b) => a * b, 1); }

  /** Whether autograd records operations on this tensor (a leaf). */
  setRequiresGrad(on: boolean): this { this.native.setRequiresGrad(on); return this; }
  /** Releases the native memory now; the tensor can no longer be used. */
  dispose(): void { this.native.dispose(); }
  /** A copy of the values as float32, row-major (moved to the CPU if needed). */
  toFloat32Array(): Float32Array { return this.native.toFloat32Array(); }
  /** A copy of the raw bytes in the tensor's own dtype, row-major. */
  toBytes(): Buffer { return this.native.toBytes(); }
  /** The value of a one-element tensor. */
  item(): number { return this.native.item(); }
  get grad(): Tensor | null { const g = this.native.grad(); return g ? new Tensor(g) : null; }
  /** Backpropagates from this tensor (a scalar unless `gradient` is given) into the leaves' grad. */
  backward(gradient?: Tensor, opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    this.native.backward(gradient ? gradient.native : null, !!opts.retainGraph, !!opts.createGraph);
  }
  /** In-place copy from `src` (same shape), outside autograd. */
  copyFrom(src: Tensor): this { this.native.copyFrom(src.native); return this; }

  /** A copy with its own storage (autograd-tracked). */
  clone(): Tensor { return new Tensor(this.native.unary('clone')); }
  /** The same storage, cut from the autograd graph. */
  detach(): Tensor { return new Tensor(this.native.unary('detach')); }
  /** Elementwise -x. */
  neg(): Tensor { return new Tensor(this.native.unary('neg')); }
  /** Elementwise |x|. */
  abs(): Tensor { return new Tensor(this.native.unary('abs')); }
  /** Elementwise square root. */
  sqrt(): Tensor { return new Tensor(this.native.unary('sqrt')); }
  /** Elementwise tanh. */
  tanh(): Tensor { return new Tensor(this.native.unary('tanh')); }
  /** Elementwise logistic sigmoid. */
  sigmoid(): Tensor { return new Tensor(this.native.unary('sigmoid')); }
  /** torch.flip(x, [3]) of an NCHW tensor: mirrors the width. */
  flipW(): Tensor { return new Tensor(this.native.unary('flipW')); }
  /** Zeros of this shape, dtype and device. */
  zerosLike(): Tensor { return new Tensor(this.native.unary('zerosLike')); }
  /** Ones of this shape, dtype and device. */
  onesLike(): Tensor { return new Tensor(this.native.unary('onesLike')); }
  /** True when every element is finite (no NaN/Inf). */
  isFinite(): boolean { const t = this.native.unary('isfinite'); try { return t.item() !== 0; } finally { t.dispose(); } }

  /** Elementwise sum (broadcasting). */
  add(o: Tensor | number): Tensor { return new Tensor(this.native.binary('add', unwrap(o))); }
  /** Elementwise difference (broadcasting). */
  sub(o: Tensor | number): Tensor { return new Tensor(this.native.binary('sub', unwrap(o))); }
  /** Elementwise product (broadcasting). */
  mul(o: Tensor | number): Tensor { return new Tensor(this.native.binary('mul', unwrap(o))); }
  /** Elementwise quotient (broadcasting). */
  div(o: Tensor | number): Tensor { return new Tensor(this.native.binary('div', unwrap(o))); }
  /** Elementwise power (broadcasting). */
  pow(o: Tensor | number): Tensor { return new Tensor(this.native.binary('pow', unwrap(o))); }
  /** Mean over `dims` (all when not given). */
  mean(dims?: number[], keepdim = false): Tensor { return new Tensor(this.native.reduce('mean', dims, keepdim)); }
  /** Sum over `dims` (all when not given). */
  sum(dims?: number[], keepdim = false): Tensor { return new Tensor(this.native.reduce('sum', dims, keepdim)); }
  /** The largest element, as a one-element tensor. */
  max(): Tensor { return new Tensor(this.native.reduce('max')); }
  /** The smallest element, as a one-element tensor. */
  min(): Tensor { return new Tensor(this.native.reduce('min')); }
  /** The same elements in `shape` (a view when possible; -1 infers one dimension). */
  reshape(shape: number[]): Tensor { return new Tensor(this.native.reshape(shape)); }
  /** Alias of reshape. */
  view(shape: number[]): Tensor { return this.reshape(shape); }
  /** A broadcast view to `shape` (size-1 dimensions repeated, no copy). */
  expand(shape: number[]): Tensor { return new Tensor(this.native.expand(shape)); }
  /** A view of [start, end) along `dim`. */
  slice(dim: number, start: number, end: number): Tensor { return new Tensor(this.native.slice(dim, start, end)); }
  /** A copy on `device` (and in `dtype`), or this tensor's data when nothing changes. */
  to(device: string, dtype?: DType): Tensor { return new Tensor(this.native.to(device, dtype)); }
  /** The p-norm over dimension `dim`. */
  norm(p: number, dim: number): Tensor { return new Tensor(this.native.norm(p, dim)); }

  /** dtype, shape and device, for logs. */
  toString(): string { return this.isDisposed ? 'Tensor(disposed)' : `Tensor(${this.dtype}, [${this.shape.join(', ')}], ${this.device})`; }
}

function unwrap(o: Tensor | number): NativeTensor | number { return typeof o === 'number' ? o : o.native; }

/** a @ b of 2-D tensors, either side transposed first. */
export function matmul(a: Tensor, b: Tensor, opts: { transposeA?: boolean; transposeB?: boolean } = {}): Tensor {
  return new Tensor(native().matmul(a.native, b.native, !!opts.transposeA, !!opts.transposeB));
}

/** Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix (torch.linalg.eigh). */
export function symmetricEigen(a: Tensor): { values: Tensor; vectors: Tensor } {
  const [values, vectors] = native().symmetricEigen(a.native);
  return { values: new Tensor(values), vectors: new Tensor(vectors) };
}

/** Concatenates along `dim` (torch.cat). */
export function cat(tensors: Tensor[], dim = 0): Tensor {
  return new Tensor(native().cat(tensors.map((t) => t.native), dim));
}

/** torch.autograd.grad(outputs, inputs, gradOutputs, create_graph, retain_graph). */
export function autogradGrad(outputs: Tensor[], inputs: Tensor[], gradOutputs: Tensor[],
  opts: { createGraph?: boolean; retainGraph?: boolean } = {}): Tensor[] {
  return native().autogradGrad(outputs.map((t) => t.native), inputs.map((t) => t.native), gradOutputs.map((t) => t.native),
    !!opts.createGraph, opts.retainGraph ?? !!opts.createGraph).map((t) => new Tensor(t));
}

/** Mean L1 loss (nn.L1Loss). */
export function l1Loss(input: Tensor, target: Tensor): Tensor { return new Tensor(native().loss('l1', input.native, target.native)); }
/** Mean squared error against a tensor or a constant label (nn.MSELoss). */
export function mseLoss(input: Tensor, target: Tensor | number): Tensor {
  return new Tensor(native().loss('mse', input.native, unwrap(target)));
}
/** Mean binary cross-entropy on logits against a tensor or a constant label (nn.BCEWithLogitsLoss). */
export function bceWithLogitsLoss(input: Tensor, target: Tensor | number): Tensor {
  return new Tensor(native().loss('bce_logits', input.native, unwrap(target)));
}

/** Runs fn with autograd off (torch.no_grad()). */
export function noGrad<T>(fn: () => T): T {
  const prev = native().setGradEnabled(false);
  try { return fn(); } finally { native().setGradEnabled(prev); }
}

/**
 * Runs fn and disposes every Tensor created inside it, except those in its result (a Tensor, or Tensors inside
 * arrays, Maps and plain objects) and those passed to keep(). Survivors join the enclosing scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  if (result instanceof Promise) throw new Error('tidy() takes a synchronous function; use tidyAsync patterns instead');
  const survivors = new Set<Tensor>();
  collectTensors(result, survivors, 0);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (survivors.has(t) || kept.has(t)) { if (parent) parent.add(t); continue; }
    t.dispose();
  }
  return result;
}

const kept = new WeakSet<Tensor>();
/** Exempts a tensor from disposal by the enclosing tidy() scopes. */
export function keep<T extends Tensor>(t: T): T {
  kept.add(t);
  for (const s of scopes) s.delete(t);
  return t;
}

function collectTensors(v: unknown, out: Set<Tensor>, depth: number): void {
  if (depth > 6 || v === null || v === undefined) return;
  if (v instanceof Tensor) { out.add(v); return; }
  if (Array.isArray(v)) { for (const e of v) collectTensors(e, out, depth + 1); return; }
  if (v instanceof Map) { for (const e of v.values()) collectTensors(e, out, depth + 1); return; }
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    for (const e of Object.values(v as Record<string, unknown>)) collectTensors(e, out, depth + 1);
  }
}

/** Disposes every tensor found in v (arrays, Maps, plain objects). */
export function disposeAll(v: unknown): void {
  const s = new Set<Tensor>();
  collectTensors(v, s, 0);
  for (const t of s) t.dispose();
}
