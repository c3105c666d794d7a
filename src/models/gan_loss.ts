// GANLoss of the reference: the adversarial objective against a constant real/fake label, and the WGAN-GP
// gradient penalty (usable by custom models; no shipped model adds it).
import { autogradGrad, bceWithLogitsLoss, mseLoss, Tensor, tidy } from '../tensor';
import type { Network } from '../networks';

import { GAN_MODES } from '../architectures';
import type { GanMode } from '../architectures';
export type { GanMode };

/** The adversarial objective of --gan_mode against a constant real or fake label. */
export class GANLoss {
  constructor(readonly mode: GanMode, readonly realLabel = 1.0, readonly fakeLabel = 0.0) {
    if (!(GAN_MODES as readonly string[]).includes(mode)) {
      throw new Error(`Expected one of ${GAN_MODES.join(', ')} for gan_mode but received '${mode}'`);
    }
  }

  /** Loss of D's prediction map against "real" (true) or "fake" (false). */
  compute(prediction: Tensor, targetIsReal: boolean): Tensor {
    const label = targetIsReal ? this.realLabel : this.fakeLabel;
    switch (this.mode) {
      case 'lsgan': return mseLoss(prediction, label);            // least squares: mean (D(x) - label)^2
      case 'vanilla': return bceWithLogitsLoss(prediction, label); // the original GAN's log loss (D has no sigmoid)
      default: return tidy(() => (targetIsReal ? prediction.mean().neg() : prediction.mean()));
    }
  }
}

/**
 * cal_gradient_penalty of the reference (WGAN-GP): penalises ||∇D(x)|| away from `constant` on points between real
 * and fake samples. Returns [penalty, gradients] or [null, null] when lambdaGp is 0.
 */
export function calGradientPenalty(netD: Network, real: Tensor, fake: Tensor,
  opts: { type?: 'mixed' | 'real' | 'fake'; constant?: number; lambdaGp?: number } = {}): [Tensor | null, Tensor | null] {
  const type = opts.type ?? 'mixed';
  const constant = opts.constant ?? 1.0;
  const lambdaGp = opts.lambdaGp ?? 10.0;
  if (lambdaGp <= 0) return [null, null];
  return tidy(() => {
    let x: Tensor;
    if (type === 'real') x = real.detach();
    else if (type === 'fake') x = fake.detach();
    else {
      const n = real.shape[0];
      const per = real.numel / n;
      const alpha = Tensor.rand([n, 1], real.device).expand([n, per]).reshape(real.shape);
      x = alpha.mul(real).add(alpha.neg().add(1).mul(fake)).detach();
    }
    x.setRequiresGrad(true);
    const d = netD.forward(x);
    const [g] = autogradGrad([d], [x], [d.onesLike()], { createGraph: true, retainGraph: true });
    const flat = g.reshape([real.shape[0], -1]);
    const gp = flat.add(1e-16).norm(2, 1).sub(constant).pow(2).mean().mul(lambdaGp);
    return [gp, flat] as [Tensor, Tensor];
  });
}
