// Guesses what network a state dict belongs to from its keys and shapes, so a mismatch can say
// "looks like resnet_9blocks, instance norm, ngf 64; you asked for unet_256, batch".
import type { NetworkDescription } from '../networks';

export type ArchitectureGuess = Partial<NetworkDescription> & { known: boolean; dropoutUnknown?: boolean };

function normFrom(keys: string[], biasKey: string): string {
  if (keys.some((k) => k.endsWith('.running_mean'))) return 'batch';
  if (keys.includes(biasKey)) return 'instance';
  return 'none';
}

/** keys -> shapes of a state dict, in any order. */
export function guessArchitecture(shapes: Map<string, number[]>): ArchitectureGuess {
  const keys = [...shapes.keys()];
  const s = (k: string) => shapes.get(k);
  if (keys.some((k) => k.includes('.conv_block.'))) {
    const blocks = new Set(keys.filter((k) => k.includes('.conv_block.')).map((k) => k.split('.')[1]));
    const first = s('model.1.weight');
    const convs = keys.filter((k) => /^model\.\d+\.weight$/.test(k) && (s(k)?.length ?? 0) === 4)
      .sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]));
    const last = convs.length ? s(convs[convs.length - 1]) : undefined;
    // CUT's antialiased generator: blur filters (`model.<i>.filt`) before the blocks (down) and after them (up).
    const firstBlock = Math.min(...[...blocks].map(Number));
    const blurs = keys.filter((k) => /^model\.\d+\.filt$/.test(k)).map((k) => Number(k.split('.')[1]));
    const cut = blurs.length ? { antialias: blurs.some((i) => i < firstBlock), antialiasUp: blurs.some((i) => i > firstBlock) } : {};
    return {
      known: true, kind: 'G', arch: `resnet_${blocks.size}blocks`, width: first?.[0], inputNc: first?.[1],
      outputNc: last?.[0], norm: normFrom(keys, 'model.1.bias'), dropoutUnknown: true, ...cut,
    };
  }
  if (keys.some((k) => k.startsWith('model.model.'))) {
    let maxTokens = 0;
    for (const k of keys) maxTokens = Math.max(maxTokens, k.split('.').filter((p) => p === 'model').length);
    const numDowns = maxTokens - 1;
    const first = s('model.model.0.weight');
    const up = s('model.model.3.weight');
    const arch = numDowns === 8 ? 'unet_256' : numDowns === 7 ? 'unet_128' : `unet_${numDowns}downs`;
    return {
      known: true, kind: 'G', arch, width: first?.[0], inputNc: first?.[1], outputNc: up?.[1],
      norm: normFrom(keys, 'model.model.1.model.1.bias'), dropoutUnknown: true,
    };
  }
  if (keys.some((k) => k.startsWith('net.'))) {
    const first = s('net.0.weight');
    return { known: true, kind: 'D', arch: 'pixel', width: first?.[0], inputNc: first?.[1], norm: normFrom(keys, 'net.2.bias') };
  }
  const first = s('model.0.weight');
  if (first && first.length === 4 && first[2] === 4) {
    const convs = keys.filter((k) => /^model\.\d+\.weight$/.test(k) && (s(k)?.length ?? 0) === 4);
    const nLayers = convs.length - 2;
    const antialias = keys.includes('model.2.filt');  // CUT's PatchGAN: a blur pool after the first conv
    return {
      known: true, kind: 'D', arch: nLayers === 3 ? 'basic' : 'n_layers', nLayersD: nLayers, width: first[0],
      inputNc: first[1], norm: normFrom(keys, antialias ? 'model.3.bias' : 'model.2.bias'), ...(antialias ? { antialias } : {}),
    };
  }
  return { known: false };
}

export function describeStateDictGuess(g: ArchitectureGuess): string {
  if (!g.known) return 'the checkpoint does not look like any network of this project';
  if (g.kind === 'G') {
    return `the checkpoint looks like ${g.arch}${g.antialias || g.antialiasUp ? ' (CUT antialiased)' : ''}, ${g.norm} norm, ngf ${g.width}, ${g.inputNc}->${g.outputNc} channels`;
  }
  return `the checkpoint looks like a ${g.arch} discriminator${g.arch === 'n_layers' ? ` (n_layers_D ${g.nLayersD})` : ''}, ${g.norm} norm, ndf ${g.width}, ${g.inputNc} input channels`;
}
