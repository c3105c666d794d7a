// img2img serve --onnx g.onnx: the in-browser translate page until Ctrl-C (SIGINT) or SIGTERM.
import { OptionParser } from '../options/option_parser';
import { parseToolArgs, PROCESS_IO, runTool, ToolIO } from './tool_args';
import { startOnnxPageServer } from '../export/onnx_page_server';

function buildParser(): OptionParser {
  const parser = new OptionParser('img2img serve --onnx',
    'Serves a page that translates a dropped image entirely in the browser with ONNX Runtime Web (WASM),\n' +
      'running a model written by img2img export. The server only hands out the page, the model and the runtime.');
  parser.addArgument('--onnx', { type: 'str', required: true, metavar: 'FILE', help: 'the exported .onnx generator' });
  parser.addArgument('--port', { type: 'int', default: 8000, min: 0, help: 'port to listen on; 0 picks a free one' });
  parser.addArgument('--host', { type: 'str', default: '127.0.0.1', help: 'address to listen on' });
  return parser;
}

/** True when `img2img serve` was given --onnx (the hook scripts/serve.ts uses to hand over). */
export function wantsOnnxPage(args: readonly string[]): boolean {
  return args.some((a) => a === '--onnx' || a.startsWith('--onnx='));
}

export async function onnxServeCommand(args: string[], io: ToolIO = PROCESS_IO): Promise<number> {
  return runTool('serve', io, async () => {
    const { values } = parseToolArgs(buildParser(), args);
    const server = await startOnnxPageServer({ onnx: values.onnx as string, port: values.port as number, host: values.host as string });
    io.out(`serving ${values.onnx as string} for in-browser translation at ${server.url} (Ctrl-C to stop)`);
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      const onSignal = (sig: NodeJS.Signals) => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); resolve(sig); };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    io.err(`${signal}: stopping the server`);
    await server.close();
    return 0;
  });
}
