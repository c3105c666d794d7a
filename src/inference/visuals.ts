// Visual tensors -> images: the reference's tensor2im (first image of the batch, [-1,1] -> uint8) and PNG files.
import { encodePng } from '../data/image_io';
import { tensorToImage } from '../data/transforms';
import type { RawImage8 } from '../data/image';
import type { Tensor } from '../tensor';

/** tensor2im of batch item 0; 1-channel stays 1-channel when singleChannel (the reference tiles it to RGB). */
export function visualToImage(t: Tensor, opts: { singleChannel?: boolean } = {}): RawImage8 {
  const shape = t.shape;
  const [c, h, w] = shape.length === 4 ? shape.slice(1) : shape;
  const first = shape.length === 4 ? t.slice(0, 0, 1) : t;
  try {
    return tensorToImage(first.toFloat32Array(), c, h, w, opts);
  } finally {
    if (first !== t) first.dispose();
  }
}

export function visualToPng(t: Tensor, opts: { singleChannel?: boolean } = {}): Buffer {
  return encodePng(visualToImage(t, opts));
}
