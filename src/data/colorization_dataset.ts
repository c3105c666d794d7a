/**
 * Colorization (<dataroot>/<phase>): each RGB image becomes A = its lightness L (1 channel) and B = its
 * colour ab (2 channels) in CIE Lab, so a pix2pix model learns to predict colour from gray.
 */
import { expected } from '../options/option_errors';
import type { OptionParser, OptionValues } from '../options/option_parser';
import { DataOptions, DatasetPlugin, PhaseFolderDataset, SamplePlan } from './base_dataset';
import { cropNeedsSourceSize, planTransform, Rng } from './transforms';

/** The colorization dataset reads L (1 channel) and predicts ab (2 channels) of Lab. */
export function modifyColorizationDatasetOptions(parser: OptionParser): void {
  parser.setDefaults({ input_nc: 1, output_nc: 2, direction: 'AtoB' });
}

export function checkColorizationDatasetOptions(opt: Pick<OptionValues, 'input_nc' | 'output_nc' | 'direction'>): void {
  const why = 'the colorization dataset maps L to ab';
  if (opt.input_nc !== 1) throw expected('1', '--input_nc', opt.input_nc, why);
  if (opt.output_nc !== 2) throw expected('2', '--output_nc', opt.output_nc, why);
  if (opt.direction !== 'AtoB') throw expected('AtoB', '--direction', opt.direction, why);
}

export class ColorizationDataset extends PhaseFolderDataset {
  constructor(opt: DataOptions, rng: Rng) {
    super(opt, rng);
    checkColorizationDatasetOptions(opt); // the hook sets these defaults and the reference asserts them
  }

  async plan(index: number): Promise<SamplePlan> {
    this.checkIndex(index);
    const file = this.paths[index];
    const sourceSize = cropNeedsSourceSize(this.opt) ? await this.sourceSize(file) : null;
    // get_transform(opt, convert=False): resize/crop/flip on the RGB image, then Lab instead of Normalize
    const steps = planTransform(this.opt, { grayscale: false, params: null, sourceSize, file, rng: this.rng });
    return {
      jobs: [{ path: file, maxPixels: this.maxPixels, parts: [{ region: 'whole', steps, output: 'lab' }] }],
      A_paths: file,
      B_paths: file,
    };
  }
}

export const COLORIZATION_DATASET: DatasetPlugin = {
  options: { modifyCommandlineOptions: modifyColorizationDatasetOptions, checkOptions: checkColorizationDatasetOptions },
  dataset: ColorizationDataset,
};
