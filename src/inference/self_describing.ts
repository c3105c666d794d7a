// Applies the network description stored with a checkpoint (sidecar or safetensors metadata) to options, so
// `img2img test` and `img2img train --continue_train` need no repeated architecture flags. Flags given on the
// command line win; a conflict is reported. Where the files are and how a description maps onto flags is
// src/checkpoint/run_checkpoints.ts.
import * as path from 'path';
import { readCheckpointInfo } from '../checkpoint/network_checkpoint';
import { explicitFlags, findNetworkCheckpoint, flagsOfDescription, loadLabel } from '../checkpoint/run_checkpoints';
import type { Options } from '../options/parse_options';

/**
 * Fills netG, ngf, norm, no_dropout, input_nc, output_nc from the generator checkpoint `netName` (netD, ndf,
 * n_layers_D from a discriminator's) unless given explicitly. Returns notes for the user (what was taken,
 * what conflicts).
 */
export function applyCheckpointDescription(opt: Options, argv: readonly string[], netName: string): string[] {
  const file = findNetworkCheckpoint(path.join(opt.checkpoints_dir, opt.name), loadLabel(opt), netName);
  if (!file) return [];
  const info = readCheckpointInfo(file);
  if (!info || !info.network) return [];
  const explicit = explicitFlags(argv);
  const notes: string[] = [];
  const o: Record<string, unknown> = opt;
  const taken: string[] = [];
  for (const [key, value] of flagsOfDescription(info.network, (flag) => flag in o)) {
    if (value === undefined) continue;
    if (explicit.has(key)) {
      if (o[key] !== value) notes.push(`--${key} ${String(o[key])} conflicts with ${path.basename(file)}, which was trained with ${key}=${String(value)}; using --${key} ${String(o[key])}`);
    } else if (o[key] !== value) {
      o[key] = value;
      taken.push(`${key}=${String(value)}`);
    }
  }
  if (taken.length) notes.push(`from ${path.basename(file)}: ${taken.join(', ')}`);
  return notes;
}
