// Flags of the metrics that more than one command takes, declared once.
import type { OptionParser } from './option_parser';
import { FID_WEIGHTS_FILE } from '../metrics/fid_weights_location';

/** Paired metrics need the same image on both sides; FID compares sets. Lower is better for l1 and fid. */
export const VAL_METRIC_CHOICES = ['l1', 'psnr', 'ssim', 'fid'] as const;

/** --fid_weights FILE (img2img eval, and train with --val_metric fid). */
export function addFidWeightsOption(parser: OptionParser, group?: string): void {
  parser.addArgument('--fid_weights', {
    type: 'str', metavar: 'FILE', group,
    help: `pytorch-fid's ${FID_WEIGHTS_FILE}; omitted: $IMG2IMG_FID_WEIGHTS, else ./checkpoints/fid_inception/${FID_WEIGHTS_FILE}; img2img download model fid-inception`,
  });
}
