// Where a run's checkpoints are and what they say, in one place: the file names (`<label>_net_<name>.pth` or
// `.safetensors`, `<label>_state.safetensors`), the label a run loads (iter_<N> under --load_iter, else --epoch),
// the probing of a folder for them, and the mapping between a stored network description and the architecture
// flags (CLI) / options (API) that describe the same network.
import * as fs from 'fs';
import * as path from 'path';
import type { GeneratorArch, NetworkDescription, Norm } from '../architectures';

/** The extensions a network checkpoint may have, in the order a folder is probed. */
export const CHECKPOINT_EXTENSIONS = ['.pth', '.safetensors'] as const;

/** `<label>_net_<name>.pth` as the reference names it. */
export function networkFileName(label: string | number, name: string, ext = '.pth'): string {
  return `${label}_net_${name}${ext}`;
}

/** safetensors metadata key that marks a training-state file. */
export const STATE_KEY = 'img2img_training_state';

/** The resumable training state of a label (networks, optimizers, counters). */
export function trainingStateFileName(label: string | number): string {
  return `${label}_state.safetensors`;
}

/** The label a run loads: `iter_<N>` when --load_iter N > 0, else --epoch (the reference's load_suffix). */
export function loadLabel(opt: { epoch: string | number; load_iter?: number }): string {
  return (opt.load_iter ?? 0) > 0 ? `iter_${opt.load_iter}` : String(opt.epoch);
}

/** The checkpoint of network `name` at `label` in `dir` (.pth first, then .safetensors), or null. */
export function findNetworkCheckpoint(dir: string, label: string | number, name: string): string | null {
  for (const ext of CHECKPOINT_EXTENSIONS) {
    const file = path.join(dir, networkFileName(label, name, ext));
    if (fs.existsSync(file)) return file;
  }
  return null;
}

/** Every network checkpoint in `dir`, sorted (for "available: ..." in errors). */
export function listNetworkCheckpoints(dir: string): string[] {
  try { return fs.readdirSync(dir).filter((f) => /_net_.*\.(pth|safetensors)$/.test(f)).sort(); } catch { return []; }
}

/** The architecture part of LoadGeneratorOptions (explicit values win over what the checkpoint says). */
export interface ArchitectureOptions {
  netG?: GeneratorArch; ngf?: number; norm?: Norm; inputNc?: number; outputNc?: number; useDropout?: boolean;
}

type Field = 'arch' | 'width' | 'norm' | 'useDropout' | 'inputNc' | 'outputNc' | 'nLayersD' | 'antialias' | 'antialiasUp';
/**
 * One architecture setting under its three names: CLI flag, API option (generators only), description field.
 * `pluginFlag`: the flag a model's hook names it by instead, used when the options have it (CUT's normG);
 * `pluginOnly`: a flag only some models add (CUT's antialias switches), mapped only when the options have it.
 */
interface ArchitectureName {
  flag: string; option?: keyof ArchitectureOptions; field: Field; inverted?: boolean; pluginFlag?: string; pluginOnly?: boolean;
}

/** The description ↔ options mapping, per kind of network. */
const ARCHITECTURE_NAMES: Record<'G' | 'D', readonly ArchitectureName[]> = {
  G: [
    { flag: 'netG', option: 'netG', field: 'arch' },
    { flag: 'ngf', option: 'ngf', field: 'width' },
    { flag: 'norm', option: 'norm', field: 'norm', pluginFlag: 'normG' },
    { flag: 'no_dropout', option: 'useDropout', field: 'useDropout', inverted: true },
    { flag: 'input_nc', option: 'inputNc', field: 'inputNc' },
    { flag: 'output_nc', option: 'outputNc', field: 'outputNc' },
    { flag: 'no_antialias', field: 'antialias', inverted: true, pluginOnly: true },
    { flag: 'no_antialias_up', field: 'antialiasUp', inverted: true, pluginOnly: true },
  ],
  D: [
    { flag: 'netD', field: 'arch' },
    { flag: 'ndf', field: 'width' },
    { flag: 'n_layers_D', field: 'nLayersD' },
  ],
};

/**
 * The CLI flags (and values) that describe `d`; n_layers_D only for an n_layers discriminator. `hasFlag` says
 * which flags the run's options have (a model's own names and switches, e.g. CUT's normG and no_antialias).
 */
export function flagsOfDescription(d: NetworkDescription, hasFlag: (flag: string) => boolean = () => false): Array<[string, unknown]> {
  if (d.kind !== 'G' && d.kind !== 'D') return [];
  return ARCHITECTURE_NAMES[d.kind]
    .filter((n) => (n.field !== 'nLayersD' || d.arch === 'n_layers') && (!n.pluginOnly || hasFlag(n.flag)))
    .map((n) => [n.pluginFlag && hasFlag(n.pluginFlag) ? n.pluginFlag : n.flag, n.inverted ? !d[n.field] : d[n.field]]);
}

/** The generator options an API caller gave (the architecture fields of LoadGeneratorOptions). */
export function pickArchitecture(opts: ArchitectureOptions): ArchitectureOptions {
  return Object.fromEntries(ARCHITECTURE_NAMES.G.flatMap((n) => (n.option ? [[n.option, opts[n.option]]] : [])));
}

/** The generator options of parsed CLI values, for the flags that were given (`given`). */
export function architectureOfFlags(values: Record<string, unknown>, given: ReadonlySet<string>): ArchitectureOptions {
  const out: Record<string, unknown> = {};
  for (const n of ARCHITECTURE_NAMES.G) {
    if (n.option && given.has(n.flag)) out[n.option] = n.inverted ? !values[n.flag] : values[n.flag];
  }
  return out as ArchitectureOptions;
}

/**
 * A generator description: the explicit options over `base` (what a checkpoint says), over `defaults` (all but
 * the arch: with neither options nor checkpoint naming one, arch stays '').
 */
export function describeWithOptions(base: Partial<NetworkDescription>, opts: ArchitectureOptions, defaults: Omit<NetworkDescription, 'kind'>): NetworkDescription {
  const d: NetworkDescription = { ...defaults, kind: 'G', arch: '' };
  const set = (field: Field, value: unknown) => { if (value !== undefined) Object.assign(d, { [field]: value }); };
  for (const n of ARCHITECTURE_NAMES.G) {
    set(n.field, base[n.field]);
    if (n.option) set(n.field, opts[n.option]);
  }
  if (base.paddingType) d.paddingType = base.paddingType;
  return d;
}

/** The option names given on a command line (`--ngf 8` and `--ngf=8` both give ngf). */
export function explicitFlags(argv: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const a of argv) if (a.startsWith('--')) out.add(a.slice(2).split('=')[0]);
  return out;
}
