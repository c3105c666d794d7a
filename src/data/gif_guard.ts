/**
 * Checks the first frame of a GIF before omggif (through jimp) decodes it. omggif trusts two things a hostile
 * file controls: the frame's own size (it allocates width x height of the frame, not of the screen the header
 * probe saw) and the LZW codes (a code past the next free table slot makes its prefix chain loop forever, so a
 * 36-byte file spins at 100% CPU). With the frame size bounded and every code at most the next free slot, each
 * table entry's prefix is an older entry and decoding takes time proportional to the frame's pixels.
 */
import { ImageFileError } from './image_errors';

/** Throws an ImageFileError naming `name` when frame 0 is too large or its LZW data is not valid LZW. */
export function assertGifDecodable(buf: Uint8Array, name: string, maxPixels: number): void {
  const corrupt = (what: string) => new ImageFileError(name, `is a corrupt GIF: ${what}`);
  const u16 = (o: number) => buf[o] | (buf[o + 1] << 8);
  let pos = 13;
  if (buf[10] & 0x80) pos += 3 << ((buf[10] & 7) + 1); // global colour table
  for (;;) {
    if (pos >= buf.length) throw corrupt('the file ends before its first image');
    const block = buf[pos++];
    if (block === 0x21) {
      pos = skipSubBlocks(buf, pos + 1); // label, then data sub-blocks
    } else if (block === 0x2c) {
      if (pos + 9 > buf.length) throw corrupt('the file ends inside an image descriptor');
      const width = u16(pos + 4);
      const height = u16(pos + 6);
      const packed = buf[pos + 8];
      if (width * height > maxPixels) {
        throw new ImageFileError(name, `has a first frame of ${width}x${height}, over the limit of ${maxPixels} pixels (--max_image_pixels)`,
          'ERR_IMG2IMG_IMAGE_TOO_LARGE');
      }
      pos += 9;
      if (packed & 0x80) pos += 3 << ((packed & 7) + 1); // local colour table
      const problem = lzwProblem(buf, pos);
      if (problem) throw corrupt(problem);
      return;
    } else {
      throw corrupt(`expected an extension (21) or image (2c) block at byte ${pos - 1} but received ${block.toString(16)}`);
    }
  }
}

function skipSubBlocks(buf: Uint8Array, pos: number): number {
  while (pos < buf.length && buf[pos] !== 0) pos += buf[pos] + 1;
  return pos + 1;
}

/** Runs the LZW code stream at `pos` (minimum code size, then sub-blocks) without output; null when valid. */
function lzwProblem(buf: Uint8Array, pos: number): string | null {
  const minSize = buf[pos++];
  if (minSize < 1 || minSize > 8) return `LZW minimum code size ${minSize} (expected 1 to 8)`;
  const clear = 1 << minSize;
  const eoi = clear + 1;
  let next = eoi + 1;
  let size = minSize + 1;
  let prev = -1;
  let bits = 0;
  let count = 0;
  let left = 0; // bytes left in the current sub-block
  for (;;) {
    while (count < size) {
      if (left === 0) {
        if (pos >= buf.length || buf[pos] === 0) return null; // data ends: omggif stops here too
        left = buf[pos++];
      }
      if (pos >= buf.length) return null;
      bits |= buf[pos++] << count;
      count += 8;
      left--;
    }
    const code = bits & ((1 << size) - 1);
    bits >>>= size;
    count -= size;
    if (code === clear) {
      next = eoi + 1;
      size = minSize + 1;
      prev = -1;
      continue;
    }
    if (code === eoi) return null;
    if (code > next || (code === next && prev < 0)) {
      return `LZW code ${code} refers past the code table (next free entry ${next})`;
    }
    if (prev >= 0 && next < 4096) {
      next++;
      if (next >= 1 << size && size < 12) size++;
    }
    prev = code;
  }
}
