// Floating-point operations of the networks' convolutions (2 * multiply-adds), for the benchmark's GFLOP/s.
// Norms and activations are left out (a few percent at most).
import type { NetworkDescription } from '../networks';
import { parseGeneratorArch } from '../generator_arch';

function conv(cin: number, cout: number, k: number, hOut: number, wOut: number): number {
  return 2 * cin * cout * k * k * hOut * wOut;
}
function deconv(cin: number, cout: number, k: number, hIn: number, wIn: number): number {
  return 2 * cin * cout * k * k * hIn * wIn;
}

/** Forward FLOPs of a network on an H x W input (batch 1). */
export function forwardFlops(d: NetworkDescription, h: number, w: number): number {
  const ngf = d.width;
  const arch = d.kind === 'G' ? parseGeneratorArch(d.arch) : null;
  if (arch?.family === 'unet') {
    const n = arch.downs;
    const c = Array.from({ length: n }, (_, l) => ngf * Math.min(2 ** l, 8));
    let f = 0;
    for (let l = 0; l < n; l++) {
      const s = 2 ** (l + 1);
      f += conv(l === 0 ? d.inputNc : c[l - 1], c[l], 4, h / s, w / s);
      const inUp = l === n - 1 ? c[l] : 2 * c[l];
      const outUp = l === 0 ? (d.outputNc ?? 3) : c[l - 1];
      f += deconv(inUp, outUp, 4, h / s, w / s);
    }
    return f;
  }
  if (arch?.family === 'resnet') {
    const blocks = arch.blocks;
    let f = conv(d.inputNc, ngf, 7, h, w);
    // CUT's antialiased convs run at stride 1 before their blur pool (the blur itself is depthwise: left out).
    const down = d.antialias ? 1 : 2;
    f += conv(ngf, 2 * ngf, 3, h / down, w / down) + conv(2 * ngf, 4 * ngf, 3, h / 2 / down, w / 2 / down);
    f += 2 * blocks * conv(4 * ngf, 4 * ngf, 3, h / 4, w / 4);
    // A stride-2 ConvTranspose2d on H x W costs what CUT's blur-upsample + 3x3 conv on 2H x 2W costs, over 4.
    const up = d.antialiasUp ? 4 : 1;
    f += up * (deconv(4 * ngf, 2 * ngf, 3, h / 4, w / 4) + deconv(2 * ngf, ngf, 3, h / 2, w / 2));
    f += conv(ngf, d.outputNc ?? 3, 7, h, w);
    return f;
  }
  if (d.arch === 'pixel') return conv(d.inputNc, ngf, 1, h, w) + conv(ngf, 2 * ngf, 1, h, w) + conv(2 * ngf, 1, 1, h, w);
  const layers = d.nLayersD ?? 3;
  let f = 0, hh = h, ww = w, cin = d.inputNc, mult = 1;
  // Each downsampling layer: a stride-2 4x4 conv, or (CUT antialias) a stride-1 one followed by a blur pool.
  const downLayer = (cout: number) => {
    if (d.antialias) { f += conv(cin, cout, 4, hh - 1, ww - 1); hh = Math.floor((hh - 2) / 2) + 1; ww = Math.floor((ww - 2) / 2) + 1; return; }
    hh = Math.floor((hh - 2) / 2) + 1; ww = Math.floor((ww - 2) / 2) + 1;
    f += conv(cin, cout, 4, hh, ww);
  };
  downLayer(ngf); cin = ngf;
  for (let n = 1; n < layers; n++) {
    mult = Math.min(2 ** n, 8);
    downLayer(ngf * mult); cin = ngf * mult;
  }
  mult = Math.min(2 ** layers, 8);
  hh -= 1; ww -= 1;
  f += conv(cin, ngf * mult, 4, hh, ww); cin = ngf * mult;
  hh -= 1; ww -= 1;
  f += conv(cin, 1, 4, hh, ww);
  return f;
}

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
