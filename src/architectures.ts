// The one list of each architecture choice (networks, option parsing and typings all read these), and the
// string-literal types derived from them.
export const GENERATOR_ARCHS = ['unet_256', 'unet_128', 'resnet_9blocks', 'resnet_6blocks'] as const;
export const DISCRIMINATOR_ARCHS = ['basic', 'n_layers', 'pixel'] as const;
export const NORMS = ['instance', 'batch', 'none', 'syncbatch'] as const;
export const INIT_TYPES = ['normal', 'xavier', 'kaiming', 'orthogonal'] as const;
export const GAN_MODES = ['vanilla', 'lsgan', 'wgangp'] as const;

/** A --netG value: the listed names, or the grammar's unet_<N>downs and resnet_<N>blocks (src/generator_arch.ts). */
export type GeneratorArch = typeof GENERATOR_ARCHS[number] | `unet_${number}downs` | `resnet_${number}blocks`;
export type DiscriminatorArch = typeof DISCRIMINATOR_ARCHS[number];
export type Norm = typeof NORMS[number];
export type InitType = typeof INIT_TYPES[number];
export type GanMode = typeof GAN_MODES[number];
/** 'cpu', 'cuda', 'cuda:N', or '' / 'auto' (CUDA when available). */
export type Device = 'cpu' | 'cuda' | `cuda:${number}` | 'auto' | '';
