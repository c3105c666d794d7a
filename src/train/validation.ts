/**
 * --val_freq N: every N epochs, translate the --val_phase split and measure --val_metric (src/metrics); with
 * --save_best keep best_net_*.pth of the best value so far, its sidecar recording metric, value and epoch.
 * The generator runs in eval mode (running BatchNorm statistics, no dropout), so validating is deterministic and
 * leaves the training state (BatchNorm statistics, RNGs) as it was.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createDataLoader } from '../data/data_loader';
import { createDataset } from '../data/create_dataset';
import type { DataOptions } from '../data/base_dataset';
import type { RawImage8 } from '../data/image';
import { measureImages, MetricName } from '../metrics/evaluate';
import { FidInception } from '../metrics/fid_inception';
import { resolveFidWeightsPath } from '../metrics/fid_weights_location';
import { MetricError } from '../metrics/metric_errors';
import type { BaseModel } from '../models/base_model';
import { sidecarPath } from '../checkpoint/network_checkpoint';
import { networkFileName } from '../checkpoint/run_checkpoints';
import type { Options } from '../options/parse_options';
import { PythonRandom } from '../util/python_random';
import { visualToImage } from '../inference/visuals';

/** One validation (--val_freq): the metric on the validation split and the best so far. */
export interface ValidationInfo {
  epoch: number;
  totalIters: number;
  metric: string;
  value: number;
  images: number;
  seconds: number;
  /** The best value so far (this one when improved) and its epoch. */
  best: { value: number; epoch: number };
  improved: boolean;
}

const LOWER_IS_BETTER = new Set(['l1', 'fid']);
/** The label of the best checkpoints. */
export const BEST_LABEL = 'best';

export class Validator {
  private best: { value: number; epoch: number } | null;
  private constructor(private readonly opt: Options, readonly metric: string, private readonly inception: FidInception | null) {
    this.best = null;
  }

  /** null without --val_freq; checks the split, the metric and (fid) the weights before training starts. */
  static create(opt: Options, saveDir: string, firstNetwork: string): Validator | null {
    const freq = opt.val_freq ?? 0;
    if (freq <= 0 && opt.save_best) throw new MetricError('ERR_IMG2IMG_METRIC_BAD_OPTION', '--val_freq N > 0 (best of what?)', '--save_best', '--val_freq 0');
    if (freq <= 0) return null;
    const metric = opt.val_metric ?? 'l1';
    const phase = opt.val_phase ?? 'val';
    if (!fs.existsSync(path.join(opt.dataroot, phase)) && !fs.existsSync(path.join(opt.dataroot, `${phase}A`))) {
      throw new MetricError('ERR_IMG2IMG_VALIDATION_SPLIT_MISSING', `a ${path.join(opt.dataroot, phase)} folder (--val_phase) for --val_freq`, 'validation', 'no such folder');
    }
    if (opt.model === 'cycle_gan' && metric !== 'fid') {
      throw new MetricError('ERR_IMG2IMG_METRIC_BAD_OPTION', 'fid (unaligned data has no pairs to compare)', '--val_metric with --model cycle_gan', `'${metric}'`);
    }
    const inception = metric === 'fid' ? FidInception.load(resolveFidWeightsPath(opt.fid_weights), { device: opt.device }) : null;
    const v = new Validator(opt, metric, inception);
    v.best = readBest(path.join(saveDir, networkFileName(BEST_LABEL, firstNetwork)), metric);
    return v;
  }

  due(epoch: number): boolean { return epoch % (this.opt.val_freq ?? 1) === 0; }

  /** Translates the split in eval mode and measures; with --save_best saves best_net_* when the value improved. */
  async run(model: BaseModel, epoch: number, totalIters: number): Promise<ValidationInfo> {
    const started = Date.now();
    const { real, fake } = await this.translate(model);
    const metric = this.metric as MetricName;
    const value = (await measureImages(real, fake, [metric], { inception: this.inception ?? undefined }))[metric] as number;
    const improved = Number.isFinite(value) && (!this.best || (LOWER_IS_BETTER.has(this.metric) ? value < this.best.value : value > this.best.value));
    if (improved) this.best = { value, epoch };
    if (improved && this.opt.save_best) {
      model.saveNetworks(BEST_LABEL, { val_metric: this.metric, val_value: value, val_epoch: epoch, val_total_iters: totalIters, val_phase: this.opt.val_phase ?? 'val' });
    }
    return { epoch, totalIters, metric: this.metric, value, images: real.length, seconds: (Date.now() - started) / 1000, best: this.best ?? { value, epoch }, improved };
  }

  private async translate(model: BaseModel): Promise<{ real: RawImage8[]; fake: RawImage8[] }> {
    // As test.py: one image at a time, in order, unflipped, no random crop (load_size = crop_size).
    const valOpt: DataOptions = {
      ...this.opt, phase: this.opt.val_phase ?? 'val', serial_batches: true, no_flip: true, batch_size: 1, num_threads: 0,
      load_size: this.opt.crop_size,
    };
    const dataset = createDataset(valOpt, new PythonRandom(this.opt.seed));
    const loader = createDataLoader(valOpt, dataset);
    const real: RawImage8[] = [], fake: RawImage8[] = [];
    model.eval();
    try {
      for await (const batch of loader) {
        model.setInput({ A: { data: batch.A, shape: batch.shapeA }, B: batch.B ? { data: batch.B, shape: batch.shapeB! } : undefined, A_paths: batch.A_paths, B_paths: batch.B_paths });
        model.test();
        const visuals = model.getCurrentVisuals();
        const pick = (names: string[]) => names.map((n) => visuals.get(n)).find((t) => t !== undefined);
        const f = pick(['fake_B_rgb', 'fake_B']), r = pick(['real_B_rgb', 'real_B']);
        if (!f || !r) throw new MetricError('ERR_IMG2IMG_METRIC_NO_PAIRS', 'fake_B and real_B visuals', `validation of --model ${this.opt.model}`, [...visuals.keys()].join(', '));
        fake.push(visualToImage(f));
        real.push(visualToImage(r));
      }
    } finally {
      model.train();
      await loader.close?.();
    }
    if (real.length < (this.inception ? 2 : 1)) {
      throw new MetricError('ERR_IMG2IMG_METRIC_TOO_FEW_IMAGES', this.inception ? 'at least 2 validation images for FID' : 'validation images', `--val_phase ${this.opt.val_phase}`, String(real.length));
    }
    return { real, fake };
  }

  dispose(): void { this.inception?.dispose(); }
}

/** The best value of an earlier run of this experiment (read from its best sidecar), for a resumed run. */
function readBest(checkpoint: string, metric: string): { value: number; epoch: number } | null {
  try {
    const info = JSON.parse(fs.readFileSync(sidecarPath(checkpoint), 'utf8'));
    const c = info?.context;
    return c && c.val_metric === metric && typeof c.val_value === 'number' ? { value: c.val_value, epoch: Number(c.val_epoch) } : null;
  } catch {
    return null;
  }
}

/** The loss_log.txt / console record of one validation. */
export function formatValidation(v: ValidationInfo): string {
  const digits = v.metric === 'ssim' ? 6 : 4;
  return `(epoch: ${v.epoch}, iters: ${v.totalIters}) validation ${v.metric}: ${v.value.toFixed(digits)} on ${v.images} images` +
    ` (best ${v.best.value.toFixed(digits)} at epoch ${v.best.epoch}${v.improved ? ', new best' : ''}; ${v.seconds.toFixed(1)} s)`;
}
