// img2img serve: a translate page for one generator checkpoint, until Ctrl-C (SIGINT) or SIGTERM.
import { expected } from '../src/options/option_errors';
import { startTranslateServer } from '../src/dashboard/translate_server';
import type { Device } from '../src/architectures';

const USAGE = `usage: img2img serve --checkpoint <path> [--port 8000] [--host 127.0.0.1] [--max_upload_mb 20] [--device cpu] [--mode eval]

Serves a page where an image can be uploaded, dropped or pasted and its translation is shown next to it.

options:
  --checkpoint PATH     generator checkpoint (.pth or .safetensors) or a run folder (./checkpoints/<name>)
  --port N              port to listen on; 0 picks a free one (default 8000)
  --host ADDR           address to listen on (default 127.0.0.1; 0.0.0.0 serves other machines too)
  --max_upload_mb X     largest accepted upload in megabytes (default 20)
  --device DEV          cpu, cuda, cuda:N or auto (default cpu)
  --mode MODE           eval (running BatchNorm statistics, no dropout; default) or train (as the reference's test.py)`;

interface ServeArgs {
  checkpoint: string; port: number; host: string; maxUploadMb: number; device: Device; mode: 'eval' | 'train';
}

const FLAGS = ['--checkpoint', '--port', '--host', '--max_upload_mb', '--device', '--mode'];

/** Parses `--flag value` and `--flag=value`; every mistake is an OptionError in the project's one shape. */
export function parseServeArgs(args: readonly string[]): ServeArgs | null {
  const values = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--help' || arg === '-h') return null;
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (!FLAGS.includes(flag)) throw expected(`one of ${FLAGS.join(', ')}`, 'img2img serve', arg);
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined) throw expected('a value', flag, undefined);
    values.set(flag, value);
  }
  const checkpoint = values.get('--checkpoint');
  if (!checkpoint) throw expected('a checkpoint file or run folder', '--checkpoint', undefined);
  const portText = values.get('--port') ?? '8000';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw expected('a port from 0 to 65535', '--port', portText);
  const mbText = values.get('--max_upload_mb') ?? '20';
  const maxUploadMb = Number(mbText);
  if (!/^\d*\.?\d+$/.test(mbText) || !(maxUploadMb > 0)) throw expected('a positive number of megabytes', '--max_upload_mb', mbText);
  const mode = values.get('--mode') ?? 'eval';
  if (mode !== 'eval' && mode !== 'train') throw expected('eval or train', '--mode', mode);
  const device = values.get('--device') ?? 'cpu';
  return { checkpoint, port, host: values.get('--host') ?? '127.0.0.1', maxUploadMb, device: (device === 'auto' ? '' : device) as Device, mode };
}

/** Runs the server until SIGINT or SIGTERM, then closes it and returns 0. */
export async function serveCommand(args: string[]): Promise<number> {
  const parsed = parseServeArgs(args);
  if (!parsed) { console.log(USAGE); return 0; }
  const server = await startTranslateServer({
    checkpoint: parsed.checkpoint, port: parsed.port, host: parsed.host,
    maxUploadBytes: Math.round(parsed.maxUploadMb * 1e6), device: parsed.device, mode: parsed.mode,
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
