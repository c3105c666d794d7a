/**
 * The reference's template dataset, the starting point for a new dataset: its hook adds a flag and changes defaults
 * (max_dataset_size 10), and each image of <dataroot>/<phase> is both A and B under the same random transform (the
 * reference's template leaves loading to the reader; a pair of one image keeps this one usable, e.g. by the template
 * model, which then learns the identity). Copy this file to add a dataset, then add one line to DATASET_PLUGINS in
 * src/data/create_dataset.ts (docs/architecture.md, "Adding a dataset").
 */
import type { OptionParser } from '../options/option_parser';
import { DataOptions, DatasetPlugin, PhaseFolderDataset, SamplePlan } from './base_dataset';
import { cropNeedsSourceSize, getParams, planTransform, Rng } from './transforms';

/** The flag this dataset adds, typed where it is declared. */
export interface TemplateDatasetOptionValues {
  new_dataset_option: number;
}

export function modifyTemplateDatasetOptions(parser: OptionParser): void {
  parser.addArgument('--new_dataset_option', { type: 'float', default: 1.0, group: 'template dataset', help: 'new dataset option' });
  parser.setDefaults({ max_dataset_size: 10, new_dataset_option: 2.0 });
}

export class TemplateDataset extends PhaseFolderDataset {
  constructor(opt: DataOptions & Partial<TemplateDatasetOptionValues>, rng: Rng) {
    super(opt, rng);
  }

  async plan(index: number): Promise<SamplePlan> {
    this.checkIndex(index);
    const file = this.paths[index];
    const opt = this.opt;
    const sourceSize = cropNeedsSourceSize(opt) ? await this.sourceSize(file) : null;
    // One set of random draws for both sides, so A and B stay the same image.
    const params = getParams(opt, sourceSize ?? [opt.load_size, opt.load_size], this.rng);
    const stepsA = planTransform(opt, { grayscale: this.inputNc === 1, params, sourceSize, file, rng: this.rng });
    const stepsB = planTransform(opt, { grayscale: this.outputNc === 1, params, sourceSize, file, rng: this.rng });
    return {
      jobs: [{
        path: file, maxPixels: this.maxPixels,
        parts: [{ region: 'whole', steps: stepsA, output: 'normalized', key: 'A' }, { region: 'whole', steps: stepsB, output: 'normalized', key: 'B' }],
      }],
      A_paths: file,
      B_paths: file,
    };
  }
}

export const TEMPLATE_DATASET: DatasetPlugin = {
  options: { modifyCommandlineOptions: modifyTemplateDatasetOptions },
  dataset: TemplateDataset,
};
