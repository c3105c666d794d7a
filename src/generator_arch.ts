// The --netG grammar in one place: unet_256, unet_128, unet_<N>downs, resnet_9blocks, resnet_6blocks,
// resnet_<N>blocks. The size rule, the FLOP count, defineG and the ONNX exporter all read it from here.

export type ParsedGeneratorArch = { family: 'unet'; downs: number } | { family: 'resnet'; blocks: number };

/** Stride-2 convolutions of every ResNet generator (kResnetDownsamplings in cpp/network_layers.h). */
export const RESNET_DOWNSAMPLINGS = 2;

/** Parses a --netG value; null when it is not a generator architecture. */
export function parseGeneratorArch(arch: string): ParsedGeneratorArch | null {
  if (arch === 'unet_256') return { family: 'unet', downs: 8 };
  if (arch === 'unet_128') return { family: 'unet', downs: 7 };
  const unet = /^unet_(\d+)downs$/.exec(arch);
  if (unet) return { family: 'unet', downs: Number(unet[1]) };
  const resnet = /^resnet_(\d+)blocks$/.exec(arch);
  if (resnet) return { family: 'resnet', blocks: Number(resnet[1]) };
  return null;
}

/** The multiple a generator's input height and width must have: 2^downsamplings. */
export function archSizeMultiple(a: ParsedGeneratorArch): number {
  return 2 ** (a.family === 'unet' ? a.downs : RESNET_DOWNSAMPLINGS);
}
