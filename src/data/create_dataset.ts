/**
 * The dataset registry: --dataset_mode -> dataset plugin, as the reference's data/__init__.py finds
 * `<mode>_dataset.py`. A plugin file declares its option hook and its class; a new dataset is one file plus one
 * line in DATASET_PLUGINS.
 */
import { expected } from '../options/option_errors';
import { ALIGNED } from './aligned_dataset';
import { DataOptions, Dataset, DatasetPlugin } from './base_dataset';
import { COLORIZATION_DATASET } from './colorization_dataset';
import { SINGLE } from './single_dataset';
import { TEMPLATE_DATASET } from './template_dataset';
import { Rng } from './transforms';
import { UNALIGNED } from './unaligned_dataset';

/** Datasets by --dataset_mode name, in the order help and errors list them. */
export const DATASET_PLUGINS: Readonly<Record<string, DatasetPlugin>> = {
  unaligned: UNALIGNED,
  aligned: ALIGNED,
  single: SINGLE,
  colorization: COLORIZATION_DATASET,
  template: TEMPLATE_DATASET,
};

export const DATASET_MODES = Object.keys(DATASET_PLUGINS);

export function createDataset(opt: DataOptions, rng: Rng): Dataset {
  const mode = opt.dataset_mode ?? 'unaligned';
  const plugin = DATASET_PLUGINS[mode];
  if (!plugin) throw expected(`one of ${DATASET_MODES.join(', ')}`, '--dataset_mode', mode);
  return new plugin.dataset(opt, rng);
}
