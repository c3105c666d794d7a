// Finds and builds the generator loadGenerator asks for: a run folder or a checkpoint file, described by its
// sidecar/metadata, its keys, or the caller's options. Files that are checkpoints of something else (a
// discriminator, a training state) are refused with the file to pass instead.
import * as fs from 'fs';
import * as path from 'path';
import { describeStateDictGuess, guessArchitecture } from '../checkpoint/architecture_guess';
import { loadCheckpoint, LoadedCheckpoint } from '../checkpoint/network_checkpoint';
import { CheckpointError } from '../checkpoint/raw_tensor';
import { Network, NetworkDescription, networkFromDescription, GeneratorArch, Norm } from '../networks';
import { STATE_KEY } from '../train/training_state';

/** The architecture part of LoadGeneratorOptions (explicit values win over what the checkpoint says). */
export interface ArchitectureOptions {
  netG?: GeneratorArch; ngf?: number; norm?: Norm; inputNc?: number; outputNc?: number; useDropout?: boolean;
}

export interface CheckpointChoice {
  /** Which network of a run folder: 'G', 'G_A' or 'G_B'. Default: the first found. */
  netName?: string;
  /** Checkpoint label in a run folder (default 'latest'). */
  epoch?: string | number;
}

function checkpointError(file: string, message: string): CheckpointError {
  const e = new CheckpointError(file, '');
  e.message = message;
  return e;
}

const GENERATOR_NAMES = ['G', 'G_A', 'G_B'];

/** Generator checkpoints of `epoch` in `dir`, in preference order. */
function generatorFiles(dir: string, epoch: string, names = GENERATOR_NAMES): string[] {
  const out: string[] = [];
  for (const n of names) for (const ext of ['.pth', '.safetensors']) {
    const f = path.join(dir, `${epoch}_net_${n}${ext}`);
    if (fs.existsSync(f)) out.push(f);
  }
  return out;
}

export function findCheckpointFile(p: string, opts: CheckpointChoice): string {
  if (!fs.existsSync(p)) throw checkpointError(p, `Expected a run folder or a checkpoint file for loadGenerator but received '${p}', which does not exist`);
  if (fs.statSync(p).isFile()) return p;
  const epoch = String(opts.epoch ?? 'latest');
  const names = opts.netName ? [opts.netName] : GENERATOR_NAMES;
  const found = generatorFiles(p, epoch, names);
  if (found.length) return found[0];
  throw checkpointError(p, `no generator checkpoint in ${p}: looked for ${names.map((n) => `${epoch}_net_${n}.pth`).join(', ')}`);
}

/** "pass latest_net_G.pth" for a file of another kind, from what sits next to it. */
function passInstead(file: string): string {
  const m = /^(.*)_(?:net_[A-Za-z_]+|state)\.(?:pth|safetensors)$/.exec(path.basename(file));
  const epoch = m ? m[1] : 'latest';
  const there = generatorFiles(path.dirname(file), epoch);
  if (there.length) return `pass ${there.map((f) => path.join(path.dirname(file), path.basename(f))).join(' or ')} (or the run folder) instead`;
  return `pass the generator checkpoint (${epoch}_net_G.pth, or ${epoch}_net_G_A.pth for CycleGAN) instead`;
}

/** The generator a checkpoint holds; explicit options win. Refuses discriminators and training states. */
export function describeGenerator(ck: LoadedCheckpoint, opts: ArchitectureOptions): NetworkDescription {
  if (ck.metadata[STATE_KEY] !== undefined) {
    throw checkpointError(ck.file, `Expected a generator checkpoint for loadGenerator but received the training state ${ck.file} ` +
      `(every network plus optimizer state, read by --continue_train); ${passInstead(ck.file)}`);
  }
  const stored = ck.info?.network;
  const guess = guessArchitecture(new Map([...ck.tensors].map(([k, v]) => [k, v.shape])));
  if (stored?.kind === 'D' || (!stored && guess.known && guess.kind === 'D' && !opts.netG)) {
    const what = stored ? `a ${stored.arch} discriminator` : describeStateDictGuess(guess).replace('the checkpoint looks like ', '');
    throw checkpointError(ck.file, `Expected a generator checkpoint for loadGenerator but received the discriminator checkpoint ${ck.file} (${what}); ${passInstead(ck.file)}`);
  }
  const base: Partial<NetworkDescription> = stored ?? (guess.known && guess.kind === 'G' ? guess : {});
  const d: NetworkDescription = {
    kind: 'G',
    arch: opts.netG ?? base.arch ?? '',
    inputNc: opts.inputNc ?? base.inputNc ?? 3,
    outputNc: opts.outputNc ?? base.outputNc ?? 3,
    width: opts.ngf ?? base.width ?? 64,
    norm: opts.norm ?? base.norm ?? 'batch',
    useDropout: opts.useDropout ?? base.useDropout ?? false,
    paddingType: base.paddingType ?? 'reflect',
    ...(base.antialias || base.antialiasUp ? { antialias: !!base.antialias, antialiasUp: !!base.antialiasUp } : {}),
  };
  if (!d.arch) throw checkpointError(ck.file, `cannot tell which generator ${ck.file} holds (${describeStateDictGuess(guess)}): pass netG, ngf and norm`);
  return d;
}

/** Reads `file` and builds its generator on `device`, weights loaded. */
export function buildGenerator(file: string, opts: ArchitectureOptions, device: string): { network: Network; description: NetworkDescription } {
  const ck = loadCheckpoint(file);
  const description = describeGenerator(ck, opts);
  const network = networkFromDescription(description, { device });
  try {
    network.loadStateDict(ck.tensors, { what: `checkpoint ${file}` });
  } catch (e) {
    network.dispose();
    throw e;
  }
  return { network, description };
}
