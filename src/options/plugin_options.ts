/**
 * What the options layer needs to know of a model or dataset plugin: its `modify_commandline_options` hook
 * (reference.md §2.4). The hooks themselves live in the plugin files (src/models/*_model.ts, src/data/*_dataset.ts)
 * and reach the parser through the registries (src/plugins.ts); this layer never imports them.
 */
import { OptionParser, OptionValues } from './option_parser';

export interface OptionHook {
  /** Changes defaults and adds flags; runs before the options are final. `argv` lets a hook read a flag it just added (CUT_mode). */
  modifyCommandlineOptions(parser: OptionParser, isTrain: boolean, argv?: readonly string[]): void;
  /** Checks the final options (the reference does these in the dataset/model constructor). */
  checkOptions?(opt: OptionValues): void;
}

/** Short name used by gatherOptions' config (`modelHooks` / `datasetHooks`). */
export type Hook = OptionHook;

/** A hook for plugins that add no options. */
export const NO_OPTIONS: OptionHook = { modifyCommandlineOptions: () => undefined };

/**
 * Flags a plugin's hook added. Their types belong to the plugin (e.g. Pix2PixOptionValues, which the model reads
 * through BaseModel<O>); here they are only known to exist.
 */
export type PluginOptionValues = { [flag: string]: unknown };
