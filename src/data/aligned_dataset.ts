/**
 * Paired images stored side by side, A on the left and B on the right, in <dataroot>/<phase> (pix2pix's
 * format). Both halves get the same crop and flip (get_params), so the pair stays aligned.
 */
import { expected } from '../options/option_errors';
import { NO_OPTIONS } from '../options/plugin_options';
import { DataOptions, DatasetPlugin, PhaseFolderDataset, SamplePlan } from './base_dataset';
import { getParams, planTransform, Rng } from './transforms';

export class AlignedDataset extends PhaseFolderDataset {
  constructor(opt: DataOptions, rng: Rng) {
    super(opt, rng);
    // the reference asserts this for every preprocess mode
    if (!(opt.load_size >= opt.crop_size)) {
      throw expected(`at least --crop_size (${opt.crop_size})`, '--load_size', opt.load_size, 'the aligned dataset requires load_size >= crop_size');
    }
  }

  async plan(index: number): Promise<SamplePlan> {
    this.checkIndex(index);
    const file = this.paths[index];
    const opt = this.opt;
    // get_params reads the size of the A half unless it resizes to a square first
    let sizeA: [number, number] | null = null;
    let sizeB: [number, number] | null = null;
    if (opt.preprocess !== 'resize_and_crop') {
      const [w, h] = await this.sourceSize(file);
      const w2 = Math.floor(w / 2);
      sizeA = [w2, h];
      sizeB = [w - w2, h];
    }
    const params = getParams(opt, sizeA ?? [opt.load_size, opt.load_size], this.rng);
    const stepsA = planTransform(opt, { grayscale: this.inputNc === 1, params, sourceSize: sizeA, file, rng: this.rng });
    const stepsB = planTransform(opt, { grayscale: this.outputNc === 1, params, sourceSize: sizeB, file, rng: this.rng });
    return {
      jobs: [
        {
          path: file,
          maxPixels: this.maxPixels,
          parts: [
            { region: 'left', steps: stepsA, output: 'normalized', key: 'A' },
            { region: 'right', steps: stepsB, output: 'normalized', key: 'B' },
          ],
        },
      ],
      A_paths: file,
      B_paths: file,
    };
  }
}

export const ALIGNED: DatasetPlugin = { options: NO_OPTIONS, dataset: AlignedDataset };
