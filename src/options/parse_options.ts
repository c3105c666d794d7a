/**
 * Gathers and finalises options exactly like the reference's BaseOptions.gather_options + parse:
 * parse known → the chosen model's hook → parse known again (new defaults) → the chosen dataset's
 * hook → strict parse; then isTrain, the --suffix template, a seed when none was given, the hooks'
 * checks and the classic --gpu_ids → --device mapping.
 */
import { randomInt } from 'crypto';
import { BaseOptionValues } from './base_options';
import { expected, OptionError } from './option_errors';
import { OptionParser, OptionValues } from './option_parser';
import { OptionHook, PluginOptionValues } from './plugin_options';
import { shellSplit } from './shell_split';
import { createTestParser, TestOptionValues } from './test_options';
import { createTrainParser, TrainOptionValues } from './train_options';
import { NumberKind, pythonFormat } from '../util/python_format';

interface DerivedValues {
  isTrain: boolean;
  /** GPU ids >= 0 from --gpu_ids, for the multi-GPU launcher (empty when --gpu_ids is '' or -1). */
  gpu_id_list: number[];
}

/** Final options of a run: every parsed flag (snake_case, like the reference's `opt`) plus isTrain. */
export type Options = BaseOptionValues & Partial<TrainOptionValues> & Partial<TestOptionValues> & PluginOptionValues & DerivedValues;
export type TrainOptions = BaseOptionValues & TrainOptionValues & PluginOptionValues & DerivedValues & { isTrain: true };
export type TestOptions = BaseOptionValues & TestOptionValues & PluginOptionValues & DerivedValues & { isTrain: false };

/** Narrows options to train options (every train flag is set when isTrain). */
export function isTrainOptions(opt: Options): opt is TrainOptions {
  return opt.isTrain;
}

/** What gatherOptions returns: the parsed flags and isTrain, before seed choice and device mapping. */
export type GatheredOptions = Omit<Options, 'seed' | 'gpu_id_list'> & { seed: number | null };

/** The option hooks of the plugins, by name (src/plugins.ts hands over the registries' hooks). */
export interface PluginHooks {
  /** Model plugins by --model name, in the order help and errors list them. */
  modelHooks: Readonly<Record<string, OptionHook>>;
  /** Dataset plugins by --dataset_mode name. */
  datasetHooks: Readonly<Record<string, OptionHook>>;
}

export interface GatherConfig extends PluginHooks {
  isTrain: boolean;
  /** Program name shown in --help. */
  prog?: string;
}

/** How parseOptions reads a command line (train or test options, plugins, seed choice). */
export interface ParseConfig extends PluginHooks, Partial<Pick<GatherConfig, 'isTrain' | 'prog'>> {
  /** Picks the seed when --seed is not given (default: a random int in [0, 2^31)). */
  chooseSeed?: () => number;
}

export interface ParsedOptions<T = Options> {
  opt: T;
  /** The final parser; print_options needs it for the defaults. */
  parser: OptionParser;
}

/** The reference's gather_options, returning the final parser as well. */
export function gatherOptionsWithParser(argv: readonly string[], config: GatherConfig): ParsedOptions<GatheredOptions> {
  const { modelHooks, datasetHooks } = config;
  const plugins = { modelNames: Object.keys(modelHooks), datasetModes: Object.keys(datasetHooks) };
  const parser = config.isTrain ? createTrainParser(plugins, config.prog) : createTestParser(plugins, config.prog);

  const first = parser.parseKnown(argv, { deferRequired: true }).values; // parse() reports what is missing
  modelHooks[first.model as string].modifyCommandlineOptions(parser, config.isTrain, argv);
  const second = parser.parseKnown(argv, { deferRequired: true }).values; // parse again with the model's defaults
  datasetHooks[second.dataset_mode as string].modifyCommandlineOptions(parser, config.isTrain);
  const values = parser.parse(argv);
  return { opt: { ...values, isTrain: config.isTrain } as unknown as GatheredOptions, parser };
}

/** The reference's gather_options: a plain options object (with isTrain) after the two hook passes. */
export function gatherOptions(argv: readonly string[], config: GatherConfig): GatheredOptions {
  return gatherOptionsWithParser(argv, config).opt;
}

/** Maps the classic --gpu_ids onto --device; several ids go on as gpu_id_list for the distributed code. */
function resolveGpuIds(opt: OptionValues & { gpu_ids: string; device: string }): number[] {
  if (opt.gpu_ids.trim() === '') return [];
  const ids = opt.gpu_ids.split(',').map((id) => Number(id.trim()));
  const gpuIds = ids.filter((id) => id >= 0);
  const implied = gpuIds.length > 0 ? `cuda:${gpuIds[0]}` : 'cpu';
  const sameDevice = opt.device === implied || (opt.device === 'cuda' && implied === 'cuda:0');
  if (opt.device !== '' && !sameDevice) {
    throw expected(`a device that agrees with --gpu_ids ${opt.gpu_ids} (${implied})`, '--device', opt.device);
  }
  opt.device = implied;
  return gpuIds;
}

/** The reference's BaseOptions.parse (without printing): argv may be an array or one shell-like string. */
export function parseOptionsWithParser(argv: readonly string[] | string, config: ParseConfig): ParsedOptions {
  const words = typeof argv === 'string' ? shellSplit(argv) : argv;
  const isTrain = config.isTrain ?? true;
  const { opt, parser } = gatherOptionsWithParser(words, { ...config, isTrain });
  const values = opt as OptionValues & Options;

  if (values.seed === null) values.seed = (config.chooseSeed ?? (() => randomInt(0, 2 ** 31)))();

  if (values.suffix) {
    const kinds: Record<string, NumberKind> = {};
    for (const key of Object.keys(values)) kinds[key] = parser.numberKind(key);
    let formatted: string;
    try {
      formatted = pythonFormat(values.suffix, values, kinds, '--suffix');
    } catch (error) {
      throw new OptionError((error as Error).message, '--suffix');
    }
    values.name = `${values.name}_${formatted}`;
  }

  const { modelHooks, datasetHooks } = config;
  modelHooks[values.model].checkOptions?.(values);
  datasetHooks[values.dataset_mode].checkOptions?.(values);

  values.gpu_id_list = resolveGpuIds(values);
  // The flag is the reference's, but wandb is not bundled: refuse it rather than ignore it silently.
  if (values.use_wandb) {
    throw expected(isTrain ? '--display_port N (the live training dashboard; wandb is not bundled)' : 'the results index.html page (wandb is not bundled)', '--use_wandb', 'given');
  }
  return { opt: values, parser };
}

/** Parses a command line into final options; isTrain defaults to true. */
export function parseOptions(argv: readonly string[] | string, config: ParseConfig): Options {
  return parseOptionsWithParser(argv, config).opt;
}

export function parseTrainOptions(argv: readonly string[] | string, config: Omit<ParseConfig, 'isTrain'>): ParsedOptions<TrainOptions> {
  return parseOptionsWithParser(argv, { ...config, isTrain: true }) as ParsedOptions<TrainOptions>;
}

export function parseTestOptions(argv: readonly string[] | string, config: Omit<ParseConfig, 'isTrain'>): ParsedOptions<TestOptions> {
  return parseOptionsWithParser(argv, { ...config, isTrain: false }) as ParsedOptions<TestOptions>;
}
