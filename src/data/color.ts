/**
 * CIE Lab conversions matching scikit-image's `color.rgb2lab` / `color.lab2rgb` (D65 white, 2° observer, sRGB
 * gamma), used by the colorization dataset (L → A, ab → B) and by the colorization model's visuals.
 * Arithmetic follows skimage 0.19 step by step in float64 so results agree to the last bits or close to it.
 */
import { blankImage8, RawImage8 } from './image';

/** sRGB (linear) → XYZ, skimage's xyz_from_rgb. */
const XYZ_FROM_RGB = [
  [0.412453, 0.35758, 0.180423],
  [0.212671, 0.71516, 0.072169],
  [0.019334, 0.119193, 0.950227],
];

/** XYZ → sRGB (linear): numpy.linalg.inv(XYZ_FROM_RGB) as skimage computes it, copied to full precision. */
const RGB_FROM_XYZ = [
  [3.2404813432005266, -1.5371515162713183, -0.4985363261688878],
  [-0.9692549499965682, 1.8759900014898907, 0.04155592655829284],
  [0.055646639135177166, -0.20404133836651123, 1.0573110696453443],
];

/** D65 reference white for the 2° observer. */
const WHITE_D65 = [0.95047, 1.0, 1.08883];

/** img_as_float of uint8 (v * (1/255), as skimage multiplies) then the sRGB companding inverse, per sample value. */
const LINEAR_FROM_UINT8 = (() => {
  const lut = new Float64Array(256);
  for (let v = 0; v < 256; v++) {
    const f = v * (1 / 255);
    lut[v] = f > 0.04045 ? Math.pow((f + 0.055) / 1.055, 2.4) : f / 12.92;
  }
  return lut;
})();

function labCurve(t: number): number {
  return t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116;
}

/** rgb2lab of an interleaved uint8 RGB buffer: interleaved float64 L, a, b (L in [0, 100]). */
export function rgb2lab(rgb: Uint8Array): Float64Array {
  const pixels = Math.floor(rgb.length / 3);
  const out = new Float64Array(pixels * 3);
  const [m0, m1, m2] = XYZ_FROM_RGB;
  for (let p = 0; p < pixels; p++) {
    const r = LINEAR_FROM_UINT8[rgb[p * 3]];
    const g = LINEAR_FROM_UINT8[rgb[p * 3 + 1]];
    const b = LINEAR_FROM_UINT8[rgb[p * 3 + 2]];
    const x = labCurve((r * m0[0] + g * m0[1] + b * m0[2]) / WHITE_D65[0]);
    const y = labCurve((r * m1[0] + g * m1[1] + b * m1[2]) / WHITE_D65[1]);
    const z = labCurve((r * m2[0] + g * m2[1] + b * m2[2]) / WHITE_D65[2]);
    out[p * 3] = 116 * y - 16;
    out[p * 3 + 1] = 500 * (x - y);
    out[p * 3 + 2] = 200 * (y - z);
  }
  return out;
}

function inverseLabCurve(t: number): number {
  return t > 0.2068966 ? Math.pow(t, 3) : (t - 16 / 116) / 7.787;
}

function srgbCompand(v: number): number {
  const c = v > 0.0031308 ? 1.055 * Math.pow(v, 1 / 2.4) - 0.055 : v * 12.92;
  return c < 0 ? 0 : c > 1 ? 1 : c;
}

/**
 * lab2rgb of interleaved L, a, b: interleaved float64 RGB in [0, 1]. As skimage does, Z below 0 is set to 0
 * (skimage also warns "Color data out of range"; that warning is not reproduced).
 */
export function lab2rgb(lab: Float64Array | Float32Array): Float64Array {
  const pixels = Math.floor(lab.length / 3);
  const out = new Float64Array(pixels * 3);
  const [m0, m1, m2] = RGB_FROM_XYZ;
  for (let p = 0; p < pixels; p++) {
    const L = lab[p * 3];
    const fy = (L + 16) / 116;
    const fx = lab[p * 3 + 1] / 500 + fy;
    let fz = fy - lab[p * 3 + 2] / 200;
    if (fz < 0) fz = 0;
    const x = inverseLabCurve(fx) * WHITE_D65[0];
    const y = inverseLabCurve(fy) * WHITE_D65[1];
    const z = inverseLabCurve(fz) * WHITE_D65[2];
    out[p * 3] = srgbCompand(x * m0[0] + y * m0[1] + z * m0[2]);
    out[p * 3 + 1] = srgbCompand(x * m1[0] + y * m1[1] + z * m1[2]);
    out[p * 3 + 2] = srgbCompand(x * m2[0] + y * m2[1] + z * m2[2]);
  }
  return out;
}

/**
 * The colorization dataset's tensors from an RGB crop: rgb2lab → float32 → A = L/50 - 1 (1×H×W),
 * B = ab/110 (2×H×W), each step in float32 like the reference's tensor arithmetic.
 */
export function labTensorsFromRgb(img: RawImage8): { L: Float32Array; AB: Float32Array } {
  if (img.channels !== 3) throw new Error(`Expected an RGB image for labTensorsFromRgb but received ${img.channels} channels`);
  const lab = rgb2lab(img.data);
  const plane = img.width * img.height;
  const L = new Float32Array(plane);
  const AB = new Float32Array(plane * 2);
  for (let p = 0; p < plane; p++) {
    L[p] = Math.fround(Math.fround(lab[p * 3]) / 50) - 1;
    AB[p] = Math.fround(lab[p * 3 + 1]) / 110;
    AB[plane + p] = Math.fround(lab[p * 3 + 2]) / 110;
  }
  return { L, AB };
}

/**
 * The colorization model's lab2rgb visual for one image (its batch item 0): L2 = (L + 1) * 50 and
 * AB2 = AB * 110 in float32, lab2rgb in float64, * 255, then tensor2im's uint8 truncation.
 */
export function labTensorsToImage(L: Float32Array, AB: Float32Array, height: number, width: number): RawImage8 {
  const plane = height * width;
  const lab = new Float64Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    lab[p * 3] = Math.fround(Math.fround(L[p] + 1) * 50);
    lab[p * 3 + 1] = Math.fround(AB[p] * 110);
    lab[p * 3 + 2] = Math.fround(AB[plane + p] * 110);
  }
  const rgb = lab2rgb(lab);
  const out = blankImage8(width, height, 3);
  for (let i = 0; i < rgb.length; i++) out.data[i] = Math.trunc(rgb[i] * 255);
  return out;
}
