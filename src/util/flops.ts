// Floating-point operations of one training step, for the benchmark's GFLOP/s. The forward counts of each network
// come from the architecture table (src/architectures.ts); norms and activations are left out (a few percent at most).
import { forwardFlops } from '../architectures';
import type { NetworkDescription } from '../architectures';

/**
 * Approximate FLOPs of one optimize_parameters (backward ~ 2x forward). `identity`: CycleGAN's identity loss, or
 * CUT's identity NCE (CUT mode; FastCUT has none).
 */
export function trainStepFlops(model: 'pix2pix' | 'cycle_gan' | 'cut', g: NetworkDescription, d: NetworkDescription, h: number, w: number, identity = true): number {
  const G = forwardFlops(g, h, w), D = forwardFlops(d, h, w);
  if (model === 'pix2pix') return 3 * G + 3 * D + 2 * 2 * D + 2 * D; // G fwd+bwd; 3 D forwards, D and G backward through D
  if (model === 'cut') {
    // G on 1 (FastCUT) or 2 images (CUT: + identity), plus two encoder passes per NCE term (~half of G each), all
    // with backward; D as pix2pix's. F's MLPs on a few hundred patches are negligible.
    const images = identity ? 2 : 1;
    return 3 * (images * G + 2 * images * 0.5 * G) + 3 * D + 2 * 2 * D + 2 * D;
  }
  const gForwards = 4 + (identity ? 2 : 0);
  return 3 * gForwards * G + 6 * D + 2 * 6 * D;
}
