// The one list of each architecture choice (networks, option parsing and typings all read these), and the
// string-literal types derived from them.
/** The --netG names of the reference (unet_<N>downs and resnet_<N>blocks are accepted too). */
export const GENERATOR_ARCHS = ['unet_256', 'unet_128', 'resnet_9blocks', 'resnet_6blocks'] as const;
/** The --netD names. */
export const DISCRIMINATOR_ARCHS = ['basic', 'n_layers', 'pixel'] as const;
/** The --norm names. */
export const NORMS = ['instance', 'batch', 'none', 'syncbatch'] as const;
/** The --init_type names. */
export const INIT_TYPES = ['normal', 'xavier', 'kaiming', 'orthogonal'] as const;
/** The --gan_mode names. */
export const GAN_MODES = ['vanilla', 'lsgan', 'wgangp'] as const;

/** A --netG value: the listed names, or the grammar's unet_<N>downs and resnet_<N>blocks (src/generator_arch.ts). */
export type GeneratorArch = typeof GENERATOR_ARCHS[number] | `unet_${number}downs` | `resnet_${number}blocks`;
/** A discriminator architecture (--netD). */
export type DiscriminatorArch = typeof DISCRIMINATOR_ARCHS[number];
/** A normalization layer (--norm). */
export type Norm = typeof NORMS[number];
/** A weight initialization (--init_type). */
export type InitType = typeof INIT_TYPES[number];
/** An adversarial objective (--gan_mode). */
export type GanMode = typeof GAN_MODES[number];
/** 'cpu', 'cuda', 'cuda:N', or '' / 'auto' (CUDA when available). */
export type Device = 'cpu' | 'cuda' | `cuda:${number}` | 'auto' | '';
