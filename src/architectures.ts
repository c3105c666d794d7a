// The architecture table: one entry per network family (U-Net, ResNet, n-layer PatchGAN, pixel, and CUT's
// antialiased ResNet, antialiased PatchGAN and PatchSampleF). Each entry says
// how its --netG/--netD names parse, its defaults, its size rule, its FLOPs, its state-dict signature (to guess what
// a checkpoint is) and the structural fields its native builder takes (cpp/networks.cc builds from those and only
// range-checks them). defineG/defineD, the option choices, padding, FLOP counts, the checkpoint guess and the
// checkpoint description all read this file; adding a family is one entry here plus one builder in cpp/networks.cc.
// This module imports nothing, so every layer may read it.

/** The --norm names. */
export const NORMS = ['instance', 'batch', 'none', 'syncbatch'] as const;
/** The --init_type names. */
export const INIT_TYPES = ['normal', 'xavier', 'kaiming', 'orthogonal'] as const;
/** The --gan_mode names. */
export const GAN_MODES = ['vanilla', 'lsgan', 'wgangp'] as const;
export const PADDING_TYPES = ['reflect', 'replicate', 'zero'] as const;
/** A normalization layer (--norm). */
export type Norm = typeof NORMS[number];
/** A weight initialization (--init_type). */
export type InitType = typeof INIT_TYPES[number];
/** An adversarial objective (--gan_mode). */
export type GanMode = typeof GAN_MODES[number];
export type PaddingType = typeof PADDING_TYPES[number];

/**
 * 'G' generator, 'D' discriminator, 'F' CUT's PatchSampleF (the projection head of PatchNCE), 'FID' the FID
 * Inception v3 of src/metrics (arch fid_inception_v3).
 */
export type NetworkKind = 'G' | 'D' | 'F' | 'FID';

/** What a network is, as stored in self-describing checkpoints (names only; the table derives the rest). */
export interface NetworkDescription {
  kind: NetworkKind;
  arch: string;
  inputNc: number;
  outputNc?: number;
  /** ngf (G) or ndf (D). */
  width: number;
  nLayersD?: number;
  norm: string;
  useDropout?: boolean;
  paddingType?: string;
  /** CUT's blur-pool downsampling (ResNet G, PatchGAN D) and blur upsampling (ResNet G); absent = the reference's networks. */
  antialias?: boolean;
  antialiasUp?: boolean;
  /** F: channels of each feature map it samples (one MLP each); width is netF_nc. */
  featureChannels?: number[];
}

/** What the native builder takes besides the description: which builder, and its structural numbers. */
export interface BuilderFields {
  /** The C++ builder (NetworkImpl's dispatch in cpp/networks.cc). */
  builder: string;
  /** U-Net depth: stride-2 convolutions. */
  numDowns?: number;
  /** ResNet: residual blocks and stride-2 convolutions around them. */
  nBlocks?: number;
  nDownsampling?: number;
  /** PatchGAN: stride-2 convolutions. */
  nLayersD?: number;
  /** CUT's ResNet: blur-pool downsampling, blur upsampling + conv. */
  antialias?: boolean;
  antialiasUp?: boolean;
  /** The multiple the input height and width must have (the native input check reports it). */
  sizeMultiple: number;
}

/** A guess of what network a state dict holds (keys -> shapes); dropout leaves no trace in the weights. */
export type ArchitectureGuess = Partial<NetworkDescription> & { known: boolean; dropoutUnknown?: boolean };
export type StateDictShapes = Map<string, number[]>;

/** What a family's parse reads besides the name: PatchGAN depth, CUT's antialias switches. */
export type ParseContext = Pick<NetworkDescription, 'nLayersD' | 'antialias' | 'antialiasUp'>;

export interface ArchitectureFamily {
  kind: 'G' | 'D' | 'F';
  /** Family name; also the native builder's name. */
  family: string;
  /** The names listed in --help and in errors. */
  names: readonly string[];
  /** The name grammar beyond the listed names, for help text (e.g. 'unet_<N>downs'). */
  grammar?: string;
  /** The builder's fields for an arch name of this family, or null when the name is not this family's. */
  parse(arch: string, d: ParseContext): Omit<BuilderFields, 'sizeMultiple'> | null;
  /** Input height and width must be multiples of this. */
  sizeMultiple(f: BuilderFields): number;
  /** The smallest input side. */
  minInputSize(f: BuilderFields): number;
  /** Convolution FLOPs (2 * multiply-adds) of one forward on an H x W input, batch 1. */
  flops(d: NetworkDescription, f: BuilderFields, h: number, w: number): number;
  /** A guess from a state dict's keys and shapes, or null when the keys are not this family's. */
  signature(shapes: StateDictShapes): ArchitectureGuess | null;
}

function conv(cin: number, cout: number, k: number, hOut: number, wOut: number): number {
  return 2 * cin * cout * k * k * hOut * wOut;
}
// A transposed convolution costs what the convolution it inverts does, counted on its input size.
const deconv = conv;

function normFrom(keys: string[], biasKey: string): string {
  if (keys.some((k) => k.endsWith('.running_mean'))) return 'batch';
  if (keys.includes(biasKey)) return 'instance';
  return 'none';
}
/** The conv weights model.<i>.weight of a Sequential, in index order. */
function seqConvWeights(shapes: StateDictShapes, prefix = 'model'): string[] {
  return [...shapes.keys()].filter((k) => new RegExp(`^${prefix}\\.\\d+\\.weight$`).test(k) && shapes.get(k)!.length === 4)
    .sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]));
}
function suffixed(arch: string, prefix: string, suffix: string): number | null {
  const m = new RegExp(`^${prefix}(\\d{1,3})${suffix}$`).exec(arch);
  return m ? Number(m[1]) : null;
}

const UNET_NAMED: Record<string, number> = { unet_256: 8, unet_128: 7 };

/** The reference's UnetGenerator: num_downs stride-2 convs, skip connections at every level. */
const UNET = {
  kind: 'G', family: 'unet', names: ['unet_256', 'unet_128'] as const, grammar: 'unet_<N>downs',
  parse(arch) {
    const numDowns = UNET_NAMED[arch] ?? suffixed(arch, 'unet_', 'downs');
    return numDowns === null ? null : { builder: 'unet', numDowns };
  },
  sizeMultiple: (f) => 2 ** f.numDowns!,
  minInputSize: (f) => 2 ** f.numDowns!,
  flops(d, f, h, w) {
    const n = f.numDowns!, ngf = d.width;
    const c = Array.from({ length: n }, (_, l) => ngf * Math.min(2 ** l, 8));
    let total = 0;
    for (let l = 0; l < n; l++) {
      const s = 2 ** (l + 1);
      total += conv(l === 0 ? d.inputNc : c[l - 1], c[l], 4, h / s, w / s);
      total += deconv(l === n - 1 ? c[l] : 2 * c[l], l === 0 ? (d.outputNc ?? 3) : c[l - 1], 4, h / s, w / s);
    }
    return total;
  },
  signature(shapes) {
    const keys = [...shapes.keys()];
    if (!keys.some((k) => k.startsWith('model.model.'))) return null;
    // Each nested UnetSkipConnectionBlock adds one "model" token (block.model) to its keys.
    let maxTokens = 0;
    for (const k of keys) maxTokens = Math.max(maxTokens, k.split('.').filter((p) => p === 'model').length);
    const numDowns = maxTokens - 1;
    const first = shapes.get('model.model.0.weight');
    const arch = Object.keys(UNET_NAMED).find((n) => UNET_NAMED[n] === numDowns) ?? `unet_${numDowns}downs`;
    return {
      known: true, kind: 'G', arch, width: first?.[0], inputNc: first?.[1], outputNc: shapes.get('model.model.3.weight')?.[1],
      norm: normFrom(keys, 'model.model.1.model.1.bias'), dropoutUnknown: true,
    };
  },
} as const satisfies ArchitectureFamily;

/** The reference's ResnetGenerator: 2 stride-2 convs, n_blocks residual blocks, 2 transposed convs. */
const RESNET = {
  kind: 'G', family: 'resnet', names: ['resnet_9blocks', 'resnet_6blocks'] as const, grammar: 'resnet_<N>blocks',
 
  parse(arch, d) {
    const nBlocks = suffixed(arch, 'resnet_', 'blocks');
    return nBlocks === null || d.antialias || d.antialiasUp ? null : { builder: 'resnet', nBlocks, nDownsampling: 2 };
  },
  sizeMultiple: (f) => 2 ** f.nDownsampling!,
  // The blocks mirror-pad by 1 at the bottleneck, which needs at least 2 pixels there.
  minInputSize: (f) => 2 * 2 ** f.nDownsampling!,
  flops: (d, f, h, w) => resnetFlops(d, f, h, w),
  signature(shapes) {
    const keys = [...shapes.keys()];
    if (!keys.some((k) => k.includes('.conv_block.')) || keys.some(isBlurFilter)) return null;
    const blocks = new Set(keys.filter((k) => k.includes('.conv_block.')).map((k) => k.split('.')[1]));
    const first = shapes.get('model.1.weight');
    const convs = seqConvWeights(shapes);
    return {
      known: true, kind: 'G', arch: `resnet_${blocks.size}blocks`, width: first?.[0], inputNc: first?.[1],
      outputNc: convs.length ? shapes.get(convs[convs.length - 1])?.[0] : undefined, norm: normFrom(keys, 'model.1.bias'),
      dropoutUnknown: true,
    };
  },
} as const satisfies ArchitectureFamily;

/**
 * The ResNet generator's convolutions. CUT's antialiased downsampling runs its 3x3 conv at stride 1 before the blur
 * pool (depthwise, left out); its blur upsampling + 3x3 conv on 2H x 2W costs 4x the stride-2 ConvTranspose2d on H x W.
 */
function resnetFlops(d: NetworkDescription, f: BuilderFields, h: number, w: number): number {
  const ngf = d.width, n = f.nDownsampling!;
  let total = conv(d.inputNc, ngf, 7, h, w) + conv(ngf, d.outputNc ?? 3, 7, h, w);
  for (let i = 0; i < n; i++) {
    const s = 2 ** (i + 1), m = 2 ** i, down = f.antialias ? s / 2 : s;
    total += conv(ngf * m, ngf * m * 2, 3, h / down, w / down) + (f.antialiasUp ? 4 : 1) * deconv(ngf * m * 2, ngf * m, 3, h / s, w / s);
  }
  const bottleneck = 2 ** n;
  return total + 2 * f.nBlocks! * conv(bottleneck * ngf, bottleneck * ngf, 3, h / bottleneck, w / bottleneck);
}

/** CUT's blur-pool / blur-upsample buffers (`model.<i>.filt`): what tells its networks from the reference's. */
function isBlurFilter(key: string): boolean { return /^model\.\d+\.filt$/.test(key); }

/**
 * CUT's ResnetGenerator (taesungp/contrastive-unpaired-translation): the ResNet generator whose stride-2 convs are
 * a stride-1 conv + blur pool (antialias) and whose transposed convs are blur upsampling + a 3x3 conv
 * (antialiasUp). It takes the ResNet names; `--no_antialias` and `--no_antialias_up` both given select the plain
 * ResNet family instead (the same layers).
 */
const RESNET_CUT = {
  kind: 'G', family: 'resnet_cut', names: RESNET.names, grammar: RESNET.grammar,
  parse(arch, d) {
    const nBlocks = suffixed(arch, 'resnet_', 'blocks');
    if (nBlocks === null || !(d.antialias || d.antialiasUp)) return null;
    return { builder: 'resnet_cut', nBlocks, nDownsampling: 2, antialias: !!d.antialias, antialiasUp: !!d.antialiasUp };
  },
  sizeMultiple: RESNET.sizeMultiple,
  minInputSize: RESNET.minInputSize,
  flops: (d, f, h, w) => resnetFlops(d, f, h, w),
  signature(shapes) {
    const keys = [...shapes.keys()];
    const blurs = keys.filter(isBlurFilter).map((k) => Number(k.split('.')[1]));
    if (!keys.some((k) => k.includes('.conv_block.')) || !blurs.length) return null;
    const blocks = new Set(keys.filter((k) => k.includes('.conv_block.')).map((k) => k.split('.')[1]));
    const firstBlock = Math.min(...[...blocks].map(Number));
    const first = shapes.get('model.1.weight');
    const convs = seqConvWeights(shapes);
    return {
      known: true, kind: 'G', arch: `resnet_${blocks.size}blocks`, width: first?.[0], inputNc: first?.[1],
      outputNc: convs.length ? shapes.get(convs[convs.length - 1])?.[0] : undefined, norm: normFrom(keys, 'model.1.bias'),
      dropoutUnknown: true, antialias: blurs.some((i) => i < firstBlock), antialiasUp: blurs.some((i) => i > firstBlock),
    };
  },
} as const satisfies ArchitectureFamily;

/** The reference's NLayerDiscriminator (basic = 3 layers, the 70x70 PatchGAN). */
const N_LAYERS = {
  kind: 'D', family: 'n_layers', names: ['basic', 'n_layers'] as const,
  parse(arch, d) {
    if (d.antialias) return null;
    if (arch === 'basic') return { builder: 'n_layers', nLayersD: 3 };
    return arch === 'n_layers' ? { builder: 'n_layers', nLayersD: d.nLayersD ?? 3 } : null;
  },
  sizeMultiple: () => 1,
  // Each stride-2 conv halves the side and the two final 4x4 stride-1 convs take 1 each.
  minInputSize: (f) => 2 ** (f.nLayersD! + 2),
  flops(d, f, h, w) {
    return nLayerFlops(d, f, h, w, false);
  },
  signature(shapes) {
    const first = shapes.get('model.0.weight');
    if (!first || first.length !== 4 || first[2] !== 4 || shapes.has('model.2.filt')) return null;
    const nLayers = seqConvWeights(shapes).length - 2;
    return {
      known: true, kind: 'D', arch: nLayers === 3 ? 'basic' : 'n_layers', nLayersD: nLayers, width: first[0],
      inputNc: first[1], norm: normFrom([...shapes.keys()], 'model.2.bias'),
    };
  },
} as const satisfies ArchitectureFamily;

/**
 * The PatchGAN's convolutions. Each downsampling layer is a stride-2 4x4 conv, or (CUT's antialiased one) a
 * stride-1 4x4 conv followed by a blur pool (depthwise, left out of the count); the two final 4x4 stride-1 convs
 * take 1 each from the side.
 */
function nLayerFlops(d: NetworkDescription, f: BuilderFields, h: number, w: number, antialias: boolean): number {
  const ndf = d.width, layers = f.nLayersD!;
  const half = (v: number) => Math.floor((v - 2) / 2) + 1;
  let hh = h, ww = w, cin = d.inputNc, total = 0;
  const downLayer = (cout: number) => {
    total += antialias ? conv(cin, cout, 4, hh - 1, ww - 1) : conv(cin, cout, 4, half(hh), half(ww));
    hh = half(hh); ww = half(ww); cin = cout;
  };
  downLayer(ndf);
  for (let n = 1; n < layers; n++) downLayer(ndf * Math.min(2 ** n, 8));
  const last = ndf * Math.min(2 ** layers, 8);
  total += conv(cin, last, 4, hh - 1, ww - 1);
  return total + conv(last, 1, 4, hh - 2, ww - 2);
}

/** The reference's PixelDiscriminator: a 1x1 PatchGAN that judges every pixel on its own. */
const PIXEL = {
  kind: 'D', family: 'pixel', names: ['pixel'] as const,
  parse: (arch) => (arch === 'pixel' ? { builder: 'pixel' } : null),
  sizeMultiple: () => 1,
  minInputSize: () => 1,
  flops: (d, f, h, w) => conv(d.inputNc, d.width, 1, h, w) + conv(d.width, 2 * d.width, 1, h, w) + conv(2 * d.width, 1, 1, h, w),
  signature(shapes) {
    const first = shapes.get('net.0.weight');
    if (!first) return null;
    return { known: true, kind: 'D', arch: 'pixel', width: first[0], inputNc: first[1], norm: normFrom([...shapes.keys()], 'net.2.bias') };
  },
} as const satisfies ArchitectureFamily;

/** CUT's NLayerDiscriminator (antialias, CUT's default): each stride-2 conv is a stride-1 conv + blur pool. */
const N_LAYERS_CUT = {
  kind: 'D', family: 'n_layers_cut', names: N_LAYERS.names,
  parse(arch, d) {
    if (!d.antialias) return null;
    if (arch === 'basic') return { builder: 'n_layers_cut', nLayersD: 3 };
    return arch === 'n_layers' ? { builder: 'n_layers_cut', nLayersD: d.nLayersD ?? 3 } : null;
  },
  sizeMultiple: () => 1,
  // Each 4x4 stride-1 conv takes 1 from the side and each blur pool halves it (rounding up).
  minInputSize: (f) => 2 ** (f.nLayersD! + 2),
  flops: (d, f, h, w) => nLayerFlops(d, f, h, w, true),
  signature(shapes) {
    const first = shapes.get('model.0.weight');
    if (!first || first.length !== 4 || first[2] !== 4 || !shapes.has('model.2.filt')) return null;
    const nLayers = seqConvWeights(shapes).length - 2;
    return {
      known: true, kind: 'D', arch: nLayers === 3 ? 'basic' : 'n_layers', nLayersD: nLayers, width: first[0],
      inputNc: first[1], norm: normFrom([...shapes.keys()], 'model.3.bias'), antialias: true,
    };
  },
} as const satisfies ArchitectureFamily;

/**
 * CUT's PatchSampleF: samples patches of the generator's encoder features and projects each feature map's patches
 * with its own Linear(C_i, nc)-ReLU-Linear(nc, nc) (mlp_sample) or not at all (sample), then L2-normalises them.
 * Its width is netF_nc; featureChannels (known only once it has seen features) gives one MLP per feature map.
 */
const PATCH_SAMPLE_F = {
  kind: 'F', family: 'patch_sample', names: ['mlp_sample', 'sample'] as const,
  parse(arch) {
    if (arch === 'mlp_sample') return { builder: 'patch_sample_mlp' };
    return arch === 'sample' ? { builder: 'patch_sample' } : null;
  },
  sizeMultiple: () => 1,
  minInputSize: () => 1,
  // Its input is patches, not an image: the MLPs on h * w sampled patches of each feature map.
  flops(d, f, h, w) {
    if (f.builder !== 'patch_sample_mlp') return 0;
    const nc = d.width;
    return (d.featureChannels ?? []).reduce((total, c) => total + 2 * (c * nc + nc * nc) * h * w, 0);
  },
  signature(shapes) {
    const mlps = [...shapes.keys()].filter((k) => /^mlp_\d+\.0\.weight$/.test(k))
      .sort((a, b) => Number(a.split('.')[0].slice(4)) - Number(b.split('.')[0].slice(4)));
    if (!mlps.length) return null;
    const featureChannels = mlps.map((k) => shapes.get(k)![1]);
    return { known: true, kind: 'F', arch: 'mlp_sample', width: shapes.get(mlps[0])![0], inputNc: featureChannels[0], featureChannels, norm: 'none' };
  },
} as const satisfies ArchitectureFamily;

/**
 * Every family, in the order help lists their names (the signatures are disjoint, so the guess order is free; the
 * CUT families share the names of the families they vary, and the antialias switches pick between them).
 */
export const ARCHITECTURES: readonly ArchitectureFamily[] = [UNET, RESNET, RESNET_CUT, N_LAYERS, N_LAYERS_CUT, PIXEL, PATCH_SAMPLE_F];

/** The listed --netG names (unet_<N>downs and resnet_<N>blocks are accepted too). */
export const GENERATOR_ARCHS = [...UNET.names, ...RESNET.names] as const;
/** The --netD names. */
export const DISCRIMINATOR_ARCHS = [...N_LAYERS.names, ...PIXEL.names] as const;
/** A --netG value: the listed names, or a family's grammar (unet_<N>downs, resnet_<N>blocks). */
export type GeneratorArch = typeof GENERATOR_ARCHS[number] | `unet_${number}downs` | `resnet_${number}blocks`;
/** A discriminator architecture (--netD). */
export type DiscriminatorArch = typeof DISCRIMINATOR_ARCHS[number];
/** CUT's --netF values. */
export const PATCH_SAMPLE_ARCHS = PATCH_SAMPLE_F.names;
export type PatchSampleArch = typeof PATCH_SAMPLE_ARCHS[number];

/** What the reference's define_G / define_D use when an option is not given. */
export const GENERATOR_DEFAULTS = {
  arch: 'resnet_9blocks', inputNc: 3, outputNc: 3, width: 64, norm: 'batch', useDropout: false, paddingType: 'reflect',
} as const;
export const DISCRIMINATOR_DEFAULTS = { arch: 'basic', inputNc: 3, width: 64, norm: 'batch' } as const;

/** The family and builder fields of a description; null when no family of that kind knows its arch. */
export function resolveArchitecture(d: Pick<NetworkDescription, 'kind' | 'arch'> & ParseContext): { family: ArchitectureFamily; fields: BuilderFields } | null {
  for (const family of ARCHITECTURES) {
    if (family.kind !== d.kind) continue;
    const parsed = family.parse(d.arch, d);
    if (!parsed) continue;
    const fields = { ...parsed, sizeMultiple: 1 };
    fields.sizeMultiple = family.sizeMultiple(fields);
    return { family, fields };
  }
  return null;
}

/** The listed names of a kind, and its grammar, for help and error messages. */
export function architectureNames(kind: 'G' | 'D' | 'F'): { names: string[]; grammar: string[] } {
  const families = ARCHITECTURES.filter((f) => f.kind === kind);
  const unique = (list: string[]) => [...new Set(list)];
  return { names: unique(families.flatMap((f) => [...f.names])), grammar: unique(families.flatMap((f) => (f.grammar ? [f.grammar] : []))) };
}

/** The first family whose signature matches a state dict's keys and shapes. */
export function guessArchitecture(shapes: StateDictShapes): ArchitectureGuess {
  for (const family of ARCHITECTURES) {
    const guess = family.signature(shapes);
    if (guess) return guess;
  }
  return { known: false };
}

export function describeStateDictGuess(g: ArchitectureGuess): string {
  if (!g.known) return 'the checkpoint does not look like any network of this project';
  if (g.kind === 'F') return `the checkpoint looks like CUT's PatchSampleF (${g.arch}, nc ${g.width}, ${g.featureChannels?.length} feature maps)`;
  const cut = g.antialias || g.antialiasUp ? ' (CUT antialiased)' : '';
  if (g.kind === 'G') {
    return `the checkpoint looks like ${g.arch}${cut}, ${g.norm} norm, ngf ${g.width}, ${g.inputNc}->${g.outputNc} channels`;
  }
  return `the checkpoint looks like a ${g.arch}${cut} discriminator${g.arch === 'n_layers' ? ` (n_layers_D ${g.nLayersD})` : ''}, ${g.norm} norm, ndf ${g.width}, ${g.inputNc} input channels`;
}

/** The multiple a generator's input height and width must have (4 for an unknown arch, as for ResNets). */
export function sizeMultiple(arch: string): number {
  return resolveArchitecture({ kind: 'G', arch })?.fields.sizeMultiple ?? 4;
}

/** The smallest side a generator's input may have. */
export function minInputSize(arch: string): number {
  const r = resolveArchitecture({ kind: 'G', arch });
  return r ? r.family.minInputSize(r.fields) : 8;
}

/** Forward FLOPs of a network on an H x W input (batch 1), for the benchmark's GFLOP/s. */
export function forwardFlops(d: NetworkDescription, h: number, w: number): number {
  const r = resolveArchitecture(d);
  if (!r) throw new Error(`no FLOP count for the ${d.kind} architecture '${d.arch}'`);
  return r.family.flops(d, r.fields, h, w);
}
