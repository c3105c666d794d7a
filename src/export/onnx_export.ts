// exportOnnx: a loaded generator (loadGenerator) to an .onnx file, eval semantics, dynamic batch/height/width
// unless a fixed size is asked for, with the pre/post contract in metadata_props (onnx_contract.ts).
import * as fs from 'fs';
import * as path from 'path';
import type { Generator } from '../inference/generator';
import { readCheckpointInfo } from '../checkpoint/network_checkpoint';
import { writeFileAtomic } from '../util/atomic_write';
import { buildGeneratorGraph, Weights } from './generator_onnx';
import { contractMetadata, OnnxContract } from './onnx_contract';
import { Dim, OnnxGraph } from './onnx_graph';
import { onnxError } from './export_errors';

/**
 * Opsets written: 11 is the first with Pad's pads as an input (and the reflect mode we rely on unchanged since);
 * the operators used (Conv, ConvTranspose, BatchNormalization, InstanceNormalization, Pad, Concat, Add, Relu,
 * LeakyRelu, Tanh) keep their inference semantics up to 21.
 */
export const MIN_OPSET = 11;
/** The newest ONNX opset exportOnnx writes. */
export const MAX_OPSET = 21;
/** The opset exportOnnx writes when none is given. */
export const DEFAULT_OPSET = 17;

/** exportOnnx's options. */
export interface ExportOnnxOptions {
  /** ONNX opset (default 17). */
  opset?: number;
  /** Fixed [height, width] (multiples of the generator's size multiple); default dynamic. */
  size?: [number, number];
}

/** What exportOnnx wrote. */
export interface ExportOnnxResult {
  file: string;
  bytes: number;
  opset: number;
  inputDims: Dim[];
  contract: OnnxContract;
}

/** The serialized model. */
export function exportOnnxBytes(generator: Generator, options: ExportOnnxOptions = {}): { model: Uint8Array; opset: number; inputDims: Dim[]; contract: OnnxContract } {
  if (generator.isDisposed) throw onnxError('ERR_IMG2IMG_ONNX_MODEL', 'a live generator', 'exportOnnx', 'a disposed one');
  if (generator.mode !== 'eval') {
    throw onnxError('ERR_IMG2IMG_ONNX_TRAIN_MODE', 'a generator in eval mode', 'exportOnnx', `mode '${generator.mode}'`,
      'an ONNX model has one behaviour: BatchNorm with running statistics and no dropout, as eval; load it with mode: \'eval\'');
  }
  const opset = options.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw onnxError('ERR_IMG2IMG_ONNX_OPSET', `an integer from ${MIN_OPSET} to ${MAX_OPSET}`, 'opset', String(opset));
  }
  const d = generator.description;
  const contract: OnnxContract = {
    inputChannels: generator.inputChannels, outputChannels: generator.outputChannels,
    sizeMultiple: generator.multiple, fixedSize: options.size ?? null, description: d,
    checkpoint: path.basename(generator.checkpoint), context: readCheckpointInfo(generator.checkpoint)?.context ?? {},
  };
  const m = generator.multiple;
  if (options.size && (options.size.some((v) => !Number.isInteger(v) || v < 1 || v % m !== 0))) {
    throw onnxError('ERR_IMG2IMG_ONNX_SIZE', `height and width multiples of ${m}`, `size (${d.arch})`, options.size.join('x'));
  }
  const [h, w]: Dim[] = options.size ?? ['height', 'width'];
  const inputDims: Dim[] = ['batch', contract.inputChannels, h, w];
  const outputDims: Dim[] = ['batch', contract.outputChannels, h, w];
  const graph = new OnnxGraph(`img2img_${d.arch}`);
  buildGeneratorGraph(graph, d, floatWeights(generator), { inputDims, outputDims });
  const version = packageVersion();
  const model = graph.encode({
    opset, producerName: 'torch-img2img', producerVersion: version, metadata: contractMetadata(contract),
    docString: `${d.arch} generator (${d.norm} norm, ngf ${d.width}, ${d.inputNc}->${d.outputNc ?? 3} channels) from ${contract.checkpoint}` +
      (contract.context.direction ? `, ${String(contract.context.model ?? '')} ${String(contract.context.direction)}` : ''),
  });
  return { model, opset, inputDims, contract };
}

/** Writes the generator as ONNX to `file` (atomically). */
export function exportOnnx(generator: Generator, file: string, options: ExportOnnxOptions = {}): ExportOnnxResult {
  const r = exportOnnxBytes(generator, options);
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileAtomic(file, Buffer.from(r.model.buffer, r.model.byteOffset, r.model.byteLength));
  return { file, bytes: r.model.byteLength, opset: r.opset, inputDims: r.inputDims, contract: r.contract };
}

/** Parses "HxW" (e.g. 256x256) for --size. */
export function parseSize(text: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(text);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw onnxError('ERR_IMG2IMG_ONNX_SIZE', 'HEIGHTxWIDTH such as 256x256', '--size', `'${text}'`);
  return [Number(m[1]), Number(m[2])];
}

function floatWeights(generator: Generator): Weights {
  const out: Weights = new Map();
  const sd = generator.network.stateDict();
  try {
    for (const [k, t] of sd) if (t.dtype === 'float32') out.set(k, { data: t.toFloat32Array(), shape: t.shape });
  } finally {
    for (const t of sd.values()) t.dispose();
  }
  return out;
}

function packageVersion(): string {
  try { return JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')).version; } catch { return 'unknown'; }
}
