// img2img export: a generator checkpoint (file or run folder) to ONNX, with the tools' flag parsing and exit codes.
import { OptionParser } from '../options/option_parser';
import { expected } from '../options/option_errors';
import { parseToolArgs, PROCESS_IO, runTool, ToolIO } from './tool_args';
import { loadGenerator } from '../inference/generator';
import { DEFAULT_OPSET, exportOnnx, MAX_OPSET, MIN_OPSET, parseSize } from '../export/onnx_export';

function buildParser(): OptionParser {
  const parser = new OptionParser(
    'img2img export',
    'Writes a trained generator as a standard ONNX model (eval mode: BatchNorm running statistics, no dropout),\n' +
      'with dynamic batch, height and width (multiples of 4 for ResNets, 2^downsamplings for U-Nets) unless --size is given.',
  );
  parser.addArgument('--checkpoint', { type: 'str', required: true, metavar: 'PATH', help: 'generator checkpoint (.pth or .safetensors) or a run folder (./checkpoints/<name>)' });
  parser.addArgument('--epoch', { type: 'str', default: 'latest', help: 'checkpoint label in a run folder' });
  parser.addArgument('--net', { type: 'str', default: '', metavar: 'NAME', help: 'which network of a run folder: G, G_A or G_B (default: the first found)' });
  parser.addArgument('--format', { type: 'str', default: 'onnx', choices: ['onnx'], help: 'output format' });
  parser.addArgument('--output', { type: 'str', required: true, metavar: 'FILE', help: 'the .onnx file to write' });
  parser.addArgument('--opset', { type: 'int', default: DEFAULT_OPSET, min: MIN_OPSET, help: `ONNX opset, ${MIN_OPSET} to ${MAX_OPSET}` });
  parser.addArgument('--size', { type: 'str', default: '', metavar: 'HxW', help: 'fixed input height x width instead of dynamic ones' });
  return parser;
}

export async function exportCommand(args: string[], io: ToolIO = PROCESS_IO): Promise<number> {
  return runTool('export', io, async () => {
    const { values } = parseToolArgs(buildParser(), args);
    const opset = values.opset as number;
    if (opset > MAX_OPSET) throw expected(`an integer from ${MIN_OPSET} to ${MAX_OPSET}`, '--opset', opset);
    const size = values.size ? parseSize(values.size as string) : undefined;
    const g = await loadGenerator(values.checkpoint as string, { epoch: values.epoch as string, netName: (values.net as string) || undefined, mode: 'eval', device: 'cpu' });
    try {
      const r = exportOnnx(g, values.output as string, { opset, size });
      const d = g.description;
      io.out(`wrote ${r.file} (${(r.bytes / 1e6).toFixed(1)} MB, opset ${r.opset}): ${d.arch}, ${d.norm} norm, ngf ${d.width}, ` +
        `input [${r.inputDims.join(', ')}] float32 in [-1, 1], height/width ${size ? 'fixed' : `multiples of ${r.contract.sizeMultiple}`}`);
      return 0;
    } finally {
      g.dispose();
    }
  });
}
