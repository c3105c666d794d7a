// The pre/post-processing contract an exported generator carries in its metadata_props, so that whoever runs
// the .onnx (ONNX Runtime in Node, onnxruntime-web in a browser) feeds it what translate() feeds our network:
//   input  NCHW float32, each uint8 sample v as (v / 255 - 0.5) / 0.5, i.e. in [-1, 1] (ToTensor + Normalize);
//   output NCHW float32 in [-1, 1]; a pixel is trunc(clamp((y + 1) / 2 * 255, 0, 255)) (tensor2im);
//   shape  height and width multiples of `size_multiple` (2^downsamplings: 4 for ResNets, 2^N for unet_N
//          downs, 256 for unet_256). Other sizes: reflect-pad right/bottom up to the multiple, crop back.
import { onnx } from 'onnx-proto';
import type { NetworkDescription } from '../networks';
import { onnxError } from './export_errors';

export const META = {
  input: 'img2img.input',
  output: 'img2img.output',
  inputChannels: 'img2img.input_channels',
  outputChannels: 'img2img.output_channels',
  sizeMultiple: 'img2img.size_multiple',
  shapeRule: 'img2img.shape_rule',
  description: 'img2img.description',
  checkpoint: 'img2img.checkpoint',
  context: 'img2img.context',
} as const;

/** An exported model's pre/post contract, read from its metadata_props by readOnnxContract. */
export interface OnnxContract {
  inputChannels: number;
  outputChannels: number;
  sizeMultiple: number;
  /** Fixed [height, width] when exported with a size; null when dynamic. */
  fixedSize: [number, number] | null;
  description: NetworkDescription;
  checkpoint: string;
  /** What the checkpoint says about its training run (model, direction, name, epoch), when it says it. */
  context: Record<string, string | number | boolean>;
}

export function contractMetadata(c: OnnxContract): Record<string, string> {
  const shape = c.fixedSize ? `exactly ${c.fixedSize[0]}x${c.fixedSize[1]}` : `multiples of ${c.sizeMultiple}`;
  return {
    [META.input]: `NCHW float32 in [-1, 1]: each uint8 sample v as (v / 255 - 0.5) / 0.5; ${c.inputChannels === 1 ? 'grayscale' : 'RGB'}`,
    [META.output]: 'NCHW float32 in [-1, 1]: a uint8 sample is trunc(clamp((y + 1) / 2 * 255, 0, 255))',
    [META.inputChannels]: String(c.inputChannels),
    [META.outputChannels]: String(c.outputChannels),
    [META.sizeMultiple]: String(c.sizeMultiple),
    [META.shapeRule]: `batch any; height and width ${shape} (reflect-pad other sizes right/bottom, then crop back)`,
    [META.description]: JSON.stringify(c.description),
    [META.checkpoint]: c.checkpoint,
    [META.context]: JSON.stringify(c.context),
  };
}

/** Reads the contract back from an exported model (file bytes). */
export function readOnnxContract(bytes: Uint8Array, thing = 'an img2img ONNX model'): OnnxContract {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw onnxError('ERR_IMG2IMG_ONNX_MODEL', 'an ONNX model (protobuf ModelProto)', thing, `${bytes.length} bytes that do not decode as one`, (e as Error).message);
  }
  const meta = new Map(model.metadataProps.map((p) => [p.key, p.value]));
  const need = (k: string) => {
    const v = meta.get(k);
    if (v === undefined || v === null) throw onnxError('ERR_IMG2IMG_ONNX_MODEL', `metadata ${k}`, thing, 'none', 'export it with img2img export');
    return v;
  };
  const dims = model.graph?.input?.[0]?.type?.tensorType?.shape?.dim ?? [];
  const fixed = dims.length === 4 && !dims[2].dimParam && !dims[3].dimParam ? [Number(dims[2].dimValue), Number(dims[3].dimValue)] as [number, number] : null;
  return {
    inputChannels: Number(need(META.inputChannels)),
    outputChannels: Number(need(META.outputChannels)),
    sizeMultiple: Number(need(META.sizeMultiple)),
    fixedSize: fixed,
    description: JSON.parse(need(META.description)),
    checkpoint: need(META.checkpoint),
    context: JSON.parse(meta.get(META.context) || '{}'),
  };
}

/** Throws the one-shape error when (height, width) is not a size the model accepts. */
export function checkOnnxInputSize(c: Pick<OnnxContract, 'sizeMultiple' | 'fixedSize'>, height: number, width: number, thing = 'the ONNX generator input'): void {
  if (c.fixedSize) {
    if (height !== c.fixedSize[0] || width !== c.fixedSize[1]) {
      throw onnxError('ERR_IMG2IMG_ONNX_INPUT_SIZE', `height x width ${c.fixedSize[0]}x${c.fixedSize[1]}`, thing, `${height}x${width}`, 'the model was exported with a fixed --size');
    }
    return;
  }
  const m = c.sizeMultiple;
  if (!(height > 0 && width > 0 && height % m === 0 && width % m === 0)) {
    throw onnxError('ERR_IMG2IMG_ONNX_INPUT_SIZE', `height and width multiples of ${m}`, thing, `${height}x${width}`,
      'reflect-pad the image up to the multiple and crop the output back');
  }
}
