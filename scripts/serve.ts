// img2img serve: a translate page for one generator checkpoint, until Ctrl-C (SIGINT) or SIGTERM.
import { expected } from '../src/options/option_errors';
import { startTranslateServer } from '../src/serve/translate_server';
import type { Device } from '../src/device';
import { DEVICE_ARGUMENTS, GENERATOR_ARGUMENTS } from '../src/options/base_options';
import { HelpRequested } from '../src/options/option_errors';
import { OptionParser, OptionValues } from '../src/options/option_parser';
import { architectureOfFlags, explicitFlags } from '../src/checkpoint/run_checkpoints';
import type { ArchitectureOptions } from '../src/checkpoint/run_checkpoints';
import { setNumThreads } from '../src/runtime';
import type { Precision } from '../src/precision';

interface ServeArgs {
  checkpoint: string; port: number; host: string; maxUploadMb: number; device: Device; threads: number; mode: 'eval' | 'train';
  precision: Precision; forcePrecision: boolean;
  /** Only the architecture flags given on the command line: the checkpoint's own description fills the rest. */
  architecture: ArchitectureOptions;
}

/** The serve flags, plus the generator architecture and device flags exactly as `img2img test` declares them. */
function serveParser(): OptionParser {
  const p = new OptionParser('img2img serve', 'Serves a page where an image can be uploaded, dropped or pasted and its translation is shown next to it. ' +
    'img2img serve --onnx <g.onnx> [--port 8000] [--host 127.0.0.1] serves an exported model that translates in the browser instead ' +
    '(img2img serve --onnx --help).');
  const serve = 'serve parameters';
  p.addArgument('--checkpoint', { type: 'str', required: true, group: serve, metavar: 'PATH', help: 'generator checkpoint (.pth or .safetensors) or a run folder (./checkpoints/<name>)' });
  p.addArgument('--port', { type: 'int', default: 8000, min: 0, group: serve, help: 'port to listen on; 0 picks a free one' });
  p.addArgument('--host', { type: 'str', default: '127.0.0.1', group: serve, help: 'address to listen on (0.0.0.0 serves other machines too)' });
  p.addArgument('--max_upload_mb', { type: 'float', default: 20, min: 0, group: serve, help: 'largest accepted upload in megabytes' });
  p.addArgument('--mode', { type: 'str', default: 'eval', choices: ['eval', 'train'], group: serve, help: "eval: running BatchNorm statistics, no dropout; train: as the reference's test.py" });
  for (const [name, spec] of Object.entries(GENERATOR_ARGUMENTS)) {
    p.addArgument(`--${name}`, { ...spec, help: `${spec.help}; when given, overrides what the checkpoint describes` });
  }
  for (const [name, spec] of Object.entries(DEVICE_ARGUMENTS)) p.addArgument(`--${name}`, spec);
  return p;
}

/** Parses the serve command line with the project's option parser (did-you-mean, one error shape). */
export function parseServeArgs(args: readonly string[]): ServeArgs | null {
  const parser = serveParser();
  let v: OptionValues;
  try {
    v = parser.parse(args);
  } catch (e) {
    if (e instanceof HelpRequested) return null;
    throw e;
  }
  const port = v.port as number;
  if (port > 65535) throw expected('a port from 0 to 65535', '--port', port);
  const maxUploadMb = v.max_upload_mb as number;
  if (!(maxUploadMb > 0)) throw expected('a positive number of megabytes', '--max_upload_mb', maxUploadMb);
  const architecture = architectureOfFlags(v, explicitFlags(args));
  return {
    checkpoint: v.checkpoint as string, port, host: v.host as string, maxUploadMb, device: v.device as Device, threads: v.threads as number,
    mode: v.mode as 'eval' | 'train', architecture, precision: v.precision as Precision, forcePrecision: !!v.force_precision,
  };
}

/** Runs the server until SIGINT or SIGTERM, then closes it and returns 0. */
export async function serveCommand(args: string[]): Promise<number> {
  const onnxPage = await import('../src/tools/onnx_serve');
  if (onnxPage.wantsOnnxPage(args)) return onnxPage.onnxServeCommand(args); // in-browser page for an exported model
  const parsed = parseServeArgs(args);
  if (!parsed) { console.log(serveParser().formatHelp()); return 0; }
  if (parsed.threads > 0) setNumThreads(parsed.threads);
  const server = await startTranslateServer({
    checkpoint: parsed.checkpoint, port: parsed.port, host: parsed.host,
    maxUploadBytes: Math.round(parsed.maxUploadMb * 1e6), device: parsed.device, mode: parsed.mode, architecture: parsed.architecture,
    precision: parsed.precision, forcePrecision: parsed.forcePrecision,
  });
  console.log(`serving ${parsed.checkpoint} at ${server.url} (Ctrl-C to stop)`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(sig);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  process.stderr.write(`${signal}: stopping the server\n`);
  await server.close();
  return 0;
}
