// CUT's networks in one place (Park, Efros, Zhang, Zhu, "Contrastive Learning for Unpaired Image-to-Image
// Translation", ECCV 2020; taesungp/contrastive-unpaired-translation models/networks.py and patchnce.py).
// The modules are native (cpp/cut_networks.cc); this file maps CUT's options onto them and holds PatchNCE.
import { defineD, defineG, Network, NetworkDescription } from './networks';
import type { GeneratorArch, DiscriminatorArch, Norm, InitType } from './architectures';
import { native } from './native';
import { Tensor } from './tensor';

/** --CUT_mode values (cut_model.py accepts both spellings of each). */
export const CUT_MODES = ['CUT', 'cut', 'FastCUT', 'fastcut'] as const;
/** --netF values: PatchSampleF with (mlp_sample) or without (sample) its projection MLPs. */
export const CUT_NETF_CHOICES = ['mlp_sample', 'sample'] as const;

/** The options CUT's define_G / define_D / define_F read (CUT's own flag names). */
export interface CutNetworkOptions {
  input_nc: number; output_nc: number; ngf: number; ndf: number; netG: string; netD: string; n_layers_D: number;
  normG: string; normD: string; no_dropout: boolean; init_type: string; init_gain: number;
  no_antialias?: boolean; no_antialias_up?: boolean; netF?: string; netF_nc?: number;
  device?: string; skipInit?: boolean;
}

/** CUT's define_G: the ResNet generator with blur-pool down- and blur upsampling unless no_antialias(_up). */
export function defineCutG(o: CutNetworkOptions): Network {
  return defineG({
    netG: o.netG as GeneratorArch, inputNc: o.input_nc, outputNc: o.output_nc, ngf: o.ngf, norm: o.normG as Norm,
    useDropout: !o.no_dropout, initType: o.init_type as InitType, initGain: o.init_gain, device: o.device as never,
    antialias: !o.no_antialias, antialiasUp: !o.no_antialias_up, skipInit: o.skipInit,
  });
}

/** CUT's define_D: the PatchGAN with blur-pool downsampling unless no_antialias. */
export function defineCutD(o: CutNetworkOptions): Network {
  return defineD({
    netD: o.netD as DiscriminatorArch, inputNc: o.output_nc, ndf: o.ndf, nLayersD: o.n_layers_D, norm: o.normD as Norm,
    initType: o.init_type as InitType, initGain: o.init_gain, device: o.device as never, antialias: !o.no_antialias,
    skipInit: o.skipInit,
  });
}

/**
 * CUT's PatchSampleF once it has seen features: one Linear(C_i, nc)-ReLU-Linear(nc, nc) per feature map (built at
 * its first forward in CUT, so the channels come from data), then init_net over all of them.
 */
export function definePatchSampleF(featureChannels: number[], o: Pick<CutNetworkOptions, 'netF' | 'netF_nc' | 'init_type' | 'init_gain' | 'device' | 'skipInit'>): Network {
  const description: NetworkDescription = {
    kind: 'F', arch: o.netF ?? 'mlp_sample', inputNc: featureChannels[0] ?? 1, width: o.netF_nc ?? 256, norm: 'none',
    featureChannels: [...featureChannels],
  };
  const net = new Network(description);
  try {
    if (o.device && o.device !== 'cpu') net.to(o.device);
    if (!o.skipInit) net.initWeights(o.init_type ?? 'xavier', o.init_gain ?? 0.02);
  } catch (e) {
    net.dispose();
    throw e;
  }
  return net;
}

/** Parses --nce_layers ("0,4,8,12,16") into layer indices of the generator's `model`. */
export function parseNceLayers(s: string): number[] {
  return s.split(',').map((v) => Number(v.trim()));
}

/**
 * PatchNCELoss (patchnce.py): for each query patch, cross-entropy of its positive (the same location of the
 * source) against the other patches of the same image as negatives (or of the whole minibatch when
 * allNegativesFromMinibatch), at temperature nceT. Returns the per-patch loss; k is detached.
 */
export function patchNceLoss(q: Tensor, k: Tensor, opts: { batchSize: number; nceT: number; allNegativesFromMinibatch: boolean }): Tensor {
  const batchDim = opts.allNegativesFromMinibatch ? 1 : opts.batchSize;
  return new Tensor(native().patchNceLoss(q.native, k.native, batchDim, opts.nceT));
}
