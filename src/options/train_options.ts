/**
 * Training options: the reference's TrainOptions (reference.md §2.2) on top of the base options,
 * plus the live-view, NaN-handling and multi-process flags of this project.
 */
import { addBaseOptions, PluginNames } from './base_options';
import { addFidWeightsOption, VAL_METRIC_CHOICES } from './metric_options';
import { GAN_MODES } from '../architectures';
import type { GanMode } from '../architectures';
import { OptionParser } from './option_parser';

/** The training flags (the reference's options/train_options.py). */
export interface TrainOptionValues {
  display_freq: number;
  update_html_freq: number;
  print_freq: number;
  no_html: boolean;
  save_latest_freq: number;
  save_epoch_freq: number;
  save_by_iter: boolean;
  continue_train: boolean;
  epoch_count: number;
  n_epochs: number;
  n_epochs_decay: number;
  beta1: number;
  lr: number;
  gan_mode: GanMode;
  pool_size: number;
  lr_policy: string;
  lr_decay_iters: number;
  // --- additions of this project ---
  /** Port of the live training view; 0 = off. */
  display_port: number;
  display_host: string;
  /** What a non-finite loss does: stop the run, or skip the step. */
  nan_policy: string;
  /** Processes for multi-GPU training (one per device). */
  nproc_per_node: number;
  /** Validate every N epochs (0 = never). */
  val_freq: number;
  val_metric: string;
  val_phase: string;
  save_best: boolean;
  fid_weights: string | null;
}

export const GAN_MODE_CHOICES = GAN_MODES;
export const LR_POLICY_CHOICES = ['linear', 'step', 'plateau', 'cosine'] as const;
export const NAN_POLICY_CHOICES = ['stop', 'skip'] as const;

export function addTrainOptions(parser: OptionParser): OptionParser {
  const html = 'HTML visualization parameters';
  // Frequencies are used as `total_iters % freq`, so 0 would never fire (Python would divide by zero).
  parser.addArgument('--display_freq', { type: 'int', default: 400, min: 1, group: html, help: 'frequency of showing training results on screen' });
  parser.addArgument('--update_html_freq', { type: 'int', default: 1000, min: 1, group: html, help: 'frequency of saving training results to html' });
  parser.addArgument('--print_freq', { type: 'int', default: 100, min: 1, group: html, help: 'frequency of showing training results on console' });
  parser.addArgument('--no_html', { type: 'flag', group: html, help: 'do not save intermediate training results to [opt.checkpoints_dir]/[opt.name]/web/' });
  parser.addArgument('--display_port', { type: 'int', default: 0, min: 0, group: html, help: 'port of the live training view (0 = off)' });
  parser.addArgument('--display_host', { type: 'str', default: '127.0.0.1', group: html, help: 'address the live training view listens on' });

  const saving = 'network saving and loading parameters';
  parser.addArgument('--save_latest_freq', { type: 'int', default: 5000, min: 1, group: saving, help: 'frequency of saving the latest results' });
  parser.addArgument('--save_epoch_freq', { type: 'int', default: 5, min: 1, group: saving, help: 'frequency of saving checkpoints at the end of epochs' });
  parser.addArgument('--save_by_iter', { type: 'flag', group: saving, help: 'whether saves model by iteration' });
  parser.addArgument('--continue_train', { type: 'flag', group: saving, help: 'continue training: load the latest model' });
  parser.addArgument('--epoch_count', { type: 'int', default: 1, min: 1, group: saving, help: 'the starting epoch count, we save the model by <epoch_count>, <epoch_count>+<save_latest_freq>, ...' });
  parser.addArgument('--phase', { type: 'str', default: 'train', group: saving, help: 'train, val, test, etc' });

  const training = 'training parameters';
  parser.addArgument('--n_epochs', { type: 'int', default: 100, min: 0, group: training, help: 'number of epochs with the initial learning rate' });
  parser.addArgument('--n_epochs_decay', { type: 'int', default: 100, min: 0, group: training, help: 'number of epochs to linearly decay learning rate to zero' });
  parser.addArgument('--beta1', { type: 'float', default: 0.5, group: training, help: 'momentum term of adam' });
  parser.addArgument('--lr', { type: 'float', default: 0.0002, group: training, help: 'initial learning rate for adam' });
  parser.addArgument('--gan_mode', { type: 'str', default: 'lsgan', choices: GAN_MODE_CHOICES, group: training, help: 'the type of GAN objective; vanilla is the cross-entropy objective of the original GAN paper' });
  parser.addArgument('--pool_size', { type: 'int', default: 50, min: 0, group: training, help: 'the size of image buffer that stores previously generated images' });
  parser.addArgument('--lr_policy', { type: 'str', default: 'linear', choices: LR_POLICY_CHOICES, group: training, help: 'learning rate policy' });
  parser.addArgument('--lr_decay_iters', { type: 'int', default: 50, min: 1, group: training, help: 'multiply by a gamma every lr_decay_iters epochs (step policy)' });
  parser.addArgument('--nan_policy', { type: 'str', default: 'stop', choices: NAN_POLICY_CHOICES, group: training, help: 'on a non-finite loss: stop the run, or skip the step' });
  parser.addArgument('--nproc_per_node', { type: 'int', default: 1, min: 1, group: training, help: 'processes (one per GPU) for distributed training' });

  const validation = 'validation parameters';
  parser.addArgument('--val_freq', { type: 'int', default: 0, min: 0, group: validation, help: 'measure --val_metric on the --val_phase split every N epochs (0 = never)' });
  parser.addArgument('--val_metric', { type: 'str', default: 'l1', choices: VAL_METRIC_CHOICES, group: validation, help: 'l1 and fid: lower is better; psnr and ssim: higher is better (cycle_gan: fid only)' });
  parser.addArgument('--val_phase', { type: 'str', default: 'val', group: validation, help: 'the split validation translates (<dataroot>/<val_phase>)' });
  parser.addArgument('--save_best', { type: 'flag', group: validation, help: 'keep best_net_*.pth of the best validation so far (its sidecar records metric and epoch)' });
  addFidWeightsOption(parser, validation);
  return parser;
}

/** The full training parser before model/dataset hooks run. */
export function createTrainParser(plugins: PluginNames, prog = 'img2img train'): OptionParser {
  const parser = new OptionParser(prog, 'Train a pix2pix / CycleGAN model.');
  addBaseOptions(parser, plugins);
  addTrainOptions(parser);
  return parser;
}
