// img2img <command> [options]: the command-line entry point. Each command keeps the reference's flag names.
import * as fs from 'fs';
import * as path from 'path';
import { runTrainingLoop, StopSignal } from '../src/train/trainer';
import { runTest } from '../src/inference/test_runner';
import { convertCheckpoint } from '../src/checkpoint/network_checkpoint';
import { info, resolveDevice } from '../src/runtime';
import { HelpRequested, OptionError } from '../src/options/option_errors';
import type { Options } from '../src/options/parse_options';
import { parseOptionsWithParser } from '../src/plugins';

const USAGE = `usage: img2img <command> [options]

  img2img --version   print the package version

commands:
  train     train pix2pix / CycleGAN (the reference's train.py flags): img2img train --dataroot ./datasets/facades --name facades --model pix2pix --direction BtoA
  test      translate a test split with a trained model (test.py flags): img2img test --dataroot ./datasets/facades --name facades --model pix2pix --direction BtoA
  convert   convert a checkpoint between .pth and .safetensors: img2img convert <in> <out>
  info      show the libtorch build, CUDA devices and threads
  serve     serve a translate page for a checkpoint: img2img serve --checkpoint <path> [--port 8000]
            or one that translates in the browser with an exported model: img2img serve --onnx g.onnx
  export    write a generator as ONNX: img2img export --checkpoint <file|run dir> --format onnx --output g.onnx
  download  download a dataset or pretrained model: img2img download dataset|model <name>
  combine   pair A and B folders into side-by-side images (combine_A_and_B.py)
  make-aligned   pair trainA/trainB by sorted order into train/ (make_dataset_aligned.py)
  check-data     validate a dataset folder before a long run
  eval      L1, PSNR, SSIM, FID and KID of a results folder or two folders: img2img eval ./results/facades/test_latest

Run 'img2img <command> --help' for the options of a command.`;

type Command = (args: string[]) => Promise<number>;

/** The version in package.json (two folders above the compiled dist/scripts/cli.js). */
function packageVersion(): string {
  const file = path.join(__dirname, '..', '..', 'package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

async function trainCommand(args: string[]): Promise<number> {
  const { opt, parser } = parseOptionsWithParser(args, { isTrain: true });
  // --nproc_per_node N: start N workers of this command (they see WORLD_SIZE and train); torchrun's job on one machine.
  const nproc = opt.nproc_per_node ?? 1;
  if (nproc > 1 && !process.env.WORLD_SIZE) return launchTrainWorkers(opt, nproc, args);
  const stop = new StopSignal();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) { process.stderr.write(`\n${sig} again: exiting without saving\n`); process.exit(sig === 'SIGINT' ? 130 : 143); }
    stop.requested = sig;
    process.stderr.write(`\n${sig}: finishing the current iteration, then saving 'latest' (press Ctrl-C again to quit at once)\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let dashboard: { close(): Promise<void>; attach: (cb: object) => object } | null = null;
    const displayPort = opt.display_port ?? 0;
    let callbacks = {};
    // Across processes only rank 0 serves the live view.
    if (displayPort > 0 && (process.env.RANK ?? '0') === '0') {
      const { startDashboard } = await import('../src/dashboard/dashboard_server');
      const d = await startDashboard({ port: displayPort, host: opt.display_host ?? '127.0.0.1', opt });
      dashboard = d;
      callbacks = d.attach({});
      console.log(`dashboard: ${d.url}`);
    }
    const result = await runTrainingLoop(opt, callbacks, { parser, stop, argv: args });
    await dashboard?.close();
    if (result.interrupted) return stop.requested === 'SIGTERM' ? 143 : 130;
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Checks once what every worker would refuse, then runs `img2img train <args>` N times with torchrun's variables. */
async function launchTrainWorkers(opt: Options, nproc: number, args: string[]): Promise<number> {
  const { backendFor, checkNormAcrossProcesses, launchWorkers, missingBackend } = await import('../src/distributed');
  checkNormAcrossProcesses(opt.norm, `--nproc_per_node ${nproc}`);
  const why = missingBackend(backendFor(resolveDevice(opt.device)));
  if (why) throw new Error(why);
  const bin = path.join(__dirname, '..', '..', 'bin', 'img2img.js');
  return launchWorkers({ nproc, command: [process.execPath, ...process.execArgv, bin, 'train', ...args] });
}

async function testCommand(args: string[]): Promise<number> {
  const r = await runTest(args);
  console.log(`wrote ${r.images} results to ${r.webDir}/index.html`);
  return 0;
}

async function convertCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.length !== 2) {
    console.log('usage: img2img convert <in.pth|in.safetensors> <out.pth|out.safetensors>');
    return args.length === 2 ? 0 : 2;
  }
  const r = convertCheckpoint(args[0], args[1]);
  console.log(`converted ${r.tensors} tensors from ${args[0]} (${r.format}) to ${args[1]}`);
  return 0;
}

async function infoCommand(args: string[]): Promise<number> {
  const i = info();
  if (args.includes('--json')) { console.log(JSON.stringify(i, null, 2)); return 0; }
  console.log(`libtorch ${i.torchVersion} (${i.cuda ? 'CUDA build' : 'CPU build'}) from ${i.libtorchPath ?? 'unknown'}`);
  console.log(`CUDA available: ${i.cudaAvailable}, devices: ${i.deviceCount}`);
  console.log(`threads: ${i.threads}, oneDNN: ${i.mkldnn}, OpenMP: ${i.openmp}`);
  const bf16 = i.cpuBf16;
  console.log(`CPU bf16: ${bf16.native ? `native (${bf16.flags.join(', ')})` : bf16.known ? 'emulated only (no avx512_bf16 or amx_bf16): --precision bf16 on CPU is refused unless --force_precision' : 'unknown (no /proc/cpuinfo)'}${bf16.model ? `, ${bf16.model}` : ''}`);
  if (i.blas) console.log(`BLAS: ${i.blas}${/\/blas\/libblas/.test(i.blas) ? ' (slow reference BLAS: apt-get install libopenblas0-pthread)' : ''}`);
  return 0;
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  train: async () => trainCommand,
  test: async () => testCommand,
  convert: async () => convertCommand,
  info: async () => infoCommand,
  serve: async () => (await import('./serve')).serveCommand,
  export: async () => (await import('../src/tools/export')).exportCommand,
  download: async () => (await import('../src/tools/download')).downloadCommand,
  combine: async () => (await import('../src/tools/combine')).combineCommand,
  'make-aligned': async () => (await import('../src/tools/make_aligned')).makeAlignedCommand,
  'check-data': async () => (await import('../src/tools/check_data')).checkDataCommand,
  eval: async () => (await import('../src/tools/eval')).evalCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') { console.log(USAGE); return cmd ? 0 : 2; }
  if (cmd === '--version' || cmd === '-V' || cmd === 'version') { console.log(`torch-img2img ${packageVersion()}`); return 0; }
  const load = COMMANDS[cmd];
  if (!load) { process.stderr.write(`img2img: unknown command '${cmd}'\n\n${USAGE}\n`); return 2; }
  try {
    return await (await load())(args);
  } catch (e) {
    if (e instanceof HelpRequested) { console.log(e.helpText); return 0; }
    if (e instanceof OptionError) { process.stderr.write(`img2img ${cmd}: error: ${e.message}\n`); return 2; }
    process.stderr.write(`img2img ${cmd}: ${(e as Error).message}\n`);
    if (process.env.IMG2IMG_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}
