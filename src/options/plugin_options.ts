/**
 * The `modify_commandline_options` hooks of the reference's models and datasets (reference.md §2.4).
 * A model or dataset changes option defaults and adds its own flags here; gatherOptions calls the
 * chosen model's hook, re-parses, then the chosen dataset's hook. A model class with a static
 * `modifyCommandlineOptions` method can be used as a hook directly.
 */
import { expected } from './option_errors';
import { OptionParser, OptionValues } from './option_parser';
import { CUT_MODES, CUT_NETF_CHOICES } from '../cut_networks';

/** Options that only exist once a model's or dataset's hook has added them. */
export interface PluginOptionValues {
  /** pix2pix / colorization (train): weight of the L1 loss. */
  lambda_L1?: number;
  /** cycle_gan (train): weight of the cycle losses A→B→A and B→A→B. */
  lambda_A?: number;
  lambda_B?: number;
  /** cycle_gan (train): weight of the identity loss, relative to lambda_A / lambda_B. */
  lambda_identity?: number;
  /** test model: loads `[epoch]_net_G[model_suffix].pth`. */
  model_suffix?: string;
  /** cut (CUT / FastCUT, Park et al. 2020): CUT's own flags, named and defaulted as its options/ and cut_model.py. */
  CUT_mode?: string;
  lambda_GAN?: number;
  lambda_NCE?: number;
  nce_idt?: boolean;
  nce_layers?: string;
  nce_includes_all_negatives_from_minibatch?: boolean;
  netF?: string;
  netF_nc?: number;
  nce_T?: number;
  num_patches?: number;
  flip_equivariance?: boolean;
  no_antialias?: boolean;
  no_antialias_up?: boolean;
  normG?: string;
  normD?: string;
  /** template model (train). */
  lambda_regression?: number;
  /** template dataset. */
  new_dataset_option?: number;
}

export interface OptionHook {
  /** Changes defaults and adds flags; runs before the options are final. `argv` lets a hook read a flag it just added (CUT_mode). */
  modifyCommandlineOptions(parser: OptionParser, isTrain: boolean, argv?: readonly string[]): void;
  /** Checks the final options (the reference does these in the dataset/model constructor). */
  checkOptions?(opt: OptionValues): void;
}

/** Short name used by gatherOptions' config (`modelHooks` / `datasetHooks`). */
export type Hook = OptionHook;

export function modifyPix2pixOptions(parser: OptionParser, isTrain: boolean): void {
  // pix2pix paper: U-Net generator with batch norm on paired (aligned) images.
  parser.setDefaults({ norm: 'batch', netG: 'unet_256', dataset_mode: 'aligned' });
  if (isTrain) {
    // No image pool and the cross-entropy GAN loss; L1 keeps the output close to the target.
    parser.setDefaults({ pool_size: 0, gan_mode: 'vanilla' });
    parser.addArgument('--lambda_L1', { type: 'float', default: 100.0, group: 'pix2pix', help: 'weight for L1 loss' });
  }
}

export function modifyCycleGanOptions(parser: OptionParser, isTrain: boolean): void {
  parser.setDefaults({ no_dropout: true }); // the CycleGAN paper uses no dropout
  if (isTrain) {
    const group = 'cycle_gan';
    parser.addArgument('--lambda_A', { type: 'float', default: 10.0, group, help: 'weight for cycle loss (A -> B -> A)' });
    parser.addArgument('--lambda_B', { type: 'float', default: 10.0, group, help: 'weight for cycle loss (B -> A -> B)' });
    parser.addArgument('--lambda_identity', {
      type: 'float', default: 0.5, group,
      help: 'use identity mapping. Setting lambda_identity other than 0 has an effect of scaling the weight of the identity mapping loss',
    });
  }
}

/**
 * CUT and FastCUT (cut_model.py's modify_commandline_options plus the options CUT's base options add over the
 * CycleGAN reference: normG/normD, no_antialias/no_antialias_up, xavier init, no dropout). CUT_mode then sets the
 * defaults of the chosen variant: CUT uses identity NCE; FastCUT a 10x NCE weight, flip equivariance instead of
 * identity NCE, and a shorter 150 + 50 epoch schedule.
 */
export function modifyCutOptions(parser: OptionParser, isTrain: boolean, argv: readonly string[] = []): void {
  const group = 'cut';
  parser.addArgument('--CUT_mode', { type: 'str', default: 'CUT', choices: CUT_MODES, group, help: 'CUT or FastCUT: which variant sets the defaults below' });
  parser.addArgument('--lambda_GAN', { type: 'float', default: 1.0, group, help: 'weight for GAN loss: GAN(G(X))' });
  parser.addArgument('--lambda_NCE', { type: 'float', default: 1.0, group, help: 'weight for NCE loss: NCE(G(X), X)' });
  parser.addArgument('--nce_idt', { type: 'bool', default: false, group, help: 'use NCE loss for identity mapping: NCE(G(Y), Y))' });
  parser.addArgument('--nce_layers', { type: 'str', default: '0,4,8,12,16', pattern: { regex: /^\d+(,\d+)*$/, what: 'comma-separated layer indices' }, group, help: 'compute NCE loss on which layers' });
  parser.addArgument('--nce_includes_all_negatives_from_minibatch', {
    type: 'bool', default: false, group,
    help: '(used for single image translation) If True, include the negatives from the other samples of the minibatch when computing the contrastive loss.',
  });
  parser.addArgument('--netF', { type: 'str', default: 'mlp_sample', choices: CUT_NETF_CHOICES, group, help: 'how to downsample the feature map' });
  parser.addArgument('--netF_nc', { type: 'int', default: 256, min: 1, group, help: 'channels of the projection head (netF)' });
  parser.addArgument('--nce_T', { type: 'float', default: 0.07, group, help: 'temperature for NCE loss' });
  parser.addArgument('--num_patches', { type: 'int', default: 256, min: 1, group, help: 'number of patches per layer' });
  parser.addArgument('--flip_equivariance', { type: 'bool', default: false, group, help: "Enforce flip-equivariance as additional regularization. It's used by FastCUT, but not CUT" });
  parser.addArgument('--normG', { type: 'str', default: 'instance', choices: ['instance', 'batch', 'none'], group, help: 'instance normalization or batch normalization for G' });
  parser.addArgument('--normD', { type: 'str', default: 'instance', choices: ['instance', 'batch', 'none'], group, help: 'instance normalization or batch normalization for D' });
  parser.addArgument('--no_antialias', { type: 'flag', group, help: 'if specified, use stride=2 convs instead of antialiased-downsampling (sad)' });
  parser.addArgument('--no_antialias_up', { type: 'flag', group, help: 'if specified, use [upconv(learned filter)] instead of [upconv(hard-coded [1,3,3,1] filter), conv]' });
  parser.setDefaults({ init_type: 'xavier', no_dropout: true });
  if (isTrain) parser.setDefaults({ pool_size: 0, gan_mode: 'lsgan' }); // no image pooling
  const mode = String(parser.parseKnown(argv, { deferRequired: true }).values.CUT_mode).toLowerCase();
  if (mode === 'cut') parser.setDefaults({ nce_idt: true, lambda_NCE: 1.0 });
  else {
    parser.setDefaults({ nce_idt: false, lambda_NCE: 10.0, flip_equivariance: true });
    if (isTrain) parser.setDefaults({ n_epochs: 150, n_epochs_decay: 50 });
  }
}

export function modifyTestModelOptions(parser: OptionParser, isTrain: boolean): void {
  // The test model holds one generator and no losses: it cannot be trained.
  if (isTrain) throw expected('a trainable model (cycle_gan, pix2pix, cut, colorization, template)', '--model', 'test', 'the test model only runs at test time');
  parser.setDefaults({ dataset_mode: 'single' });
  parser.addArgument('--model_suffix', {
    type: 'str', default: '', group: 'test model',
    help: 'In checkpoints_dir, [epoch]_net_G[model_suffix].pth will be loaded as the generator.',
  });
}

export function modifyColorizationModelOptions(parser: OptionParser, isTrain: boolean): void {
  modifyPix2pixOptions(parser, isTrain);
  parser.setDefaults({ dataset_mode: 'colorization' });
}

export function modifyTemplateModelOptions(parser: OptionParser, isTrain: boolean): void {
  parser.setDefaults({ dataset_mode: 'aligned' });
  if (isTrain) parser.addArgument('--lambda_regression', { type: 'float', default: 1.0, group: 'template', help: 'weight for the regression loss' });
}

export function modifyColorizationDatasetOptions(parser: OptionParser): void {
  // The colorization dataset reads L (1 channel) and predicts ab (2 channels) of Lab.
  parser.setDefaults({ input_nc: 1, output_nc: 2, direction: 'AtoB' });
}

export function checkColorizationDatasetOptions(opt: OptionValues): void {
  const why = 'the colorization dataset maps L to ab';
  if (opt.input_nc !== 1) throw expected('1', '--input_nc', opt.input_nc, why);
  if (opt.output_nc !== 2) throw expected('2', '--output_nc', opt.output_nc, why);
  if (opt.direction !== 'AtoB') throw expected('AtoB', '--direction', opt.direction, why);
}

export function modifyTemplateDatasetOptions(parser: OptionParser): void {
  parser.addArgument('--new_dataset_option', { type: 'float', default: 1.0, group: 'template dataset', help: 'new dataset option' });
  parser.setDefaults({ max_dataset_size: 10, new_dataset_option: 2.0 });
}

const noOptions: OptionHook = { modifyCommandlineOptions: () => undefined };

/** Models found by `--model <name>`, in the order they are listed in help and errors. */
export const MODEL_OPTION_HOOKS: Readonly<Record<string, OptionHook>> = {
  cycle_gan: { modifyCommandlineOptions: modifyCycleGanOptions },
  pix2pix: { modifyCommandlineOptions: modifyPix2pixOptions },
  cut: { modifyCommandlineOptions: modifyCutOptions },
  test: { modifyCommandlineOptions: modifyTestModelOptions },
  colorization: { modifyCommandlineOptions: modifyColorizationModelOptions },
  template: { modifyCommandlineOptions: modifyTemplateModelOptions },
};

/** Datasets found by `--dataset_mode <name>`; unaligned/aligned/single add no options. */
export const DATASET_OPTION_HOOKS: Readonly<Record<string, OptionHook>> = {
  unaligned: noOptions,
  aligned: noOptions,
  single: noOptions,
  colorization: { modifyCommandlineOptions: modifyColorizationDatasetOptions, checkOptions: checkColorizationDatasetOptions },
  template: { modifyCommandlineOptions: modifyTemplateDatasetOptions },
};
