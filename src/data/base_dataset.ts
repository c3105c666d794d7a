/**
 * What every dataset shares (the reference's data/base_dataset.py BaseDataset): the options it reads, the
 * item shape, and the split of `get(index)` into `plan` (random draws, main thread) and `runSamplePlan`
 * (decode + transforms, anywhere).
 */
import * as path from 'path';
import { expected } from '../options/option_errors';
import type { OptionHook } from '../options/plugin_options';
import { readImageHeader } from './image_header';
import { DEFAULT_MAX_IMAGE_PIXELS } from './image_io';
import { runSamplePlan, Sample, SamplePlan } from './load_job';
import { makeDataset, sortLikePython } from './make_dataset';
import { Rng, TransformOptions } from './transforms';

export type { Sample, SamplePlan } from './load_job';

/** The options the data pipeline reads, under the reference's names. */
export interface DataOptions extends TransformOptions {
  dataroot: string;
  phase: string;
  direction: string;
  input_nc: number;
  output_nc: number;
  serial_batches: boolean;
  /** Infinity by default, as the reference's float("inf"). */
  max_dataset_size: number;
  batch_size: number;
  num_threads: number;
  dataset_mode?: string;
  /** Decompression-bomb guard, checked from each image's header (default 50 megapixels). */
  max_image_pixels?: number;
  /** Warn about and skip unreadable images instead of stopping. */
  skip_bad_images?: boolean;
}

/** What a dataset plugin's class provides: its length, its random source and how each item is planned and loaded. */
export interface Dataset {
  /** Number of items (the reference's __len__). */
  readonly length: number;
  /** The random source every draw of this dataset (and, by default, the loader's shuffle) comes from. */
  readonly rng: Rng;
  /** One item, like the reference's __getitem__: draws its random numbers, decodes and transforms now. */
  get(index: number): Promise<Sample>;
  /** Only the random part of get(): the files and the decided transforms, for the loader to run elsewhere. */
  plan(index: number): Promise<SamplePlan>;
}

/**
 * A dataset plugin, what `--dataset_mode <name>` finds in the registry (src/data/create_dataset.ts): its option
 * hook and its class, both declared in the dataset's own file.
 */
export interface DatasetPlugin {
  options: OptionHook;
  dataset: new (opt: DataOptions, rng: Rng) => Dataset;
}

/** Common plumbing for the concrete datasets. */
export abstract class BaseDataset implements Dataset {
  /** Header sizes already read, so each file's header is read at most once per run. */
  private readonly sourceSizes = new Map<string, [number, number]>();

  protected constructor(
    readonly opt: DataOptions,
    readonly rng: Rng,
  ) {
    const { preprocess, load_size, crop_size } = opt;
    const resizes = preprocess.includes('resize') || preprocess.includes('scale_width');
    // otherwise every image would fail its crop; say so once, as an option error
    if (preprocess.includes('crop') && resizes && load_size < crop_size) {
      throw expected(
        `at least --crop_size (${crop_size})`,
        '--load_size',
        load_size,
        `--preprocess ${preprocess} resizes to --load_size before cropping --crop_size`,
      );
    }
  }

  abstract get length(): number;

  abstract plan(index: number): Promise<SamplePlan>;

  async get(index: number): Promise<Sample> {
    return runSamplePlan(await this.plan(index));
  }

  protected get maxPixels(): number {
    return this.opt.max_image_pixels ?? DEFAULT_MAX_IMAGE_PIXELS;
  }

  protected get isBtoA(): boolean {
    return this.opt.direction === 'BtoA';
  }

  /** Channel count of the side that becomes real_A (the dataset's input_nc: output_nc for BtoA). */
  protected get inputNc(): number {
    return this.isBtoA ? this.opt.output_nc : this.opt.input_nc;
  }

  /** Channel count of the side that becomes real_B. */
  protected get outputNc(): number {
    return this.isBtoA ? this.opt.input_nc : this.opt.output_nc;
  }

  /** Width and height of an image file from its header (decoding happens later, possibly in a worker). */
  protected async sourceSize(path: string): Promise<[number, number]> {
    const known = this.sourceSizes.get(path);
    if (known) return known;
    const header = await readImageHeader(path);
    const size: [number, number] = [header.width, header.height];
    this.sourceSizes.set(path, size);
    return size;
  }

  protected checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`Expected an index in 0..${this.length - 1} for the dataset but received ${index}`);
    }
  }
}

/** A dataset of the images in <dataroot>/<phase>, in the reference's sorted order. */
export abstract class PhaseFolderDataset extends BaseDataset {
  readonly dir: string;
  readonly paths: string[];

  protected constructor(opt: DataOptions, rng: Rng) {
    super(opt, rng);
    this.dir = path.join(opt.dataroot, opt.phase);
    this.paths = sortLikePython(makeDataset(this.dir, opt.max_dataset_size, `--dataroot ${opt.dataroot}, --phase ${opt.phase}`));
  }

  get length(): number {
    return this.paths.length;
  }
}
