// CycleGAN (Zhu et al. 2017): two generators (A->B, B->A) and two discriminators learn from unpaired images.
// Cycle consistency (A -> B -> A ≈ A) stands in for the missing pairs; the identity term keeps colours.
import { BaseModel, ModelInput, ModelOptions, ModelPlugin } from './base_model';
import { GANLoss, GanMode } from './gan_loss';
import { ImagePool } from './image_pool';
import type { OptionParser } from '../options/option_parser';
import { l1Loss, Tensor, tidy } from '../tensor';
import type { Network } from '../networks';

/** The flags cycle_gan adds (train only). */
export interface CycleGanOptionValues {
  /** Weights of the cycle losses A -> B -> A and B -> A -> B. */
  lambda_A: number;
  lambda_B: number;
  /** Weight of the identity loss, relative to lambda_A / lambda_B. */
  lambda_identity: number;
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

/** CycleGAN: two generators and two discriminators for unpaired A and B, tied by cycle-consistency. */
export class CycleGANModel extends BaseModel<CycleGanOptionValues> {
  private criterionGAN: GANLoss | null = null;
  private fakeAPool: ImagePool | null = null;
  private fakeBPool: ImagePool | null = null;

  constructor(opt: ModelOptions<CycleGanOptionValues>) {
    super(opt);
    const lambdaIdt = opt.lambda_identity ?? 0;
    this.lossNames = ['D_A', 'G_A', 'cycle_A', 'idt_A', 'D_B', 'G_B', 'cycle_B', 'idt_B'];
    const visualA = ['real_A', 'fake_B', 'rec_A'];
    const visualB = ['real_B', 'fake_A', 'rec_B'];
    if (this.isTrain && lambdaIdt > 0) { visualA.push('idt_B'); visualB.push('idt_A'); }
    this.visualNames = [...visualA, ...visualB];
    this.modelNames = this.isTrain ? ['G_A', 'G_B', 'D_A', 'D_B'] : ['G_A', 'G_B'];
    this.networks.G_A = this.defineG(opt.input_nc, opt.output_nc);
    this.networks.G_B = this.defineG(opt.output_nc, opt.input_nc);
    if (this.isTrain) {
      this.networks.D_A = this.defineD(opt.output_nc); // judges domain B
      this.networks.D_B = this.defineD(opt.input_nc);  // judges domain A
    }
    this.initNetworks();
    if (this.isTrain) {
      if (lambdaIdt > 0 && opt.input_nc !== opt.output_nc) {
        throw new Error(`cycle_gan with --lambda_identity ${lambdaIdt} needs input_nc == output_nc (got ${opt.input_nc} and ${opt.output_nc}); use --lambda_identity 0`);
      }
      this.fakeAPool = new ImagePool(opt.pool_size ?? 50, this.rng);
      this.fakeBPool = new ImagePool(opt.pool_size ?? 50, this.rng);
      this.criterionGAN = new GANLoss(opt.gan_mode as GanMode);
      this.optimizers = [
        this.adam([...this.networks.G_A.parameters(), ...this.networks.G_B.parameters()]),
        this.adam([...this.networks.D_A.parameters(), ...this.networks.D_B.parameters()]),
      ];
    }
  }

  setInput(input: ModelInput): void {
    this.setDirectedInput(input);
  }

  forward(): void {
    const { G_A, G_B } = this.networks;
    this.setTensor('fake_B', G_A.forward(this.getTensor('real_A')));
    this.setTensor('rec_A', G_B.forward(this.getTensor('fake_B')));
    this.setTensor('fake_A', G_B.forward(this.getTensor('real_B')));
    this.setTensor('rec_B', G_A.forward(this.getTensor('fake_A')));
  }

  /** D's loss on a real and a (pooled, detached) fake batch, averaged, with its backward. */
  private backwardDBasic(netD: Network, real: Tensor, fake: Tensor): Tensor {
    const gan = this.criterionGAN!;
    const lossReal = gan.compute(netD.forward(real), true);
    const lossFake = gan.compute(netD.forward(fake.detach()), false);
    const loss = lossReal.add(lossFake).mul(0.5);
    this.backward(loss, this.optimizers[1]);
    return loss;
  }

  optimizeParameters(): void {
    const { G_A, G_B, D_A, D_B } = this.networks;
    const [optG, optD] = this.optimizers;
    const gan = this.criterionGAN!;
    const lambdaIdt = this.opt.lambda_identity ?? 0;
    const lambdaA = this.opt.lambda_A ?? 10, lambdaB = this.opt.lambda_B ?? 10;
    tidy(() => {
      this.forward();
      const realA = this.getTensor('real_A'), realB = this.getTensor('real_B');
      const fakeA = this.getTensor('fake_A'), fakeB = this.getTensor('fake_B');
      // Generators first, with the discriminators frozen.
      this.setRequiresGrad([D_A, D_B], false);
      optG.zeroGrad();
      let lossIdtA: Tensor | number = 0, lossIdtB: Tensor | number = 0;
      if (lambdaIdt > 0) {
        this.setTensor('idt_A', G_A.forward(realB));
        lossIdtA = l1Loss(this.getTensor('idt_A'), realB).mul(lambdaB).mul(lambdaIdt);
        this.setTensor('idt_B', G_B.forward(realA));
        lossIdtB = l1Loss(this.getTensor('idt_B'), realA).mul(lambdaA).mul(lambdaIdt);
      }
      const lossGA = gan.compute(D_A.forward(fakeB), true);
      const lossGB = gan.compute(D_B.forward(fakeA), true);
      const lossCycleA = l1Loss(this.getTensor('rec_A'), realA).mul(lambdaA);
      const lossCycleB = l1Loss(this.getTensor('rec_B'), realB).mul(lambdaB);
      let lossG = lossGA.add(lossGB).add(lossCycleA).add(lossCycleB);
      lossG = lossG.add(lossIdtA).add(lossIdtB);
      this.backward(lossG, optG);
      optG.step();
      // Then the discriminators, on pooled fakes from the pre-update forward.
      this.setRequiresGrad([D_A, D_B], true);
      optD.zeroGrad();
      const pooledB = this.fakeBPool!.query(fakeB);
      const lossDA = this.backwardDBasic(D_A, realB, pooledB);
      const pooledA = this.fakeAPool!.query(fakeA);
      const lossDB = this.backwardDBasic(D_B, realA, pooledA);
      optD.step();
      this.setLoss('G_A', lossGA); this.setLoss('G_B', lossGB);
      this.setLoss('cycle_A', lossCycleA); this.setLoss('cycle_B', lossCycleB);
      this.setLoss('idt_A', lossIdtA); this.setLoss('idt_B', lossIdtB);
      this.setLoss('D_A', lossDA); this.setLoss('D_B', lossDB);
    });
    for (const name of ['fake_B', 'rec_A', 'fake_A', 'rec_B', 'idt_A', 'idt_B']) {
      const t = this.tensors.get(name);
      if (t) this.setTensor(name, t.detach());
    }
  }

  extraState(): Record<string, Tensor[]> {
    return { fake_A_pool: this.fakeAPool?.contents() ?? [], fake_B_pool: this.fakeBPool?.contents() ?? [] };
  }
  restoreExtraState(state: Record<string, Tensor[]>): void {
    if (state.fake_A_pool) this.fakeAPool?.restore(state.fake_A_pool);
    if (state.fake_B_pool) this.fakeBPool?.restore(state.fake_B_pool);
  }
  dispose(): void {
    this.fakeAPool?.clear();
    this.fakeBPool?.clear();
    super.dispose();
  }
}

export const CYCLE_GAN: ModelPlugin = {
  options: { modifyCommandlineOptions: modifyCycleGanOptions },
  model: CycleGANModel,
  // G_B and D_B share G_A's and D_A's architecture flags.
  describingNetworks: (opt) => (opt.isTrain ? ['G_A', 'D_A'] : ['G_A']),
};
