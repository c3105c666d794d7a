// The plugin registries handed to the options layer: the option hooks of every model (src/models/index.ts) and
// dataset (src/data/create_dataset.ts), and the option parsers bound to them. The options layer only ever sees
// hooks (plain data); this module is the one place that joins the two.
import { DATASET_PLUGINS } from './data/create_dataset';
import { MODEL_PLUGINS } from './models';
import type { OptionHook } from './options/plugin_options';
import * as options from './options/parse_options';
import type { GatheredOptions, Options, ParseConfig, ParsedOptions, PluginHooks, TestOptions, TrainOptions } from './options/parse_options';

function hooksOf(plugins: Readonly<Record<string, { options: OptionHook }>>): Record<string, OptionHook> {
  return Object.fromEntries(Object.entries(plugins).map(([name, p]) => [name, p.options]));
}

/** Every model's and dataset's option hook, by name. */
export const PLUGIN_HOOKS: PluginHooks = { modelHooks: hooksOf(MODEL_PLUGINS), datasetHooks: hooksOf(DATASET_PLUGINS) };

/** ParseConfig with the registries' hooks unless others are given (a test's own plugin). */
/** parseOptions' settings; the model and dataset hooks come from the registries. */
export type PluginParseConfig = Partial<ParseConfig>;

const withHooks = (config: PluginParseConfig): ParseConfig => ({ ...PLUGIN_HOOKS, ...config });

/** Parses a command line (string or argv) with the reference's option sets and every registered plugin's flags. */
export function parseOptions(argv: readonly string[] | string, config: PluginParseConfig = {}): Options {
  return options.parseOptions(argv, withHooks(config));
}
export function parseOptionsWithParser(argv: readonly string[] | string, config: PluginParseConfig = {}): ParsedOptions {
  return options.parseOptionsWithParser(argv, withHooks(config));
}
export function parseTrainOptions(argv: readonly string[] | string, config: Omit<PluginParseConfig, 'isTrain'> = {}): ParsedOptions<TrainOptions> {
  return options.parseTrainOptions(argv, withHooks(config));
}
export function parseTestOptions(argv: readonly string[] | string, config: Omit<PluginParseConfig, 'isTrain'> = {}): ParsedOptions<TestOptions> {
  return options.parseTestOptions(argv, withHooks(config));
}
export function gatherOptions(argv: readonly string[], config: PluginParseConfig & { isTrain: boolean }): GatheredOptions {
  return options.gatherOptions(argv, { ...PLUGIN_HOOKS, ...config });
}
