// Colorization: pix2pix from the L channel (input_nc 1) to the ab channels (output_nc 2) of Lab; the visuals are
// converted back to RGB for display (the reference's lab2rgb via skimage).
import { modifyPix2pixOptions, PIX2PIX, Pix2PixModel, Pix2PixOptionValues } from './pix2pix_model';
import type { ModelOptions, ModelPlugin } from './base_model';
import type { OptionParser } from '../options/option_parser';
import { Tensor } from '../tensor';
import { lab2rgb } from '../data/color';

/** The colorization model's option defaults (pix2pix's, on the colorization dataset). */
export function modifyColorizationModelOptions(parser: OptionParser, isTrain: boolean): void {
  modifyPix2pixOptions(parser, isTrain);
  parser.setDefaults({ dataset_mode: 'colorization' });
}

/** pix2pix from the L channel to the ab channels of Lab images. */
export class ColorizationModel extends Pix2PixModel {
  constructor(opt: ModelOptions<Pix2PixOptionValues>) {
    super(opt);
    this.visualNames = ['real_A', 'real_B_rgb', 'fake_B_rgb'];
  }

  /** L in [-1,1] and ab in [-1,1] (first image of the batch) -> RGB tensor in [-1, 1] for display. */
  private labToRgb(L: Tensor, AB: Tensor): Tensor {
    const [, , h, w] = L.shape;
    const l = L.slice(0, 0, 1).toFloat32Array();
    const ab = AB.slice(0, 0, 1).toFloat32Array();
    const n = h * w;
    const lab = new Float64Array(n * 3);
    for (let i = 0; i < n; i++) {
      lab[i * 3] = (l[i] + 1) * 50;
      lab[i * 3 + 1] = ab[i] * 110;
      lab[i * 3 + 2] = ab[n + i] * 110;
    }
    const rgb = lab2rgb(lab);
    const out = new Float32Array(3 * n);
    for (let c = 0; c < 3; c++) for (let i = 0; i < n; i++) out[c * n + i] = rgb[i * 3 + c] * 2 - 1;
    return Tensor.fromFloat32Array(out, [1, 3, h, w]);
  }

  computeVisuals(): void {
    const L = this.getTensor('real_A');
    this.setTensor('real_B_rgb', this.labToRgb(L, this.getTensor('real_B')));
    this.setTensor('fake_B_rgb', this.labToRgb(L, this.getTensor('fake_B')));
  }
}

export const COLORIZATION: ModelPlugin = {
  options: { modifyCommandlineOptions: modifyColorizationModelOptions },
  model: ColorizationModel,
  describingNetworks: PIX2PIX.describingNetworks,
};
