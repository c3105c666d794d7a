/** Command-line options: the parser, the reference's option sets, printing; the parse functions take the plugins' hooks (src/plugins.ts binds the registries'). */
export { OptionParser } from './option_parser';
export type { ArgumentSpec, Argument, OptionType, OptionValue, OptionValues, KnownParse } from './option_parser';
export { OptionError, HelpRequested } from './option_errors';
export { addBaseOptions } from './base_options';
export type { BaseOptionValues, PluginNames } from './base_options';
export { addTrainOptions, createTrainParser } from './train_options';
export type { TrainOptionValues } from './train_options';
export { addTestOptions, createTestParser } from './test_options';
export type { TestOptionValues } from './test_options';
export { NO_OPTIONS } from './plugin_options';
export type { Hook, OptionHook, PluginOptionValues } from './plugin_options';
export {
  gatherOptions,
  gatherOptionsWithParser,
  parseOptions,
  parseOptionsWithParser,
  parseTrainOptions,
  parseTestOptions,
} from './parse_options';
export type { Options, TrainOptions, TestOptions, GatheredOptions, GatherConfig, ParseConfig, ParsedOptions, PluginHooks } from './parse_options';
export { formatOptions, saveOptions, printOptions, OPTIONS_HEADER, OPTIONS_FOOTER } from './print_options';
export { shellSplit } from './shell_split';
