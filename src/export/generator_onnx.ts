// Lays a generator out as an ONNX graph, module by module in the order cpp/networks.cc builds it, so each
// state_dict key (model.model.1.model.2.weight, model.10.conv_block.5.bias, ...) lands on the node it belongs
// to. Eval semantics only: BatchNorm with running statistics, dropout left out.
import type { NetworkDescription } from '../networks';
import { BuilderFields, resolveArchitecture } from '../architectures';
import { Dim, OnnxGraph } from './onnx_graph';
import { onnxError } from './export_errors';

/** Float weights by state_dict key. */
export type Weights = Map<string, { data: Float32Array; shape: number[] }>;

const NORM_EPS = 1e-5;   // kNormEps of cpp/networks.cc
const LEAKY_SLOPE = 0.2; // kLeakySlope

/** Numbers the modules of one nn::Sequential as push_back does: `${prefix}.0`, `${prefix}.1`, ... */
class Seq {
  private i = 0;
  constructor(readonly prefix: string) {}
  next(): string { return `${this.prefix}.${this.i++}`; }
}

class Builder {
  readonly used = new Set<string>();
  constructor(readonly g: OnnxGraph, readonly weights: Weights, readonly d: NetworkDescription) {}

  private take(key: string): { name: string; shape: number[] } | null {
    const w = this.weights.get(key);
    if (!w) return null;
    this.used.add(key);
    return { name: this.g.addFloat(key, w.data, w.shape), shape: w.shape };
  }
  private need(key: string): { name: string; shape: number[] } {
    const w = this.take(key);
    if (!w) throw onnxError('ERR_IMG2IMG_ONNX_WEIGHTS', `a tensor ${key}`, `the ${this.d.arch} generator's weights`, 'none');
    return w;
  }

  conv(key: string, x: string, stride: number, pad: number): string {
    const w = this.need(`${key}.weight`);
    const b = this.take(`${key}.bias`); // the reference's use_bias rule decided whether there is one
    const k = w.shape[2];
    return this.g.node('Conv', b ? [x, w.name, b.name] : [x, w.name],
      { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad] });
  }

  /** Stride-2 ConvTranspose2d; out = 2(in-1) + k - 2 pad + outPad, as in PyTorch and the ONNX spec. */
  deconv(key: string, x: string, pad: number, outPad: number): string {
    const w = this.need(`${key}.weight`);
    const b = this.take(`${key}.bias`);
    const k = w.shape[2];
    return this.g.node('ConvTranspose', b ? [x, w.name, b.name] : [x, w.name],
      { kernel_shape: [k, k], strides: [2, 2], pads: [pad, pad, pad, pad], output_padding: [outPad, outPad] });
  }

  /** get_norm_layer: BatchNorm (running stats), InstanceNorm without affine (unit scale, zero shift), or none. */
  norm(key: string, x: string, channels: number): string {
    const norm = this.d.norm;
    if (norm === 'batch' || norm === 'syncbatch') {
      const [s, b, m, v] = ['weight', 'bias', 'running_mean', 'running_var'].map((p) => this.need(`${key}.${p}`).name);
      return this.g.node('BatchNormalization', [x, s, b, m, v], { epsilon: { float: NORM_EPS } });
    }
    if (norm === 'instance') {
      return this.g.node('InstanceNormalization',
        [x, this.g.filledConstant(channels, 1), this.g.filledConstant(channels, 0)], { epsilon: { float: NORM_EPS } });
    }
    return x;
  }

  /** ReflectionPad2d (reflect: no edge repeat, as the ONNX spec's example) or ReplicationPad2d (edge). */
  pad(x: string, p: number, mode: 'reflect' | 'edge'): string {
    return this.g.node('Pad', [x, this.g.int64Constant([0, 0, p, p, 0, 0, p, p])], { mode });
  }

  /**
   * CUT's blur filters (buffer `<key>.filt`, depthwise): Downsample = reflect pad 1, stride-2 conv; Upsample =
   * edge pad 1, stride-2 transposed conv with pads 2, then the crop [1:-1] of H and W (cpp/cut_networks.cc).
   */
  blur(key: string, x: string, direction: 'down' | 'up'): string {
    const f = this.need(`${key}.filt`);
    const group = f.shape[0], k = f.shape[2];
    if (direction === 'down') {
      return this.g.node('Conv', [this.pad(x, 1, 'reflect'), f.name], { kernel_shape: [k, k], strides: [2, 2], pads: [0, 0, 0, 0], group });
    }
    const p = 1 + Math.floor((k - 1) / 2);
    const y = this.g.node('ConvTranspose', [this.pad(x, 1, 'edge'), f.name], { kernel_shape: [k, k], strides: [2, 2], pads: [p, p, p, p], group });
    return this.g.node('Slice', [y, this.g.int64Constant([1, 1]), this.g.int64Constant([-1, -1]), this.g.int64Constant([2, 3])]);
  }

  relu(x: string): string { return this.g.node('Relu', [x]); }
  lrelu(x: string): string { return this.g.node('LeakyRelu', [x], { alpha: { float: LEAKY_SLOPE } }); }
  tanh(x: string, output?: string): string { return this.g.node('Tanh', [x], {}, output); }
}

/** UnetBlockImpl at depth `level` (0 = outermost); its submodule sits at a fixed index of its Sequential. */
function unetBlock(b: Builder, prefix: string, x: string, level: number, downs: number, out: string): string {
  const ngf = b.d.width;
  const outerNc = level === 0 ? (b.d.outputNc ?? 3) : ngf * Math.min(2 ** (level - 1), 8);
  const innerNc = ngf * Math.min(2 ** level, 8);
  const s = new Seq(`${prefix}.model`);
  if (level === 0) { // downconv, submodule, ReLU, upconv, Tanh
    const [downKey, subKey, , upKey] = [s.next(), s.next(), s.next(), s.next()];
    const sub = unetBlock(b, subKey, b.conv(downKey, x, 2, 1), 1, downs, out);
    return b.tanh(b.deconv(upKey, b.relu(sub), 1, 0), out);
  }
  let y: string;
  if (level === downs - 1) { // innermost: LeakyReLU, downconv, ReLU, upconv, upnorm
    const [, downKey, , upKey, upNormKey] = [s.next(), s.next(), s.next(), s.next(), s.next()];
    const down = b.conv(downKey, b.lrelu(x), 2, 1);
    y = b.norm(upNormKey, b.deconv(upKey, b.relu(down), 1, 0), outerNc);
  } else { // LeakyReLU, downconv, downnorm, submodule, ReLU, upconv, upnorm[, Dropout: identity in eval]
    const [, downKey, downNormKey, subKey, , upKey, upNormKey] = [s.next(), s.next(), s.next(), s.next(), s.next(), s.next(), s.next()];
    const down = b.norm(downNormKey, b.conv(downKey, b.lrelu(x), 2, 1), innerNc);
    const sub = unetBlock(b, subKey, down, level + 1, downs, out);
    y = b.norm(upNormKey, b.deconv(upKey, b.relu(sub), 1, 0), outerNc);
  }
  return b.g.node('Concat', [x, y], { axis: 1 }); // torch.cat([x, model(x)], 1)
}

/** One 3x3 conv of a ResnetBlock with its padding (PushPadding: a pad module, or the conv's own zero padding). */
function blockConv(b: Builder, s: Seq, x: string): string {
  const mode = b.d.paddingType ?? 'reflect';
  if (mode === 'zero') return b.conv(s.next(), x, 1, 1);
  s.next();
  return b.conv(s.next(), b.pad(x, 1, mode === 'reflect' ? 'reflect' : 'edge'), 1, 0);
}

/** ResnetBlockImpl: x + (pad, conv, norm, ReLU, [Dropout], pad, conv, norm)(x). */
function resnetBlock(b: Builder, key: string, x: string, dim: number): string {
  const s = new Seq(`${key}.conv_block`);
  let y = blockConv(b, s, x);
  y = b.norm(s.next(), y, dim);
  s.next();
  y = b.relu(y);
  if (b.d.useDropout) s.next();
  y = blockConv(b, s, y);
  y = b.norm(s.next(), y, dim);
  return b.g.node('Add', [x, y]);
}

/** BuildResnet: pad 3, conv 7, downsamplings, blocks, transposed convs, pad 3, conv 7, Tanh. */
function resnet(b: Builder, x: string, f: BuilderFields, out: string): string {
  const blocks = f.nBlocks!, downs = f.nDownsampling!;
  const ngf = b.d.width;
  const s = new Seq('model');
  // conv -> norm -> ReLU with the Sequential's indices taken in push_back order
  const convNormRelu = (y: string, c: number, layer: (key: string, y: string) => string) => {
    const [convKey, normKey] = [s.next(), s.next()];
    s.next();
    return b.relu(b.norm(normKey, layer(convKey, y), c));
  };
  s.next();
  let y = convNormRelu(b.pad(x, 3, 'reflect'), ngf, (k, v) => b.conv(k, v, 1, 0));
  // CUT's antialiased variant: stride-1 conv then a blur pool; blur upsample then a 3x3 conv (cut_networks.cc).
  const { antialias, antialiasUp } = f;
  for (let i = 0; i < downs; i++) {
    y = convNormRelu(y, ngf * 2 ** (i + 1), (k, v) => b.conv(k, v, antialias ? 1 : 2, 1));
    if (antialias) y = b.blur(s.next(), y, 'down');
  }
  for (let i = 0; i < blocks; i++) y = resnetBlock(b, s.next(), y, ngf * 2 ** downs);
  for (let i = 0; i < downs; i++) {
    if (antialiasUp) y = b.blur(s.next(), y, 'up');
    y = convNormRelu(y, ngf * 2 ** (downs - i - 1), (k, v) => (antialiasUp ? b.conv(k, v, 1, 1) : b.deconv(k, v, 1, 1)));
  }
  s.next();
  return b.tanh(b.conv(s.next(), b.pad(y, 3, 'reflect'), 1, 0), out);
}

/** The ONNX graph of each generator builder of the architecture table that can be exported. */
const GRAPHS: Record<string, (b: Builder, x: string, f: BuilderFields, out: string) => string> = {
  unet: (b, x, f, out) => unetBlock(b, 'model', x, 0, f.numDowns!, out),
  resnet,
  resnet_cut: resnet,
};

export interface GeneratorGraphOptions {
  /** Input dims [N, C, H, W]; strings are dynamic (dim_param). */
  inputDims: Dim[];
  outputDims: Dim[];
}

/** Adds the generator's nodes to `g` (input 'input', output 'output'); every float weight must be used. */
export function buildGeneratorGraph(g: OnnxGraph, d: NetworkDescription, weights: Weights, o: GeneratorGraphOptions): void {
  const arch = d.kind === 'G' ? resolveArchitecture(d) : null;
  const graph = arch ? GRAPHS[arch.fields.builder] : undefined;
  if (!arch || !graph) throw onnxError('ERR_IMG2IMG_ONNX_ARCH', 'a generator architecture (unet_*, resnet_*)', 'ONNX export', `'${d.kind} ${d.arch}'`);
  const b = new Builder(g, weights, d);
  const x = g.addInput('input', o.inputDims);
  graph(b, x, arch.fields, 'output');
  g.addOutput('output', o.outputDims);
  const unused = [...weights.keys()].filter((k) => !b.used.has(k));
  if (unused.length) {
    throw onnxError('ERR_IMG2IMG_ONNX_WEIGHTS', `every weight placed in the ${d.arch} graph`, 'ONNX export',
      `${unused.length} unused (${unused.slice(0, 4).join(', ')})`, 'the weights do not match the description');
  }
}
