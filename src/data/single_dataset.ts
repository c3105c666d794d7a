/**
 * One set of images straight from <dataroot> (no phase folder), for running a generator in one direction
 * (`--model test`). Items have only A.
 */
import { NO_OPTIONS } from '../options/plugin_options';
import { BaseDataset, DataOptions, DatasetPlugin, SamplePlan } from './base_dataset';
import { makeDataset, sortLikePython } from './make_dataset';
import { cropNeedsSourceSize, planTransform, Rng } from './transforms';

export class SingleDataset extends BaseDataset {
  readonly dir: string;
  readonly paths: string[];

  constructor(opt: DataOptions, rng: Rng) {
    super(opt, rng);
    this.dir = opt.dataroot;
    this.paths = sortLikePython(makeDataset(this.dir, opt.max_dataset_size, `--dataroot ${opt.dataroot}`));
  }

  get length(): number {
    return this.paths.length;
  }

  async plan(index: number): Promise<SamplePlan> {
    this.checkIndex(index);
    const file = this.paths[index];
    const sourceSize = cropNeedsSourceSize(this.opt) ? await this.sourceSize(file) : null;
    const steps = planTransform(this.opt, { grayscale: this.inputNc === 1, params: null, sourceSize, file, rng: this.rng });
    return {
      jobs: [{ path: file, maxPixels: this.maxPixels, parts: [{ region: 'whole', steps, output: 'normalized', key: 'A' }] }],
      A_paths: file,
    };
  }
}

export const SINGLE: DatasetPlugin = { options: NO_OPTIONS, dataset: SingleDataset };
