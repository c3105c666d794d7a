// Applies the network description stored with a checkpoint (sidecar or safetensors metadata) to test options,
// so `img2img test` needs no repeated architecture flags. Flags given on the command line win; a conflict is
// reported.
import * as fs from 'fs';
import * as path from 'path';
import { networkFileName, sidecarPath, METADATA_KEY, CheckpointInfo } from '../checkpoint/network_checkpoint';
import type { Options } from '../options/parse_options';
import { readStateDictRaw } from '../checkpoint';

function explicitFlags(argv: readonly string[]): Set<string> {
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
 * Fills netG, ngf, norm, no_dropout, input_nc, output_nc (and direction) from the checkpoint of `netName`
 * unless given explicitly. Returns notes for the user (what was taken, what conflicts).
 */
export function applyCheckpointDescription(opt: Options, argv: readonly string[], netName: string): string[] {
  const base = path.join(opt.checkpoints_dir, opt.name, networkFileName(opt.load_iter > 0 ? `iter_${opt.load_iter}` : opt.epoch, netName, ''));
  const file = ['.pth', '.safetensors'].map((e) => base + e).find((f) => fs.existsSync(f));
  if (!file) return [];
  const info = readCheckpointInfo(file);
  if (!info || info.network?.kind !== 'G') return [];
  const explicit = explicitFlags(argv);
  const notes: string[] = [];
  const d = info.network;
  const want: Array<[keyof Options & string, unknown]> = [
    ['netG', d.arch], ['ngf', d.width], ['norm', d.norm], ['no_dropout', !d.useDropout],
    ['input_nc', d.inputNc], ['output_nc', d.outputNc],
  ];
  const o = opt as unknown as Record<string, unknown>;
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
