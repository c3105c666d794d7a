// pix2pix (Isola et al. 2017): a conditional GAN. G maps A to B; D judges (A, B) pairs patch by patch. The L1
// term keeps outputs close to the target, the GAN term makes them sharp.
import { BaseModel, ModelInput, ModelOptions, ModelPlugin } from './base_model';
import { GANLoss, GanMode } from './gan_loss';
import type { OptionParser } from '../options/option_parser';
import { cat, l1Loss, Tensor, tidy } from '../tensor';

/** The flags pix2pix adds (train only). */
export interface Pix2PixOptionValues {
  /** Weight of the L1 loss. */
  lambda_L1: number;
}

export function modifyPix2pixOptions(parser: OptionParser, isTrain: boolean): void {
  // pix2pix paper: U-Net generator with batch norm on paired (aligned) images.
  parser.setDefaults({ norm: 'batch', netG: 'unet_256', dataset_mode: 'aligned' });
  if (isTrain) {
    // No image pool and the cross-entropy GAN loss; L1 keeps the output close to the target.
    parser.setDefaults({ pool_size: 0, gan_mode: 'vanilla' });
    parser.addArgument('--lambda_L1', { type: 'float', default: 100.0, group: 'pix2pix', help: 'weight for L1 loss' });
  }
}

/** pix2pix: G maps A to B, D judges (A, B) pairs; trained with GAN + λ·L1. */
export class Pix2PixModel<O extends Pix2PixOptionValues = Pix2PixOptionValues> extends BaseModel<O> {
  protected criterionGAN: GANLoss | null = null;

  constructor(opt: ModelOptions<O>) {
    super(opt);
    this.lossNames = ['G_GAN', 'G_L1', 'D_real', 'D_fake'];
    this.visualNames = ['real_A', 'fake_B', 'real_B'];
    this.modelNames = this.isTrain ? ['G', 'D'] : ['G'];
    this.networks.G = this.defineG(opt.input_nc, opt.output_nc);
    if (this.isTrain) {
      // D sees the input and the output side by side (conditional GAN).
      this.networks.D = this.defineD(opt.input_nc + opt.output_nc);
    }
    this.initNetworks();
    if (this.isTrain) {
      this.criterionGAN = new GANLoss(opt.gan_mode as GanMode);
      this.optimizers = [this.adam(this.networks.G.parameters()), this.adam(this.networks.D.parameters())];
    }
  }

  setInput(input: ModelInput): void {
    this.setDirectedInput(input);
  }

  forward(): void {
    this.setTensor('fake_B', this.networks.G.forward(this.getTensor('real_A')));
  }

  optimizeParameters(): void {
    const G = this.networks.G, D = this.networks.D;
    const [optG, optD] = this.optimizers;
    const gan = this.criterionGAN!;
    const lambdaL1 = this.opt.lambda_L1 ?? 100;
    tidy(() => {
      this.forward();
      const realA = this.getTensor('real_A'), realB = this.getTensor('real_B'), fakeB = this.getTensor('fake_B');
      // D step first: fake pairs (detached, so G gets no gradient) should score fake, real pairs real.
      this.setRequiresGrad([D], true);
      optD.zeroGrad();
      const lossDFake = gan.compute(D.forward(cat([realA, fakeB], 1).detach()), false);
      const lossDReal = gan.compute(D.forward(cat([realA, realB], 1)), true);
      const lossD = lossDFake.add(lossDReal).mul(0.5);
      this.backward(lossD, optD);
      optD.step();
      // G step: fool the updated D and stay close to the target in L1.
      this.setRequiresGrad([D], false);
      optG.zeroGrad();
      const lossGGAN = gan.compute(D.forward(cat([realA, fakeB], 1)), true);
      const lossGL1 = l1Loss(fakeB, realB).mul(lambdaL1);
      const lossG = lossGGAN.add(lossGL1);
      this.backward(lossG, optG);
      optG.step();
      this.setLoss('D_fake', lossDFake); this.setLoss('D_real', lossDReal);
      this.setLoss('G_GAN', lossGGAN); this.setLoss('G_L1', lossGL1);
    });
    // Keep the visual without its graph.
    this.setTensor('fake_B', this.getTensor('fake_B').detach());
  }
}

export const PIX2PIX: ModelPlugin = {
  options: { modifyCommandlineOptions: modifyPix2pixOptions },
  model: Pix2PixModel,
  describingNetworks: (opt) => (opt.isTrain ? ['G', 'D'] : ['G']),
};

export type { Tensor };
