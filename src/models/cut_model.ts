// CUT and FastCUT (Park, Efros, Zhang, Zhu, "Contrastive Learning for Unpaired Image-to-Image Translation", ECCV
// 2020): one generator and one discriminator, no cycle. A patch of G(x) must be closer to the patch of x at the same
// place than to the other patches of x (PatchNCE on encoder features, through a small projection head F), which
// keeps content without an inverse mapping. CUT adds the same loss on G(y) vs y (identity NCE); FastCUT drops it
// for a 10x NCE weight and flip equivariance, trading some quality for speed.
import { BaseModel, ModelInput, ModelOptions, ModelPlugin } from './base_model';
import { loadCheckpoint } from '../checkpoint/network_checkpoint';
import { findNetworkCheckpoint } from '../checkpoint/run_checkpoints';
import { GANLoss, GanMode } from './gan_loss';
import { createScheduler } from './schedulers';
import { PATCH_SAMPLE_ARCHS } from '../architectures';
import type { DiscriminatorArch, GeneratorArch, InitType, Norm, PatchSampleArch } from '../architectures';
import type { Device } from '../device';
import { native } from '../native';
import { defineD, defineG, definePatchSampleF, Network } from '../networks';
import type { OptionParser } from '../options/option_parser';
import { isTrainOptions } from '../options/parse_options';
import { stepTogether } from '../optim';
import type { Adam } from '../optim';
import { cat, keep, Tensor, tidy } from '../tensor';
import type { PythonRandom } from '../util/python_random';

/** --CUT_mode values (cut_model.py accepts both spellings of each). */
export const CUT_MODES = ['CUT', 'cut', 'FastCUT', 'fastcut'] as const;

/** The flags CUT adds (train and test), named and defaulted as its options/ and cut_model.py. */
export interface CutOptionValues {
  CUT_mode: typeof CUT_MODES[number];
  /** Weights of GAN(G(X)) and NCE(G(X), X). */
  lambda_GAN: number;
  lambda_NCE: number;
  /** Identity NCE: NCE(G(Y), Y) (CUT yes, FastCUT no). */
  nce_idt: boolean;
  /** Comma-separated layer indices of G's `model` whose features PatchNCE compares. */
  nce_layers: string;
  nce_includes_all_negatives_from_minibatch: boolean;
  netF: PatchSampleArch;
  netF_nc: number;
  nce_T: number;
  num_patches: number;
  flip_equivariance: boolean;
  no_antialias: boolean;
  no_antialias_up: boolean;
  normG: Norm;
  normD: Norm;
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
  parser.addArgument('--netF', { type: 'str', default: 'mlp_sample', choices: PATCH_SAMPLE_ARCHS, group, help: 'how to downsample the feature map' });
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

/** The options CUT's define_G / define_D / define_F read (CUT's own flag names). */
export interface CutNetworkOptions {
  input_nc: number; output_nc: number; ngf: number; ndf: number; netG: GeneratorArch; netD: DiscriminatorArch; n_layers_D: number;
  normG: Norm; normD: Norm; no_dropout: boolean; init_type: InitType; init_gain: number;
  no_antialias?: boolean; no_antialias_up?: boolean; netF?: PatchSampleArch; netF_nc?: number;
  device?: Device; skipInit?: boolean;
}

/** CUT's define_G: the ResNet generator with blur-pool down- and blur upsampling unless no_antialias(_up). */
export function defineCutG(o: CutNetworkOptions): Network {
  return defineG({
    netG: o.netG, inputNc: o.input_nc, outputNc: o.output_nc, ngf: o.ngf, norm: o.normG, useDropout: !o.no_dropout,
    initType: o.init_type, initGain: o.init_gain, device: o.device, antialias: !o.no_antialias, antialiasUp: !o.no_antialias_up,
    skipInit: o.skipInit,
  });
}

/** CUT's define_D: the PatchGAN with blur-pool downsampling unless no_antialias. */
export function defineCutD(o: CutNetworkOptions): Network {
  return defineD({
    netD: o.netD, inputNc: o.output_nc, ndf: o.ndf, nLayersD: o.n_layers_D, norm: o.normD, initType: o.init_type,
    initGain: o.init_gain, device: o.device, antialias: !o.no_antialias, skipInit: o.skipInit,
  });
}

/**
 * CUT's define_F once it has seen features: PatchSampleF.create_mlp builds one MLP per feature map at its first
 * forward (so the channels come from data), then init_net initialises all of them.
 */
export function defineCutF(featureChannels: number[], o: Pick<CutNetworkOptions, 'netF' | 'netF_nc' | 'init_type' | 'init_gain' | 'device' | 'skipInit'>): Network {
  return definePatchSampleF({
    netF: o.netF, netFNc: o.netF_nc, featureChannels, initType: o.init_type, initGain: o.init_gain, device: o.device, skipInit: o.skipInit,
  });
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

/**
 * Where CUT's random choices come from. CUT draws them from numpy (np.random.permutation for the sampled patches,
 * np.random.random for FastCUT's flip); this interface lets a caller replay recorded draws (parity tests), while
 * training uses the model's own seeded generator (modelDraws).
 */
export interface CutDraws {
  /** A permutation of 0..n-1; CUT keeps its first num_patches entries as the patch ids of one feature map. */
  permutation(n: number): ArrayLike<number>;
  /** Whether this step flips its input for flip equivariance (CUT: np.random.random() < 0.5). */
  flip(): boolean;
}

/** Draws from the model's Python-compatible generator (seeded by --seed, saved with the training state). */
export function modelDraws(rng: PythonRandom): CutDraws {
  return {
    permutation(n) {
      const ids = Array.from({ length: n }, (_, i) => i);
      rng.shuffle(ids);
      return ids;
    },
    flip: () => rng.random() < 0.5,
  };
}

/** Replays recorded draws in call order (e.g. a reference run's numpy draws); throws when they run out. */
export function replayDraws(recorded: { permutations: ArrayLike<number>[]; flips: boolean[] }): CutDraws {
  let p = 0, f = 0;
  return {
    permutation(n) {
      const ids = recorded.permutations[p++];
      if (!ids || ids.length !== n) throw new Error(`replayed draw ${p - 1}: expected a permutation of ${n} but ${ids ? `the record has ${ids.length} entries` : 'the record ran out'}`);
      return ids;
    },
    flip() {
      if (f >= recorded.flips.length) throw new Error(`replayed flip ${f}: the record ran out`);
      return recorded.flips[f++];
    },
  };
}

export class CUTModel extends BaseModel<CutOptionValues> {
  /** The source of patch ids and flips; replace it before training to replay recorded draws. */
  draws: CutDraws;
  private readonly nceLayers: number[];
  private readonly criterionGAN: GANLoss | null = null;
  private optimizerF: Adam | null = null;
  private flipped = false;

  constructor(opt: ModelOptions<CutOptionValues>) {
    super(opt);
    this.draws = modelDraws(this.rng);
    this.nceLayers = parseNceLayers(opt.nce_layers ?? '0,4,8,12,16');
    this.lossNames = ['G_GAN', 'D_real', 'D_fake', 'G', 'NCE'];
    this.visualNames = ['real_A', 'fake_B', 'real_B'];
    if (opt.nce_idt && this.isTrain) { this.lossNames.push('NCE_Y'); this.visualNames.push('idt_B'); }
    // F joins modelNames (G, F, D as CUT saves them) once dataDependentInitialize has built it.
    this.modelNames = this.isTrain ? ['G', 'D'] : ['G'];
    // As CUT's __init__: define_G (built and initialised), then define_D; F waits for the first batch.
    const nets = this.networkOptions();
    this.networks.G = defineCutG(nets);
    this.networks.G.precision = this.precision;
    if (this.isTrain) {
      this.networks.D = defineCutD(nets);
      this.networks.D.precision = this.precision;
      this.criterionGAN = new GANLoss(opt.gan_mode as GanMode);
      this.optimizers = [this.adam(this.networks.G.parameters()), this.adam(this.networks.D.parameters())];
    }
  }

  private networkOptions(): CutNetworkOptions {
    const o = this.opt;
    return {
      input_nc: o.input_nc, output_nc: o.output_nc, ngf: o.ngf, ndf: o.ndf, netG: o.netG, netD: o.netD, n_layers_D: o.n_layers_D,
      normG: o.normG ?? 'instance', normD: o.normD ?? 'instance', no_dropout: o.no_dropout, init_type: o.init_type, init_gain: o.init_gain,
      no_antialias: o.no_antialias, no_antialias_up: o.no_antialias_up, netF: o.netF, netF_nc: o.netF_nc, device: this.device,
    };
  }

  /**
   * CUT's data_dependent_initialize, run on the first batch before training: F's MLPs are shaped by the encoder
   * features, so one forward, D's and G's losses with their backward passes (no optimizer step) build F, and F's
   * optimizer (and scheduler) follow.
   */
  dataDependentInitialize(input: ModelInput): void {
    // A resumed run rebuilt F from its checkpoint: nothing left to shape (and the resumed draws stay as saved).
    if (this.networks.F && this.optimizerF) return;
    this.setInput(input);
    // No optimizer steps here, so the gradients are thrown away: their loss scale does not matter.
    tidy(() => {
      this.forward();
      this.computeDLoss().backward();
      this.computeGLoss().backward();
    });
    this.detachVisuals();
    this.createOptimizerF();
  }

  /** True once F exists (after dataDependentInitialize, or after loading a checkpoint that has it). */
  get isInitialized(): boolean { return !!this.networks.F || !this.isTrain || (this.opt.lambda_NCE ?? 0) <= 0; }

  setInput(input: ModelInput): void {
    if (this.isTrain || input.B) this.setDirectedInput(input);
    else this.setDirectedInput({ ...input, B: input.A }); // test time needs only the input side
  }

  forward(): void {
    const realA = this.getTensor('real_A');
    let real = this.opt.nce_idt && this.isTrain ? cat([realA, this.getTensor('real_B')], 0) : realA;
    if (this.opt.flip_equivariance) {
      this.flipped = this.isTrain && this.draws.flip();
      if (this.flipped) real = real.flipW();
    }
    const fake = this.networks.G.forward(real);
    const n = realA.shape[0];
    this.setTensor('fake_B', fake.slice(0, 0, n));
    if (this.opt.nce_idt && this.isTrain) this.setTensor('idt_B', fake.slice(0, n, fake.shape[0]));
  }

  /** D's least-squares (or --gan_mode) loss on the detached fake and on the real image, averaged. */
  private computeDLoss(): Tensor {
    const gan = this.criterionGAN!, D = this.networks.D;
    const lossFake = gan.compute(D.forward(this.getTensor('fake_B').detach()), false).mean();
    const lossReal = gan.compute(D.forward(this.getTensor('real_B')), true).mean();
    this.setLoss('D_fake', lossFake);
    this.setLoss('D_real', lossReal);
    return lossFake.add(lossReal).mul(0.5);
  }

  /** G's adversarial loss plus PatchNCE (averaged with the identity NCE on real_B in CUT mode). */
  private computeGLoss(): Tensor {
    const o = this.opt, lambdaGAN = o.lambda_GAN ?? 1, lambdaNCE = o.lambda_NCE ?? 1;
    const fakeB = this.getTensor('fake_B');
    const lossGGAN: Tensor | number = lambdaGAN > 0 ? this.criterionGAN!.compute(this.networks.D.forward(fakeB), true).mean().mul(lambdaGAN) : 0;
    const lossNCE: Tensor | number = lambdaNCE > 0 ? this.nceLoss(this.getTensor('real_A'), fakeB) : 0;
    let nceBoth: Tensor | number = lossNCE;
    if (o.nce_idt && lambdaNCE > 0) {
      const lossNCEY = this.nceLoss(this.getTensor('real_B'), this.getTensor('idt_B'));
      this.setLoss('NCE_Y', lossNCEY);
      nceBoth = lossNCEY.add(lossNCE).mul(0.5);
    }
    this.setLoss('G_GAN', lossGGAN);
    this.setLoss('NCE', lossNCE);
    if (typeof lossGGAN === 'number' && typeof nceBoth === 'number') {
      throw new Error('cut: --lambda_GAN and --lambda_NCE are both 0, so G has nothing to learn; set one of them above 0');
    }
    const lossG = typeof lossGGAN === 'number' ? (nceBoth as Tensor).add(lossGGAN) : lossGGAN.add(nceBoth);
    this.setLoss('G', lossG);
    return lossG;
  }

  /** calculate_NCE_loss: PatchNCE between the encoder features of tgt (queries) and src (keys) at nce_layers. */
  private nceLoss(src: Tensor, tgt: Tensor): Tensor {
    const o = this.opt, G = this.networks.G;
    let featQ = G.encode(tgt, this.nceLayers);
    if (o.flip_equivariance && this.flipped) featQ = featQ.map((f) => f.flipW());
    const featK = G.encode(src, this.nceLayers);
    if (!this.networks.F) this.buildF(featK.map((f) => f.shape[1]));
    const ids = featK.map((f) => this.patchIds(f.shape[2] * f.shape[3]));
    const poolK = this.networks.F.samplePatches(featK, ids);
    const poolQ = this.networks.F.samplePatches(featQ, ids);
    let total: Tensor | null = null;
    for (let i = 0; i < poolQ.length; i++) {
      const loss = patchNceLoss(poolQ[i], poolK[i], {
        batchSize: o.batch_size, nceT: o.nce_T ?? 0.07, allNegativesFromMinibatch: !!o.nce_includes_all_negatives_from_minibatch,
      }).mul(o.lambda_NCE ?? 1).mean();
      total = total ? total.add(loss) : loss;
    }
    return total!.div(this.nceLayers.length);
  }

  /** The first num_patches entries of one drawn permutation of a feature map's H*W positions, as int64 ids. */
  private patchIds(positions: number): Tensor {
    const perm = this.draws.permutation(positions);
    const count = Math.min(this.opt.num_patches ?? 256, positions);
    const ids = new BigInt64Array(count);
    for (let i = 0; i < count; i++) ids[i] = BigInt(perm[i]);
    return Tensor.fromBytes(new Uint8Array(ids.buffer), 'int64', [count]);
  }

  /** PatchSampleF.create_mlp: one MLP per sampled feature map, initialised by init_net (xavier by default). */
  private buildF(channels: number[]): void {
    this.networks.F = defineCutF(channels, this.networkOptions());
    this.networks.F.precision = this.precision;
    this.modelNames = ['G', 'F', 'D'];
  }

  /** F's optimizer (CUT creates it right after data_dependent_initialize), with a scheduler once setup made theirs. */
  private createOptimizerF(): void {
    if (this.optimizerF || !this.networks.F || (this.opt.lambda_NCE ?? 0) <= 0) return;
    this.optimizerF = this.adam(this.networks.F.parameters());
    this.optimizerF.lossScaler = this.optimizers[0].lossScaler;  // fp16: F's gradients come from G's scaled backward
    this.optimizers.push(this.optimizerF);
    const opt = this.opt;
    if (this.schedulers.length && isTrainOptions(opt)) this.schedulers.push(createScheduler(opt, this.optimizerF.lr));
  }

  /** Builds F as a saved one is shaped (`<prefix>mlp_<i>.0.weight` is [nc, C_i]), so a resumed run needs no first batch. */
  private buildFFromShapes(shapes: Map<string, { shape: number[] }>, prefix: string): void {
    if (this.networks.F || !this.isTrain) return;
    const channels: number[] = [];
    for (let i = 0; shapes.has(`${prefix}mlp_${i}.0.weight`); i++) channels.push(shapes.get(`${prefix}mlp_${i}.0.weight`)!.shape[1]);
    if (channels.length) this.buildF(channels);
    this.createOptimizerF();
  }

  /** --continue_train: G and D as every model; F too when the run saved one (it is then built from its shapes). */
  loadNetworks(epoch: string | number): void {
    super.loadNetworks(epoch);
    if (!this.isTrain || this.networks.F) return;
    const file = findNetworkCheckpoint(this.saveDir, epoch, 'F');
    if (!file) return;
    const ck = loadCheckpoint(file);
    this.buildFFromShapes(ck.tensors, '');
    const F = this.networks.F as Network | undefined;
    F?.loadStateDict(ck.tensors, { what: `checkpoint ${file}` });
  }

  prepareForTrainingState(shapes: Map<string, { shape: number[] }>): void {
    this.buildFFromShapes(shapes, 'net.F.');
  }

  optimizeParameters(): void {
    if (!this.isInitialized) throw new Error('cut: call dataDependentInitialize(firstBatch) before optimizeParameters (the trainer does this on the first batch)');
    const { D } = this.networks;
    const [optG, optD] = this.optimizers;
    tidy(() => {
      this.forward();
      D.setRequiresGrad(true);
      optD.zeroGrad(false);
      this.backward(this.computeDLoss(), optD);
      optD.step();
      D.setRequiresGrad(false);
      optG.zeroGrad(false);
      this.optimizerF?.zeroGrad(false);
      this.backward(this.computeGLoss(), optG);
      // One backward of G's loss feeds G's and F's gradients: under fp16 they share G's scaler, which checks both
      // and takes or skips both steps.
      if (this.optimizerF && optG.lossScaler) {
        stepTogether([optG, this.optimizerF], optG.lossScaler);
      } else {
        optG.step();
        this.optimizerF?.step();
      }
    });
    this.detachVisuals();
  }

  private detachVisuals(): void {
    for (const name of ['fake_B', 'idt_B']) {
      const t = this.tensors.get(name);
      if (t) this.setTensor(name, keep(t.detach()));
    }
  }
}

export const CUT: ModelPlugin = {
  options: { modifyCommandlineOptions: modifyCutOptions },
  model: CUTModel,
  describingNetworks: (opt) => (opt.isTrain ? ['G', 'D'] : ['G']),
};
