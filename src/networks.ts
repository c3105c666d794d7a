// defineG / defineD: the reference's networks (built in C++) behind a small TypeScript class.
import type { NativeNetwork } from '../binding';
import { native } from './native';
import { resolveDevice } from './runtime';
import { OptionError } from './options/option_errors';
import { DType, noGrad, Tensor } from './tensor';
import { describeStateDictGuess, guessArchitecture } from './checkpoint/architecture_guess';
import { parseGeneratorArch } from './generator_arch';

import { GENERATOR_ARCHS, DISCRIMINATOR_ARCHS, NORMS, INIT_TYPES } from './architectures';
import type { GeneratorArch, DiscriminatorArch, Norm, InitType, Device } from './architectures';
export { GENERATOR_ARCHS, DISCRIMINATOR_ARCHS, NORMS, INIT_TYPES };
export type { GeneratorArch, DiscriminatorArch, Norm, InitType, Device };

export interface GeneratorOptions {
  netG?: GeneratorArch; inputNc?: number; outputNc?: number; ngf?: number; norm?: Norm; useDropout?: boolean;
  initType?: InitType; initGain?: number; device?: Device; paddingType?: 'reflect' | 'replicate' | 'zero';
  /** CUT's ResNet generator (src/cut_networks.ts): blur-pool downsampling / blur upsampling + conv (ResNet only). */
  antialias?: boolean; antialiasUp?: boolean;
  /** Skip init_weights (keep libtorch's default init), e.g. when a checkpoint is loaded right after. */
  skipInit?: boolean;
}
export interface DiscriminatorOptions {
  netD?: DiscriminatorArch; inputNc?: number; ndf?: number; nLayersD?: number; norm?: Norm;
  initType?: InitType; initGain?: number; device?: Device; skipInit?: boolean;
  /** CUT's PatchGAN: blur-pool downsampling (src/cut_networks.ts). */
  antialias?: boolean;
}

/** What a network is, as stored in self-describing checkpoints. */
export interface NetworkDescription {
  /** G: generator, D: discriminator, F: CUT's PatchSampleF (src/cut_networks.ts), FID: the FID Inception v3 of src/metrics (arch fid_inception_v3). */
  kind: 'G' | 'D' | 'F' | 'FID';
  arch: string;
  inputNc: number;
  outputNc?: number;
  width: number;
  nLayersD?: number;
  norm: string;
  useDropout?: boolean;
  paddingType?: string;
  /** CUT's antialiased ResNet generator / PatchGAN (absent = the reference's networks). */
  antialias?: boolean;
  antialiasUp?: boolean;
  /** F: channels of each feature map it samples (one MLP each); width is netF_nc. */
  featureChannels?: number[];
}

/** A raw tensor as read from a checkpoint file (no native memory yet). */
export interface RawTensorLike { dtype: DType; shape: number[]; data: Uint8Array }
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

export class Network {
  readonly native: NativeNetwork;
  readonly description: NetworkDescription;

  constructor(description: NetworkDescription) {
    this.description = { ...description };
    this.native = new (native().Network)({ ...description });
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
  train(on = true): this { this.native.train(on); return this; }
  eval(): this { this.native.train(false); return this; }
  get isTraining(): boolean { return this.native.isTraining; }
  get device(): string { return this.native.device; }
  to(device: string): this { this.native.to(resolveDevice(device)); return this; }
  initWeights(initType = 'normal', initGain = 0.02): void {
    checkChoice(initType, 'initType', INIT_TYPES);
    this.native.initWeights(initType, initGain);
  }
  numParameters(): number { return this.native.numParameters(); }
  describe(): string { return this.native.describe(); }
  parameters(): Tensor[] { return this.native.parameters().map((t) => new Tensor(t)); }
  setRequiresGrad(on: boolean): void { this.native.setRequiresGrad(on); }
  zeroGrad(): void { this.native.zeroGrad(); }
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
  const netG = opts.netG ?? 'resnet_9blocks';
  if (!parseGeneratorArch(netG)) checkChoice(netG, 'netG', GENERATOR_ARCHS);
  const description: NetworkDescription = {
    kind: 'G',
    arch: netG,
    inputNc: checkInt(opts.inputNc ?? 3, 'inputNc'),
    outputNc: checkInt(opts.outputNc ?? 3, 'outputNc'),
    width: checkInt(opts.ngf ?? 64, 'ngf'),
    norm: checkChoice(opts.norm ?? 'batch', 'norm', NORMS),
    useDropout: !!opts.useDropout,
    paddingType: opts.paddingType ?? 'reflect',
    ...(opts.antialias || opts.antialiasUp ? { antialias: !!opts.antialias, antialiasUp: !!opts.antialiasUp } : {}),
  };
  return build(description, opts);
}

/** Builds a discriminator as the reference's define_D. */
export function defineD(opts: DiscriminatorOptions = {}): Network {
  const netD = checkChoice(opts.netD ?? 'basic', 'netD', DISCRIMINATOR_ARCHS);
  const description: NetworkDescription = {
    kind: 'D',
    arch: netD,
    inputNc: checkInt(opts.inputNc ?? 3, 'inputNc'),
    width: checkInt(opts.ndf ?? 64, 'ndf'),
    nLayersD: netD === 'basic' ? 3 : checkInt(opts.nLayersD ?? 3, 'nLayersD'),
    norm: checkChoice(opts.norm ?? 'batch', 'norm', NORMS),
    ...(opts.antialias ? { antialias: true } : {}),
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
