/**
 * The in-memory image every part of the data pipeline passes around: plain typed arrays, no native handles,
 * so images can be cached, sent to worker threads and tested without libtorch.
 */

/** Number of interleaved samples per pixel: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
export type Channels = 1 | 2 | 3 | 4;

/** Bits per sample: 8-bit images use Uint8Array, 16-bit PNGs keep their full range in a Uint16Array. */
export type BitDepth = 8 | 16;

/** A decoded image, interleaved HWC, rows top to bottom. */
export interface RawImage {
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  channels: Channels;
  bitDepth: BitDepth;
}

/** An 8-bit image, which is what every transform after decoding works on (PIL modes "L" and "RGB"). */
export interface RawImage8 extends RawImage {
  data: Uint8Array;
  bitDepth: 8;
}

/** A zero-filled 8-bit image (PIL pads crops outside the source with 0, so zero is the natural start). */
export function blankImage8(width: number, height: number, channels: Channels): RawImage8 {
  return { data: new Uint8Array(width * height * channels), width, height, channels, bitDepth: 8 };
}

/** Bytes held by an image's pixel buffer (what the decoded-image cache counts against its budget). */
export function imageByteLength(img: RawImage): number {
  return img.data.byteLength;
}

/** "512x256 RGB" style description for messages. */
export function describeImage(img: RawImage): string {
  const mode = ['', 'gray', 'gray+alpha', 'RGB', 'RGBA'][img.channels];
  return `${img.width}x${img.height} ${mode}${img.bitDepth === 16 ? ' 16-bit' : ''}`;
}
