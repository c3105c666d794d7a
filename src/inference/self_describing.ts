// Applies the network description stored with a checkpoint (sidecar or safetensors metadata) to options, so
// `img2img test` and `img2img train --continue_train` need no repeated architecture flags. Flags given on the command line win; a conflict is
// reported.
import * as fs from 'fs';
import * as path from 'path';
import { networkFileName, sidecarPath, METADATA_KEY, CheckpointInfo } from '../checkpoint/network_checkpoint';
import type { Options } from '../options/parse_options';
import { readStateDictRaw } from '../checkpoint';

/** The option names given on a command line (`--ngf 8` and `--ngf=8` both give ngf). */
export function explicitFlags(argv: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const a of argv) if (a.startsWith('--')) out.add(a.slice(2).split('=')[0]);
  return out;
}

/** The description stored for one checkpoint file, or null. */
export function readCheckpointInfo(file: string): CheckpointInfo | null {
  if (file.endsWith('.safetensors')) {
    const r = readStateDictRaw(file);
    return r.metadata[METADATA_KEY] ? JSON.parse(r.metadata[METADATA_KEY]) : null;
  }
  const side = sidecarPath(file);
  if (!fs.existsSync(side)) return null;
  try { return JSON.parse(fs.readFileSync(side, 'utf8')); } catch { return null; }
}

/**
 * Fills netG, ngf, norm, no_dropout, input_nc, output_nc from the generator checkpoint `netName` (netD, ndf,
 * n_layers_D from a discriminator's) unless given explicitly. Returns notes for the user (what was taken,
 * what conflicts). `img2img test` and `img2img train --continue_train` both use it.
 */
export function applyCheckpointDescription(opt: Options, argv: readonly string[], netName: string): string[] {
  const base = path.join(opt.checkpoints_dir, opt.name, networkFileName(opt.load_iter > 0 ? `iter_${opt.load_iter}` : opt.epoch, netName, ''));
  const file = ['.pth', '.safetensors'].map((e) => base + e).find((f) => fs.existsSync(f));
  if (!file) return [];
  const info = readCheckpointInfo(file);
  if (!info || !info.network) return [];
  const explicit = explicitFlags(argv);
  const notes: string[] = [];
  const d = info.network;
  const o = opt as unknown as Record<string, unknown>;
  // CUT names its norms normG / normD and has its antialias switches (src/cut_networks.ts).
  const cut = 'normG' in o;
  const want: Array<[string, unknown]> = d.kind === 'G'
    ? [['netG', d.arch], ['ngf', d.width], [cut ? 'normG' : 'norm', d.norm], ['no_dropout', !d.useDropout], ['input_nc', d.inputNc], ['output_nc', d.outputNc],
      ...(cut ? [['no_antialias', !d.antialias], ['no_antialias_up', !d.antialiasUp]] as Array<[string, unknown]> : [])]
    : [['netD', d.arch], ['ndf', d.width], ['n_layers_D', d.arch === 'n_layers' ? d.nLayersD : undefined]];
  const taken: string[] = [];
  for (const [key, value] of want) {
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
