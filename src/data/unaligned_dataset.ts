/**
 * Two unpaired image sets, <dataroot>/<phase>A and <dataroot>/<phase>B (CycleGAN's format). Item i pairs
 * A[i % |A|] with a random B (or B[i % |B|] with --serial_batches), so no pairing is ever learned; each side
 * gets its own random crop and flip.
 */
import * as path from 'path';
import { NO_OPTIONS } from '../options/plugin_options';
import { BaseDataset, DataOptions, DatasetPlugin, SamplePlan } from './base_dataset';
import { makeDataset, sortLikePython } from './make_dataset';
import { cropNeedsSourceSize, planTransform, Rng, TransformSteps } from './transforms';

export class UnalignedDataset extends BaseDataset {
  readonly dirA: string;
  readonly dirB: string;
  readonly pathsA: string[];
  readonly pathsB: string[];

  constructor(opt: DataOptions, rng: Rng) {
    super(opt, rng);
    this.dirA = path.join(opt.dataroot, `${opt.phase}A`);
    this.dirB = path.join(opt.dataroot, `${opt.phase}B`);
    const origin = `--dataroot ${opt.dataroot}, --phase ${opt.phase}`;
    this.pathsA = sortLikePython(makeDataset(this.dirA, opt.max_dataset_size, origin));
    this.pathsB = sortLikePython(makeDataset(this.dirB, opt.max_dataset_size, origin));
  }

  /** max(|A|, |B|): an epoch visits every image of the larger set once. */
  get length(): number {
    return Math.max(this.pathsA.length, this.pathsB.length);
  }

  async plan(index: number): Promise<SamplePlan> {
    this.checkIndex(index);
    const fileA = this.pathsA[index % this.pathsA.length];
    // B is drawn before either transform runs, as in the reference's __getitem__
    const indexB = this.opt.serial_batches ? index % this.pathsB.length : this.rng.randint(0, this.pathsB.length - 1);
    const fileB = this.pathsB[indexB];
    const stepsA = await this.planSide(fileA, this.inputNc === 1);
    const stepsB = await this.planSide(fileB, this.outputNc === 1);
    return {
      jobs: [
        { path: fileA, maxPixels: this.maxPixels, parts: [{ region: 'whole', steps: stepsA, output: 'normalized', key: 'A' }] },
        { path: fileB, maxPixels: this.maxPixels, parts: [{ region: 'whole', steps: stepsB, output: 'normalized', key: 'B' }] },
      ],
      A_paths: fileA,
      B_paths: fileB,
    };
  }

  private async planSide(file: string, grayscale: boolean): Promise<TransformSteps> {
    const sourceSize = cropNeedsSourceSize(this.opt) ? await this.sourceSize(file) : null;
    return planTransform(this.opt, { grayscale, params: null, sourceSize, file, rng: this.rng });
  }
}

export const UNALIGNED: DatasetPlugin = { options: NO_OPTIONS, dataset: UnalignedDataset };
