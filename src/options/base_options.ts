/**
 * Options shared by training and testing: every flag of the reference's BaseOptions with the same
 * name, type and default (reference.md §2.1), plus this project's additions (seed, device, image limits).
 * Where the reference accepts any string and fails later (netG, norm, ...), we list the valid values
 * as choices so a typo is reported here, once, at the edge.
 */
import { ArgumentSpec, OptionParser } from './option_parser';
import { GENERATOR_ARCHS, DISCRIMINATOR_ARCHS, NORMS, INIT_TYPES, resolveArchitecture } from '../architectures';
import { DEVICE_PATTERN } from '../device';
import type { GeneratorArch, DiscriminatorArch, Norm, InitType } from '../architectures';
import { PRECISIONS } from '../precision';
import type { Precision } from '../precision';

/** Values of the base options after parsing (snake_case like the reference's `opt`). */
export interface BaseOptionValues {
  dataroot: string;
  name: string;
  checkpoints_dir: string;
  model: string;
  input_nc: number;
  output_nc: number;
  ngf: number;
  ndf: number;
  netD: DiscriminatorArch;
  netG: GeneratorArch;
  n_layers_D: number;
  norm: Norm;
  init_type: InitType;
  init_gain: number;
  no_dropout: boolean;
  dataset_mode: string;
  direction: string;
  serial_batches: boolean;
  num_threads: number;
  batch_size: number;
  load_size: number;
  crop_size: number;
  /** Infinity unless limited (the reference's float("inf")). */
  max_dataset_size: number;
  preprocess: string;
  no_flip: boolean;
  display_winsize: number;
  epoch: string;
  load_iter: number;
  verbose: boolean;
  suffix: string;
  use_wandb: boolean;
  wandb_project_name: string;
  /** 'train' for train options, 'test' (or what the user gives) for test options. */
  phase: string;
  // --- additions of this project ---
  /** Seed of every random generator; chosen at parse time when not given (so it is always in opt.txt). */
  seed: number;
  /** '' = automatic (cuda:0 if available, else cpu), 'cpu', 'cuda' or 'cuda:N'. */
  device: string;
  /** Classic reference flag: '-1' = CPU, '0' = cuda:0, '0,1' = several GPUs (see gpu_id_list). */
  gpu_ids: string;
  max_image_pixels: number;
  skip_bad_images: boolean;
  /** libtorch intra-op threads; 0 = all cores. */
  threads: number;
  /** Autocast dtype of the networks' forwards (src/precision.ts); fp32 = off. */
  precision: Precision;
  /** Run a precision the CPU only emulates (bf16 without avx512_bf16/amx_bf16) instead of refusing it. */
  force_precision: boolean;
}

export const DIRECTION_CHOICES = ['AtoB', 'BtoA'] as const;
export const PREPROCESS_CHOICES = ['resize_and_crop', 'crop', 'scale_width', 'scale_width_and_crop', 'none'] as const;

/** Accepted forms of --gpu_ids: '', '-1', '0', '0,1,2'. */
export const GPU_IDS_PATTERN = { regex: /^\s*(-?\d+\s*(,\s*-?\d+\s*)*)?$/, what: 'comma-separated GPU ids such as 0 or 0,1 (-1 for CPU)' };

const MODEL_GROUP = 'model parameters';

/** Every name the architecture table parses, beyond the listed choices (unet_<N>downs, resnet_<N>blocks). */
function isGeneratorArch(value: string | number): boolean {
  return resolveArchitecture({ kind: 'G', arch: String(value) }) !== null;
}
const DEVICE_GROUP = 'device parameters';

/** The flags that describe a generator: train and test take them here, `img2img serve` takes the same. */
export const GENERATOR_ARGUMENTS = {
  input_nc: { type: 'int', default: 3, min: 1, group: MODEL_GROUP, help: '# of input image channels: 3 for RGB and 1 for grayscale' },
  output_nc: { type: 'int', default: 3, min: 1, group: MODEL_GROUP, help: '# of output image channels: 3 for RGB and 1 for grayscale' },
  ngf: { type: 'int', default: 64, min: 1, group: MODEL_GROUP, help: '# of gen filters in the last conv layer' },
  netG: {
    type: 'str', default: 'resnet_9blocks', choices: GENERATOR_ARCHS, alsoAccepts: isGeneratorArch, group: MODEL_GROUP,
    help: 'generator architecture (or unet_<N>downs, resnet_<N>blocks)',
  },
  norm: { type: 'str', default: 'instance', choices: NORMS, group: MODEL_GROUP, help: 'instance normalization or batch normalization' },
  no_dropout: { type: 'flag', group: MODEL_GROUP, help: 'no dropout for the generator' },
} as const satisfies Record<string, ArgumentSpec>;

/** --device, --threads and the precision flags, shared the same way. */
export const DEVICE_ARGUMENTS = {
  device: { type: 'str', default: '', pattern: DEVICE_PATTERN, group: DEVICE_GROUP, help: 'cpu, cuda or cuda:N; empty = cuda:0 if available, else cpu' },
  threads: { type: 'int', default: 0, min: 0, group: DEVICE_GROUP, help: 'libtorch intra-op threads; 0 = all cores' },
  precision: { type: 'str', default: 'fp32', choices: PRECISIONS, group: DEVICE_GROUP, help: 'mixed precision of the networks\' forwards (autocast; weights, optimizer state and losses stay fp32): fp32, bf16 (CUDA, or a CPU with avx512_bf16/amx_bf16) or fp16 (CUDA, with a dynamic loss scaler)' },
  force_precision: { type: 'flag', group: DEVICE_GROUP, help: 'run bf16 on a CPU without native bf16 (emulated: same numerics, slower than fp32) instead of refusing' },
} as const satisfies Record<string, ArgumentSpec>;

export interface PluginNames {
  /** Names accepted by --model (the model option hooks). */
  modelNames: readonly string[];
  /** Names accepted by --dataset_mode (the dataset option hooks). */
  datasetModes: readonly string[];
}

export function addBaseOptions(parser: OptionParser, plugins: PluginNames): OptionParser {
  const basic = 'basic parameters';
  parser.addArgument('--dataroot', { type: 'str', required: true, group: basic, help: 'path to images (should have subfolders trainA, trainB, valA, valB, etc)' });
  parser.addArgument('--name', { type: 'str', default: 'experiment_name', group: basic, help: 'name of the experiment. It decides where to store samples and models' });
  parser.addArgument('--checkpoints_dir', { type: 'str', default: './checkpoints', group: basic, help: 'models are saved here' });

  const model = MODEL_GROUP;
  parser.addArgument('--model', { type: 'str', default: 'cycle_gan', choices: plugins.modelNames, group: model, help: 'chooses which model to use' });
  parser.addArgument('--input_nc', GENERATOR_ARGUMENTS.input_nc);
  parser.addArgument('--output_nc', GENERATOR_ARGUMENTS.output_nc);
  parser.addArgument('--ngf', GENERATOR_ARGUMENTS.ngf);
  parser.addArgument('--ndf', { type: 'int', default: 64, min: 1, group: model, help: '# of discrim filters in the first conv layer' });
  parser.addArgument('--netD', { type: 'str', default: 'basic', choices: DISCRIMINATOR_ARCHS, group: model, help: 'discriminator architecture; basic is a 70x70 PatchGAN, n_layers uses --n_layers_D' });
  parser.addArgument('--netG', GENERATOR_ARGUMENTS.netG);
  parser.addArgument('--n_layers_D', { type: 'int', default: 3, min: 1, group: model, help: 'only used if netD==n_layers' });
  parser.addArgument('--norm', GENERATOR_ARGUMENTS.norm);
  parser.addArgument('--init_type', { type: 'str', default: 'normal', choices: INIT_TYPES, group: model, help: 'network initialization' });
  parser.addArgument('--init_gain', { type: 'float', default: 0.02, group: model, help: 'scaling factor for normal, xavier and orthogonal' });
  parser.addArgument('--no_dropout', GENERATOR_ARGUMENTS.no_dropout);

  const dataset = 'dataset parameters';
  parser.addArgument('--dataset_mode', { type: 'str', default: 'unaligned', choices: plugins.datasetModes, group: dataset, help: 'chooses how datasets are loaded' });
  parser.addArgument('--direction', { type: 'str', default: 'AtoB', choices: DIRECTION_CHOICES, group: dataset, help: 'AtoB or BtoA' });
  parser.addArgument('--serial_batches', { type: 'flag', group: dataset, help: 'if true, takes images in order to make batches, otherwise takes them randomly' });
  parser.addArgument('--num_threads', { type: 'int', default: 4, min: 0, group: dataset, help: '# threads for loading data' });
  parser.addArgument('--batch_size', { type: 'int', default: 1, min: 1, group: dataset, help: 'input batch size' });
  parser.addArgument('--load_size', { type: 'int', default: 286, min: 1, group: dataset, help: 'scale images to this size' });
  parser.addArgument('--crop_size', { type: 'int', default: 256, min: 1, group: dataset, help: 'then crop to this size' });
  parser.addArgument('--max_dataset_size', { type: 'int', default: Infinity, min: 0, group: dataset, help: 'maximum number of samples allowed per dataset; a larger dataset directory is cut to a subset' });
  parser.addArgument('--preprocess', { type: 'str', default: 'resize_and_crop', choices: PREPROCESS_CHOICES, group: dataset, help: 'scaling and cropping of images at load time' });
  parser.addArgument('--no_flip', { type: 'flag', group: dataset, help: 'if specified, do not flip the images for data augmentation' });
  parser.addArgument('--display_winsize', { type: 'int', default: 256, min: 1, group: dataset, help: 'display window size for HTML' });
  parser.addArgument('--max_image_pixels', { type: 'int', default: 50_000_000, min: 1, group: dataset, help: 'refuse to decode images with more pixels than this (decompression-bomb guard)' });
  parser.addArgument('--skip_bad_images', { type: 'flag', group: dataset, help: 'skip unreadable or oversized images with a warning instead of stopping' });

  const additional = 'additional parameters';
  parser.addArgument('--epoch', { type: 'str', default: 'latest', group: additional, help: 'which epoch to load? set to latest to use latest cached model' });
  // Declared default is the *string* '0' as in the reference: the value is int 0, and opt.txt always shows [default: 0].
  parser.addArgument('--load_iter', { type: 'int', default: '0', min: 0, group: additional, help: 'which iteration to load? if load_iter > 0, load models by iter_[load_iter]; otherwise by [epoch]' });
  parser.addArgument('--verbose', { type: 'flag', group: additional, help: 'if specified, print more debugging information' });
  parser.addArgument('--suffix', { type: 'str', default: '', group: additional, help: 'customized suffix: opt.name = opt.name + suffix: e.g., {model}_{netG}_size{load_size}' });
  parser.addArgument('--seed', { type: 'int', min: 0, group: additional, help: 'seed of every random generator; a random one is chosen (and saved in opt.txt) when not given' });

  const device = DEVICE_GROUP;
  parser.addArgument('--device', DEVICE_ARGUMENTS.device);
  parser.addArgument('--gpu_ids', { type: 'str', default: '', pattern: GPU_IDS_PATTERN, group: device, help: 'classic flag: gpu ids, e.g. 0  0,1,2  0,2; use -1 for CPU (sets --device)' });
  parser.addArgument('--threads', DEVICE_ARGUMENTS.threads);
  parser.addArgument('--precision', DEVICE_ARGUMENTS.precision);
  parser.addArgument('--force_precision', DEVICE_ARGUMENTS.force_precision);

  const wandb = 'wandb parameters';
  parser.addArgument('--use_wandb', { type: 'flag', group: wandb, help: 'use wandb (optional; not bundled)' });
  parser.addArgument('--wandb_project_name', { type: 'str', default: 'CycleGAN-and-pix2pix', group: wandb, help: 'specify wandb project name' });
  return parser;
}
