/**
 * Reads an image's size and format from its header only, so that decompression bombs (a small file that
 * decodes to gigabytes) are refused before any pixel buffer is allocated.
 */
import * as fs from 'fs';
import { ImageFileError } from './image_errors';
import { isStartOfFrame } from './jpeg_structure';

export type ImageFormat = 'png' | 'jpeg' | 'bmp' | 'gif' | 'tiff' | 'pnm';

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
  /** Bits per sample where the header says so (PNG, JPEG precision, PNM maxval > 255 → 16). */
  bitDepth?: number;
  /** PNG colour type (0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA). */
  pngColorType?: number;
  /** Number of components (JPEG frame header). */
  components?: number;
  /** JPEG start-of-frame marker (0xC0 baseline, 0xC2 progressive, 0xC9 arithmetic, …). */
  jpegFrameMarker?: number;
}

/** How many bytes of a file are usually enough to probe it (JPEG headers can sit after a large EXIF block). */
export const PROBE_BYTES = 64 * 1024;

/** Outcome of probing a possibly partial buffer: a header, "read more of the file", or a definite refusal. */
export type ProbeResult =
  | { kind: 'ok'; header: ImageHeader }
  | { kind: 'need-more' }
  | { kind: 'bad'; problem: string };

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const PNG_COLOR_TYPES = new Set([0, 2, 3, 4, 6]);

/**
 * Header of a whole file (or of its first bytes when `complete` is false, in which case a header that runs
 * past the end of `buf` yields `need-more`).
 */
export function tryProbeImage(buf: Uint8Array, complete = true): ProbeResult {
  if (buf.length === 0) return complete ? { kind: 'bad', problem: 'is empty (0 bytes)' } : { kind: 'need-more' };
  const short = (): ProbeResult =>
    complete ? { kind: 'bad', problem: 'is truncated: the file ends inside its image header' } : { kind: 'need-more' };
  if (startsWith(buf, PNG_SIGNATURE)) return probePng(buf, short);
  if (buf[0] === 0xff && buf[1] === 0xd8 && (buf.length < 3 || buf[2] === 0xff)) return probeJpeg(buf, short);
  if (buf[0] === 0x42 && buf[1] === 0x4d) return probeBmp(buf, short);
  if (startsWithAscii(buf, 'GIF87a') || startsWithAscii(buf, 'GIF89a')) return probeGif(buf, short);
  if (startsWith(buf, [0x49, 0x49, 0x2a, 0x00]) || startsWith(buf, [0x4d, 0x4d, 0x00, 0x2a])) return probeTiff(buf, short);
  if (buf[0] === 0x50 && buf[1] >= 0x31 && buf[1] <= 0x36) return probePnm(buf, short);
  if (buf.length < 8 && !complete) return { kind: 'need-more' };
  return { kind: 'bad', problem: `is not an image: ${describeUnknownStart(buf)}` };
}

/** Header of a complete file in memory; throws an ImageFileError naming `name` when it is not a usable image. */
export function probeImage(buf: Uint8Array, name: string): ImageHeader {
  const result = tryProbeImage(buf, true);
  if (result.kind === 'ok') return result.header;
  // tryProbeImage never asks for more bytes of a complete buffer
  throw new ImageFileError(name, result.kind === 'bad' ? result.problem : 'is truncated');
}

/**
 * Header of an image file, reading only its first PROBE_BYTES (the whole file when the header lies further in).
 * Used to place random crops before the file is decoded.
 */
export async function readImageHeader(path: string): Promise<ImageHeader> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImageFileError(path, code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(err)})`);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new ImageFileError(path, 'is not a regular file');
    const head = Buffer.alloc(Math.min(PROBE_BYTES, stat.size));
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const complete = bytesRead >= stat.size;
    const first = tryProbeImage(head.subarray(0, bytesRead), complete);
    if (first.kind === 'ok') return first.header;
    if (first.kind === 'bad') throw new ImageFileError(path, first.problem);
    const whole = await fs.promises.readFile(path);
    return probeImage(whole, path);
  } finally {
    await handle.close();
  }
}

/**
 * Refuses images over the pixel limit, from the header alone. The message names the option so users know
 * how to raise the limit for a genuinely huge image.
 */
export function assertWithinPixelLimit(header: ImageHeader, name: string, maxPixels: number): void {
  const pixels = header.width * header.height;
  if (pixels > maxPixels) {
    throw new ImageFileError(
      name,
      `is ${header.width}x${header.height} = ${formatMegapixels(pixels)} megapixels, over the limit of ` +
        `${formatMegapixels(maxPixels)} megapixels (--max_image_pixels)`,
      'ERR_IMG2IMG_IMAGE_TOO_LARGE',
    );
  }
}

/** 400000000 → "400", 2500000 → "2.5", 1234 → "0.001234". */
export function formatMegapixels(pixels: number): string {
  return String(Number((pixels / 1e6).toPrecision(6)));
}

function probePng(buf: Uint8Array, short: () => ProbeResult): ProbeResult {
  if (buf.length < 29) return short();
  if (!startsWithAscii(buf.subarray(12), 'IHDR')) return { kind: 'bad', problem: 'is not a valid PNG: the first chunk is not IHDR' };
  const width = readU32BE(buf, 16);
  const height = readU32BE(buf, 20);
  const bitDepth = buf[24];
  const pngColorType = buf[25];
  if (width === 0 || height === 0) return { kind: 'bad', problem: `is not a valid PNG: its header says ${width}x${height}` };
  if (!PNG_COLOR_TYPES.has(pngColorType) || ![1, 2, 4, 8, 16].includes(bitDepth)) {
    return { kind: 'bad', problem: `is not a valid PNG: colour type ${pngColorType} with bit depth ${bitDepth}` };
  }
  return { kind: 'ok', header: { format: 'png', width, height, bitDepth, pngColorType } };
}

function probeJpeg(buf: Uint8Array, short: () => ProbeResult): ProbeResult {
  let pos = 2;
  for (;;) {
    // every segment starts with 0xFF (possibly repeated as fill bytes) and a marker byte
    if (pos >= buf.length) return short();
    if (buf[pos] !== 0xff) return { kind: 'bad', problem: `is not a valid JPEG: expected a marker at byte ${pos}` };
    while (pos < buf.length && buf[pos] === 0xff) pos++;
    if (pos >= buf.length) return short();
    const marker = buf[pos++];
    // FF 00 is no marker: the decoders step over it and read on, so a probe that took it as a segment and
    // skipped its "length" would miss a frame header the decoder sees
    if (marker === 0x00) return { kind: 'bad', problem: `is not a valid JPEG: expected a marker at byte ${pos - 2} but received FF 00` };
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue; // standalone markers
    if (marker === 0xd9 || marker === 0xda) {
      return { kind: 'bad', problem: 'is not a valid JPEG: no frame header (SOF) before the image data' };
    }
    if (pos + 2 > buf.length) return short();
    const length = (buf[pos] << 8) | buf[pos + 1];
    if (length < 2) return { kind: 'bad', problem: `is not a valid JPEG: segment length ${length} at byte ${pos}` };
    if (isStartOfFrame(marker)) {
      if (pos + 8 > buf.length) return short();
      const bitDepth = buf[pos + 2];
      const height = (buf[pos + 3] << 8) | buf[pos + 4];
      const width = (buf[pos + 5] << 8) | buf[pos + 6];
      const components = buf[pos + 7];
      if (width === 0 || height === 0) {
        return { kind: 'bad', problem: `is not a supported JPEG: its frame header says ${width}x${height}` };
      }
      return { kind: 'ok', header: { format: 'jpeg', width, height, bitDepth, components, jpegFrameMarker: marker } };
    }
    pos += length;
  }
}

function probeBmp(buf: Uint8Array, short: () => ProbeResult): ProbeResult {
  if (buf.length < 26) return short();
  const dibSize = readU32LE(buf, 14);
  let width: number;
  let height: number;
  if (dibSize === 12) {
    width = buf[18] | (buf[19] << 8);
    height = buf[20] | (buf[21] << 8);
  } else if (dibSize >= 40) {
    width = readI32LE(buf, 18);
    height = Math.abs(readI32LE(buf, 22)); // negative height = rows stored top-down
  } else {
    return { kind: 'bad', problem: `is not a valid BMP: DIB header size ${dibSize}` };
  }
  if (width <= 0 || height <= 0) return { kind: 'bad', problem: `is not a valid BMP: its header says ${width}x${height}` };
  return { kind: 'ok', header: { format: 'bmp', width, height } };
}

function probeGif(buf: Uint8Array, short: () => ProbeResult): ProbeResult {
  if (buf.length < 10) return short();
  const width = buf[6] | (buf[7] << 8);
  const height = buf[8] | (buf[9] << 8);
  if (width === 0 || height === 0) return { kind: 'bad', problem: `is not a valid GIF: its header says ${width}x${height}` };
  return { kind: 'ok', header: { format: 'gif', width, height, bitDepth: 8 } };
}

function probeTiff(buf: Uint8Array, short: () => ProbeResult): ProbeResult {
  const little = buf[0] === 0x49;
  const u16 = (o: number) => (little ? buf[o] | (buf[o + 1] << 8) : (buf[o] << 8) | buf[o + 1]);
  const u32 = (o: number) => (little ? readU32LE(buf, o) : readU32BE(buf, o));
  if (buf.length < 8) return short();
  const ifd = u32(4);
  if (ifd + 2 > buf.length) return short();
  const count = u16(ifd);
  if (ifd + 2 + count * 12 > buf.length) return short();
  let width = 0;
  let height = 0;
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    const tag = u16(entry);
    if (tag !== 256 && tag !== 257) continue;
    const type = u16(entry + 2);
    const value = type === 3 ? u16(entry + 8) : u32(entry + 8); // SHORT or LONG, stored inline
    if (tag === 256) width = value;
    else height = value;
  }
  if (width === 0 || height === 0) return { kind: 'bad', problem: 'is not a valid TIFF: no image width/height in its first directory' };
  return { kind: 'ok', header: { format: 'tiff', width, height } };
}

/** Netpbm: "P6 <w> <h> <maxval>" in ASCII, with '#' comments, before the pixel data. */
function probePnm(buf: Uint8Array, short: () => ProbeResult): ProbeResult {
  const kind = buf[1] - 0x30;
  const wanted = kind === 1 || kind === 4 ? 2 : 3;
  const fields: number[] = [];
  let pos = 2;
  while (fields.length < wanted) {
    if (pos >= buf.length) return short();
    const c = buf[pos];
    if (c === 0x23) {
      while (pos < buf.length && buf[pos] !== 0x0a && buf[pos] !== 0x0d) pos++;
    } else if (isAsciiSpace(c)) {
      pos++;
    } else if (c >= 0x30 && c <= 0x39) {
      let value = 0;
      while (pos < buf.length && buf[pos] >= 0x30 && buf[pos] <= 0x39) value = value * 10 + (buf[pos++] - 0x30);
      if (pos >= buf.length) return short();
      fields.push(value);
    } else {
      return { kind: 'bad', problem: `is not a valid PNM/PPM: unexpected byte ${hex(c)} in its header` };
    }
  }
  const [width, height, maxval = 1] = fields;
  if (width === 0 || height === 0 || maxval === 0 || maxval > 65535) {
    return { kind: 'bad', problem: `is not a valid PNM/PPM: header says ${width}x${height}, maxval ${maxval}` };
  }
  return { kind: 'ok', header: { format: 'pnm', width, height, bitDepth: maxval > 255 ? 16 : 8 } };
}

function describeUnknownStart(buf: Uint8Array): string {
  const head = buf.subarray(0, 16);
  const printable = Array.from(head).every((c) => isAsciiSpace(c) || (c >= 0x20 && c < 0x7f));
  if (startsWithAscii(buf, 'RIFF') && startsWithAscii(buf.subarray(8), 'WEBP')) {
    return 'it is a WebP file, which is not supported (convert it to PNG or JPEG)';
  }
  const shown = printable
    ? `text ${JSON.stringify(Buffer.from(head).toString('latin1'))}`
    : `bytes ${Array.from(head.subarray(0, 8)).map(hex).join(' ')}`;
  return `it starts with ${shown} (expected a PNG, JPEG, BMP, GIF, TIFF or PPM header)`;
}

function startsWith(buf: Uint8Array, bytes: number[]): boolean {
  if (buf.length < bytes.length) return false;
  return bytes.every((b, i) => buf[i] === b);
}

function startsWithAscii(buf: Uint8Array, text: string): boolean {
  if (buf.length < text.length) return false;
  for (let i = 0; i < text.length; i++) if (buf[i] !== text.charCodeAt(i)) return false;
  return true;
}

function isAsciiSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}

function readU32BE(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function readU32LE(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

function readI32LE(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
}
