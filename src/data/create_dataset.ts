/**
 * --dataset_mode → dataset class, as the reference's data/__init__.py finds `<mode>_dataset.py`.
 * (The reference's `template` dataset is a stub that returns None tensors and is not provided.)
 */
import { expected } from '../options/option_errors';
import { AlignedDataset } from './aligned_dataset';
import { DataOptions, Dataset } from './base_dataset';
import { ColorizationDataset } from './colorization_dataset';
import { SingleDataset } from './single_dataset';
import { Rng } from './transforms';
import { UnalignedDataset } from './unaligned_dataset';

const DATASETS: Record<string, new (opt: DataOptions, rng: Rng) => Dataset> = {
  aligned: AlignedDataset,
  unaligned: UnalignedDataset,
  single: SingleDataset,
  colorization: ColorizationDataset,
};

export const DATASET_MODES = Object.keys(DATASETS);

export function createDataset(opt: DataOptions, rng: Rng): Dataset {
  const mode = opt.dataset_mode ?? 'unaligned';
  const Dataset = DATASETS[mode];
  if (!Dataset) throw expected(`one of ${DATASET_MODES.join(', ')}`, '--dataset_mode', mode);
  return new Dataset(opt, rng);
}
