// defineG / defineD: the reference's networks (built in C++) behind a small TypeScript class.
import type { NativeNetwork } from '../binding';
import { native } from './native';
import { resolveDevice } from './runtime';
import { OptionError } from './options/option_errors';
import { DType, noGrad, Tensor } from './tensor';
import {
  architectureNames, describeStateDictGuess, DISCRIMINATOR_DEFAULTS, GENERATOR_DEFAULTS, guessArchitecture, INIT_TYPES,
  NORMS, PADDING_TYPES, resolveArchitecture,
} from './architectures';
import type { BuilderFields, DiscriminatorArch, GeneratorArch, InitType, NetworkDescription, Norm, PaddingType, PatchSampleArch } from './architectures';
import type { Device } from './device';
export type { NetworkDescription };
import type { Precision } from './precision';

/** define_G's arguments: the generator architecture and its initialization. */
export interface GeneratorOptions {
  netG?: GeneratorArch; inputNc?: number; outputNc?: number; ngf?: number; norm?: Norm; useDropout?: boolean;
  initType?: InitType; initGain?: number; device?: Device; paddingType?: PaddingType;
  /** CUT's ResNet generator: blur-pool downsampling / blur upsampling + conv (the architecture table's resnet_cut). */
  antialias?: boolean; antialiasUp?: boolean;
  /** Skip init_weights (keep libtorch's default init), e.g. when a checkpoint is loaded right after. */
  skipInit?: boolean;
}
/** define_D's arguments: the discriminator architecture and its initialization. */
export interface DiscriminatorOptions {
  netD?: DiscriminatorArch; inputNc?: number; ndf?: number; nLayersD?: number; norm?: Norm;
  initType?: InitType; initGain?: number; device?: Device; skipInit?: boolean;
  /** CUT's PatchGAN: blur-pool downsampling (the architecture table's n_layers_cut). */
  antialias?: boolean;
}
/** CUT's define_F: PatchSampleF over feature maps of the given channel counts (built once it has seen features). */
export interface PatchSampleOptions {
  netF?: PatchSampleArch; netFNc?: number; featureChannels: number[];
  initType?: InitType; initGain?: number; device?: Device; skipInit?: boolean;
}

/** A raw tensor as read from a checkpoint file (no native memory yet). */
export interface RawTensorLike { dtype: DType; shape: number[]; data: Uint8Array }
/** Tensors by state_dict key: live tensors or raw bytes as read from a checkpoint. */
export type StateDictSource = Map<string, Tensor | RawTensorLike> | Record<string, Tensor | RawTensorLike>;

function expected(what: string, option: string, value: unknown): Error {
  return new OptionError(`Expected ${what} for ${option} but received ${JSON.stringify(value)}`, option);
}
function checkInt(v: number, option: string, min = 1): number {
  if (!Number.isInteger(v) || v < min) throw expected(`an integer >= ${min}`, option, v);
  return v;
}
function checkChoice(v: string, option: string, choices: readonly string[]): string {
  if (!choices.includes(v)) throw expected(`one of ${choices.join(', ')}`, option, v);
  return v;
}

/** A libtorch generator or discriminator built from its description; its parameter names are the reference's state_dict keys. */
export class Network {
  /** @internal The native handle (binding/). */
  readonly native: NativeNetwork;
  readonly description: NetworkDescription;

  constructor(description: NetworkDescription) {
    this.description = { ...description };
    this.native = new (native().Network)({ ...description, ...builderFields(description) });
  }

  /** [sync] Forward on the calling thread (autograd history is recorded unless inside noGrad). */
  forward(x: Tensor): Tensor { return new Tensor(this.native.forward(x.native)); }
  /** [sync] CUT's encode_only forward of a ResNet generator: the outputs of its `model` layers listed in `layers`. */
  encode(x: Tensor, layers: number[]): Tensor[] { return this.native.encode(x.native, layers).map((t) => new Tensor(t)); }
  /** [sync] PatchSampleF (kind F): the patches `ids[i]` of each feature map, through its MLPs, L2-normalised. */
  samplePatches(feats: Tensor[], ids: Tensor[]): Tensor[] {
    return this.native.samplePatches(feats.map((t) => t.native), ids.map((t) => t.native)).map((t) => new Tensor(t));
  }
  /** [async] Forward on the libuv pool without autograd; the event loop stays free. */
  async forwardAsync(x: Tensor, opts: { outputDevice?: string } = {}): Promise<Tensor> {
    return new Tensor(await this.native.forwardAsync(x.native, { noGrad: true, outputDevice: opts.outputDevice }));
  }
  /** Training mode (batch statistics, dropout) or, with false, eval mode. */
  train(on = true): this { this.native.train(on); return this; }
  /** Eval mode: BatchNorm running statistics, no dropout. */
  eval(): this { this.native.train(false); return this; }
  get isTraining(): boolean { return this.native.isTraining; }
  get device(): string { return this.native.device; }
  /** Moves the parameters to `device` ('cpu', 'cuda', 'cuda:1', 'auto'). */
  to(device: string): this { this.native.to(resolveDevice(device)); return this; }
  /** The reference's init_weights: normal, xavier, kaiming or orthogonal with `initGain`. */
  initWeights(initType = 'normal', initGain = 0.02): void {
    checkChoice(initType, 'initType', INIT_TYPES);
    this.native.initWeights(initType, initGain);
  }
  /** The number of parameter values (as the reference prints in millions). */
  numParameters(): number { return this.native.numParameters(); }
  /** A one-line description of the architecture (family, norm, widths). */
  describe(): string { return this.native.describe(); }
  /** The parameters in registration order (sharing the network's storage). */
  parameters(): Tensor[] { return this.native.parameters().map((t) => new Tensor(t)); }
  /** Whether gradients are computed for every parameter (off for D during the G step). */
  setRequiresGrad(on: boolean): void { this.native.setRequiresGrad(on); }
  /** Drops every parameter's gradient. */
  zeroGrad(): void { this.native.zeroGrad(); }
  /**
   * Autocast dtype of this network's forwards (fp32 = off). Inputs, outputs, parameters and buffers stay fp32.
   * Check the choice against the device first (checkPrecision in src/precision.ts).
   */
  get precision(): Precision { return this.native.precision; }
  set precision(p: Precision) { this.native.precision = p; }
  /** Releases the native module now (the object is unusable after). */
  dispose(): void { this.native.dispose(); }
  get isDisposed(): boolean { return this.native.isDisposed; }

  /** name -> Tensor in the reference's state_dict order. The tensors share the network's storage. */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, t] of this.native.namedTensors()) out.set(name, new Tensor(t));
    return out;
  }

  /**
   * Copies a state dict in. Applies the reference's InstanceNorm patch (drops running stats meant for stat-less
   * InstanceNorm), then, when strict, fails with one message listing missing, unexpected and mis-shaped keys
   * plus a guess of what the checkpoint is.
   */
  loadStateDict(source: StateDictSource, opts: { strict?: boolean; what?: string } = {}): void {
    const strict = opts.strict ?? true;
    const entries = source instanceof Map ? [...source.entries()] : Object.entries(source);
    const own = new Map<string, Tensor>();
    const ownTensors = this.native.namedTensors();
    for (const [name, t] of ownTensors) own.set(name, new Tensor(t));
    try {
      const incoming = new Map(entries.filter(([k]) => !this.isPatchedInstanceNormKey(k, own)));
      const missing = [...own.keys()].filter((k) => !incoming.has(k));
      const unexpected = [...incoming.keys()].filter((k) => !own.has(k));
      const misShaped: string[] = [];
      for (const [k, v] of incoming) {
        const mine = own.get(k);
        if (mine && !sameShape(mine.shape, v.shape)) misShaped.push(`${k}: checkpoint [${v.shape.join(', ')}], network [${mine.shape.join(', ')}]`);
      }
      if (strict && (missing.length || unexpected.length || misShaped.length)) {
        throw new Error(this.mismatchMessage(opts.what ?? 'state dict', incoming, missing, unexpected, misShaped));
      }
      noGrad(() => {
        for (const [k, v] of incoming) {
          const mine = own.get(k);
          if (!mine || !sameShape(mine.shape, v.shape)) continue;
          if (v instanceof Tensor) mine.copyFrom(v);
          else {
            const src = Tensor.fromBytes(v.data, v.dtype, v.shape);
            try { mine.copyFrom(src); } finally { src.dispose(); }
          }
        }
      });
    } finally {
      for (const t of own.values()) t.dispose();
    }
  }

  // InstanceNorm(affine=False) has no parameters or buffers: old checkpoints' running stats for it are dropped.
  private isPatchedInstanceNormKey(key: string, own: Map<string, Tensor>): boolean {
    if (own.has(key) || this.description.norm !== 'instance') return false;
    return /\.(running_mean|running_var|num_batches_tracked)$/.test(key);
  }

  private mismatchMessage(what: string, incoming: Map<string, { shape: number[] }>, missing: string[], unexpected: string[], misShaped: string[]): string {
    const list = (title: string, items: string[]) =>
      items.length ? `\n  ${title} (${items.length}): ${items.slice(0, 8).join(', ')}${items.length > 8 ? ', …' : ''}` : '';
    const guess = guessArchitecture(new Map([...incoming].map(([k, v]) => [k, v.shape])));
    return `${what} does not fit the ${this.describe()}:` +
      list('missing keys', missing) + list('unexpected keys', unexpected) + list('mis-shaped keys', misShaped) +
      `\n  ${describeStateDictGuess(guess)}; you asked for ${describeAsked(this.description)}.`;
  }
}

/** The native builder's fields of a description, from the architecture table (the FID net has its own builder). */
function builderFields(d: NetworkDescription): BuilderFields {
  if (d.kind === 'FID') return { builder: 'fid_inception_v3', sizeMultiple: 1 };
  const resolved = resolveArchitecture(d);
  if (!resolved) throw unknownArch(d.kind, d.arch);
  return resolved.fields;
}

function unknownArch(kind: 'G' | 'D' | 'F', arch: unknown): Error {
  return expected(`one of ${architectureNames(kind).names.join(', ')}`, `net${kind}`, arch);
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function describeAsked(d: NetworkDescription): string {
  if (d.kind === 'FID') return 'the FID Inception v3';
  if (d.kind === 'F') return `PatchSampleF ${d.arch}, nc ${d.width}`;
  const cut = d.antialias || d.antialiasUp ? ' (CUT antialiased)' : '';
  return d.kind === 'G'
    ? `${d.arch}${cut}, ${d.norm} norm, ngf ${d.width}${d.useDropout ? ', dropout' : ''}`
    : `${d.arch}${cut} discriminator, ${d.norm} norm, ndf ${d.width}`;
}

/** Builds a generator as the reference's define_G (construction with default init, then init_weights). */
export function defineG(opts: GeneratorOptions = {}): Network {
  const d = GENERATOR_DEFAULTS;
  const netG = opts.netG ?? d.arch;
  const antialias = opts.antialias || opts.antialiasUp ? { antialias: !!opts.antialias, antialiasUp: !!opts.antialiasUp } : {};
  const resolved = resolveArchitecture({ kind: 'G', arch: netG, ...antialias });
  if (!resolved) throw unknownArch('G', netG);
  const description: NetworkDescription = {
    kind: 'G',
    arch: netG,
    inputNc: checkInt(opts.inputNc ?? d.inputNc, 'inputNc'),
    outputNc: checkInt(opts.outputNc ?? d.outputNc, 'outputNc'),
    width: checkInt(opts.ngf ?? d.width, 'ngf'),
    norm: checkChoice(opts.norm ?? d.norm, 'norm', NORMS),
    useDropout: opts.useDropout ?? d.useDropout,
    paddingType: checkChoice(opts.paddingType ?? d.paddingType, 'paddingType', PADDING_TYPES),
    ...antialias,
  };
  return build(description, opts);
}

/** Builds a discriminator as the reference's define_D. */
export function defineD(opts: DiscriminatorOptions = {}): Network {
  const d = DISCRIMINATOR_DEFAULTS;
  const netD = opts.netD ?? d.arch;
  const antialias = opts.antialias ? { antialias: true } : {};
  const resolved = resolveArchitecture({ kind: 'D', arch: netD, nLayersD: checkInt(opts.nLayersD ?? 3, 'nLayersD'), ...antialias });
  if (!resolved) throw unknownArch('D', netD);
  const description: NetworkDescription = {
    kind: 'D',
    arch: netD,
    inputNc: checkInt(opts.inputNc ?? d.inputNc, 'inputNc'),
    width: checkInt(opts.ndf ?? d.width, 'ndf'),
    nLayersD: resolved.fields.nLayersD ?? 3,
    norm: checkChoice(opts.norm ?? d.norm, 'norm', NORMS),
    ...antialias,
  };
  return build(description, opts);
}

/** Builds CUT's PatchSampleF as its define_F + init_net. */
export function definePatchSampleF(opts: PatchSampleOptions): Network {
  const netF = opts.netF ?? 'mlp_sample';
  if (!resolveArchitecture({ kind: 'F', arch: netF })) throw unknownArch('F', netF);
  const featureChannels = opts.featureChannels.map((c) => checkInt(c, 'featureChannels'));
  const description: NetworkDescription = {
    kind: 'F', arch: netF, inputNc: featureChannels[0] ?? 1, width: checkInt(opts.netFNc ?? 256, 'netF_nc'), norm: 'none', featureChannels,
  };
  return build(description, opts);
}

/** Rebuilds a network from a stored description (self-describing checkpoints). */
export function networkFromDescription(d: NetworkDescription, opts: { device?: string } = {}): Network {
  return build(d, { skipInit: true, device: opts.device });
}

function build(description: NetworkDescription, opts: { initType?: string; initGain?: number; device?: string; skipInit?: boolean }): Network {
  const device = resolveDevice(opts.device ?? 'cpu');
  const net = new Network(description);
  try {
    // As init_net: move first (so CUDA init draws from the CUDA generator), then init.
    if (device !== 'cpu') net.to(device);
    if (!opts.skipInit) net.initWeights(opts.initType ?? 'normal', opts.initGain ?? 0.02);
  } catch (e) {
    net.dispose();
    throw e;
  }
  return net;
}
