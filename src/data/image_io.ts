/**
 * Decoding and encoding image files to and from RawImage, in pure JavaScript (pngjs; a libjpeg-turbo-exact JPEG
 * decoder with jpeg-js as fallback; jimp's BMP/GIF/TIFF decoders; a small PPM reader). Every failure is an ImageFileError that names the file and says what is wrong;
 * sizes are checked from the header before any pixel buffer is allocated, and the structures the decoders trust are
 * checked before they run (jpeg_structure, gif_guard, tiff_guard, the interlaced PNG inflate bound below).
 *
 * Colour conversions follow PIL's `convert("RGB")` / `convert("L")`, which is what the reference applies right
 * after `Image.open`.
 */
import * as fs from 'fs';
import * as zlib from 'zlib';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { Channels, RawImage, RawImage8 } from './image';
import { ImageFileError } from './image_errors';
import { assertWithinPixelLimit, ImageHeader, probeImage } from './image_header';
import { decodeJpegExact } from './jpeg_decoder';
import { jpegStructureProblem, readJpegStructure } from './jpeg_structure';
import { assertGifDecodable } from './gif_guard';
import { tiffForDecoding } from './tiff_guard';

/** Default of --max_image_pixels: far above any training image, far below what would exhaust memory. */
export const DEFAULT_MAX_IMAGE_PIXELS = 50_000_000;

export interface DecodeOptions {
  /** File name used in every error message. */
  name: string;
  /** Images with more pixels than this are refused from their header (decompression-bomb guard). */
  maxPixels?: number;
}

/** Decodes a PNG, JPEG, BMP, GIF, TIFF or PPM file held in memory. */
export function decodeImage(input: Uint8Array, options: DecodeOptions): RawImage {
  const { name } = options;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_IMAGE_PIXELS;
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const header = probeImage(buf, name);
  assertWithinPixelLimit(header, name, maxPixels);
  let img: RawImage;
  try {
    switch (header.format) {
      case 'png':
        img = decodePng(buf, header, name);
        break;
      case 'jpeg':
        img = decodeJpeg(buf, header, name);
        break;
      case 'pnm':
        img = decodePnm(buf, header, name);
        break;
      default:
        img = decodeWithJimp(buf, header, name, maxPixels);
    }
  } catch (err) {
    if (err instanceof ImageFileError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new ImageFileError(name, `is a corrupt or truncated ${formatName(header)} (decoder said: ${reason})`);
  }
  if (img.width !== header.width || img.height !== header.height) {
    throw new ImageFileError(
      name,
      `is a corrupt ${formatName(header)}: its header says ${header.width}x${header.height} but it decoded to ${img.width}x${img.height}`,
    );
  }
  return img;
}

/** Reads and decodes an image file; errors name the path. */
export function readImageFile(path: string, options: Partial<DecodeOptions> = {}): RawImage {
  const name = options.name ?? path;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImageFileError(name, code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(err)})`);
  }
  // refuse directories, FIFOs and devices before readFileSync blocks or reads forever
  if (!stat.isFile()) throw new ImageFileError(name, 'is not a regular file');
  if (stat.size === 0) throw new ImageFileError(name, 'is empty (0 bytes)');
  return decodeImage(fs.readFileSync(path), { name, maxPixels: options.maxPixels });
}

function formatName(header: ImageHeader): string {
  return { png: 'PNG', jpeg: 'JPEG', bmp: 'BMP', gif: 'GIF', tiff: 'TIFF', pnm: 'PPM/PGM' }[header.format];
}

// ---------------------------------------------------------------------------------------------------------
// PNG

const PNG_GRAY = 0;
const PNG_RGB = 2;
const PNG_PALETTE = 3;
const PNG_GRAY_ALPHA = 4;

function decodePng(buf: Buffer, header: ImageHeader, name: string): RawImage {
  const colorType = header.pngColorType!;
  const depth = header.bitDepth!;
  assertPngInflateBounded(buf, header, name);
  // pngjs paints tRNS-matched gray/RGB pixels black; PIL's convert("RGB") keeps their colour, so drop the chunk
  const source = colorType === PNG_GRAY || colorType === PNG_RGB ? withoutChunk(buf, 'tRNS') : buf;
  // keep 16-bit samples as they are; lower depths (1/2/4) are scaled to 0..255 as PIL does
  const decoded = PNG.sync.read(source, { skipRescale: depth === 16 });
  const channels = pngChannels(colorType, decoded.alpha);
  const rgba = depth === 16 ? (decoded.data as unknown as Uint16Array) : (decoded.data as Uint8Array);
  return {
    data: selectChannels(rgba, decoded.width * decoded.height, channels),
    width: decoded.width,
    height: decoded.height,
    channels,
    bitDepth: depth === 16 ? 16 : 8,
  };
}

function pngChannels(colorType: number, paletteHasAlpha: boolean): Channels {
  if (colorType === PNG_GRAY) return 1;
  if (colorType === PNG_GRAY_ALPHA) return 2;
  if (colorType === PNG_RGB) return 3;
  if (colorType === PNG_PALETTE) return paletteHasAlpha ? 4 : 3;
  return 4;
}

/** pngjs always returns RGBA; keep the samples the file really has (gray = R, gray+alpha = R and A). */
function selectChannels<T extends Uint8Array | Uint16Array>(rgba: T, pixels: number, channels: Channels): T {
  if (channels === 4) return rgba;
  const out = (rgba instanceof Uint16Array ? new Uint16Array(pixels * channels) : new Uint8Array(pixels * channels)) as T;
  for (let p = 0, i = 0, o = 0; p < pixels; p++, i += 4) {
    out[o++] = rgba[i];
    if (channels === 2) out[o++] = rgba[i + 3];
    else if (channels === 3) {
      out[o++] = rgba[i + 1];
      out[o++] = rgba[i + 2];
    }
  }
  return out;
}

interface PngChunk {
  type: string;
  /** Offset of the chunk (its length field) and just past its CRC. */
  start: number;
  end: number;
}

/** The whole chunks of a PNG in order; a truncated last chunk is left out (pngjs reports it). */
function pngChunks(buf: Buffer): PngChunk[] {
  const chunks: PngChunk[] = [];
  let pos = 8;
  while (pos + 12 <= buf.length) {
    const end = pos + 12 + buf.readUInt32BE(pos);
    if (end > buf.length) break;
    chunks.push({ type: buf.toString('latin1', pos + 4, pos + 8), start: pos, end });
    pos = end;
  }
  return chunks;
}

/** Copy of a PNG without the chunks of one type (chunk CRCs cover only their own chunk, so the rest stays valid). */
function withoutChunk(buf: Buffer, type: string): Buffer {
  const chunks = pngChunks(buf);
  if (!chunks.some((c) => c.type === type)) return buf;
  const parts: Buffer[] = [buf.subarray(0, 8)];
  for (const c of chunks) if (c.type !== type) parts.push(buf.subarray(c.start, c.end));
  parts.push(buf.subarray(chunks.length ? chunks[chunks.length - 1].end : 8));
  return Buffer.concat(parts);
}

const PNG_SAMPLES_PER_PIXEL: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** Adam7 passes: x start, y start, x step, y step. */
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];

/** Bytes the image data inflates to by the header: filtered rows (a filter byte each) of every Adam7 pass. */
function pngInflatedSize(header: ImageHeader, interlaced: boolean): number {
  const bits = PNG_SAMPLES_PER_PIXEL[header.pngColorType!] * header.bitDepth!;
  const rows = (w: number, h: number) => (w > 0 && h > 0 ? h * (1 + Math.ceil((w * bits) / 8)) : 0);
  if (!interlaced) return rows(header.width, header.height);
  return ADAM7.reduce((sum, [x0, y0, dx, dy]) =>
    sum + rows(Math.ceil((header.width - x0) / dx), Math.ceil((header.height - y0) / dy)), 0);
}

/**
 * pngjs bounds the inflate of a non-interlaced PNG by its declared size but inflates an interlaced one without
 * limit (a 3 MB file can inflate to gigabytes); inflate those here first, stopping at the declared size.
 */
function assertPngInflateBounded(buf: Buffer, header: ImageHeader, name: string): void {
  const interlaced = buf[28] === 1;
  if (!interlaced) return;
  const idat = pngChunks(buf).filter((c) => c.type === 'IDAT').map((c) => buf.subarray(c.start + 8, c.end - 4));
  const expected = pngInflatedSize(header, true);
  try {
    zlib.inflateSync(Buffer.concat(idat), { maxOutputLength: Math.max(1, expected) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') return; // corrupt data: pngjs reports it
    throw new ImageFileError(name, `is a corrupt PNG: its image data inflates to more than the ${expected} bytes ` +
      `its interlaced ${header.width}x${header.height} header allows`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// JPEG

/** Headroom for jpeg-js's own bookkeeping on top of the per-pixel cost below. */
const JPEG_MEMORY_BASE_MB = 64;
/** jpeg-js holds coefficients, component lines and the output: about 12 bytes per pixel for 3 components. */
const JPEG_BYTES_PER_PIXEL = 16;

function decodeJpeg(buf: Buffer, header: ImageHeader, name: string): RawImage {
  if (header.bitDepth !== 8) {
    throw new ImageFileError(name, `is a ${header.bitDepth}-bit JPEG; only 8-bit JPEGs are supported`);
  }
  const sof = header.jpegFrameMarker ?? 0xc0;
  if (sof === 0xc3 || sof === 0xc7 || sof === 0xcb || sof === 0xcf) {
    throw new ImageFileError(name, 'is a lossless JPEG, which is not supported (convert it to PNG)');
  }
  if (sof >= 0xc9) {
    throw new ImageFileError(name, 'is an arithmetic-coded JPEG, which is not supported (re-save it as a standard JPEG or PNG)');
  }
  // decoders fill missing scan data with zeros (libjpeg and jpeg-js alike), so check for the end-of-image marker first;
  // the structure is checked before either decoder allocates (hidden second frames, scan floods)
  const structure = readJpegStructure(buf);
  if (!structure.complete) {
    throw new ImageFileError(name, 'is a truncated JPEG: the end-of-image marker (FFD9) after the image data is missing');
  }
  const problem = jpegStructureProblem(structure, header);
  if (problem) throw new ImageFileError(name, problem);
  // libjpeg-turbo's exact output (what Pillow gives) for baseline/progressive Huffman JPEGs
  const exact = decodeJpegExact(buf);
  if (exact) return { data: exact.data, width: exact.width, height: exact.height, channels: exact.channels, bitDepth: 8 };
  const pixels = header.width * header.height;
  const decoded = jpeg.decode(buf, {
    useTArray: true,
    formatAsRGBA: false,
    maxResolutionInMP: Math.max(1, Math.ceil(pixels / 1e6)),
    maxMemoryUsageInMB: JPEG_MEMORY_BASE_MB + Math.ceil((pixels * JPEG_BYTES_PER_PIXEL) / 2 ** 20),
  });
  const gray = header.components === 1;
  return {
    // jpeg-js replicates a gray JPEG into RGB; PIL opens it as mode "L"
    data: gray ? takeEveryThird(decoded.data) : decoded.data,
    width: decoded.width,
    height: decoded.height,
    channels: gray ? 1 : 3,
    bitDepth: 8,
  };
}

function takeEveryThird(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = rgb[i * 3];
  return out;
}

/** JPEG encoding for saving results (the reference saves PNG; this is for users who ask for .jpg output). */
export function encodeJpeg(img: RawImage, quality = 90): Buffer {
  const rgb = toRGB8(img);
  const pixels = rgb.width * rgb.height;
  const rgba = Buffer.alloc(pixels * 4);
  for (let p = 0; p < pixels; p++) {
    rgba[p * 4] = rgb.data[p * 3];
    rgba[p * 4 + 1] = rgb.data[p * 3 + 1];
    rgba[p * 4 + 2] = rgb.data[p * 3 + 2];
    rgba[p * 4 + 3] = 255;
  }
  return jpeg.encode({ data: rgba, width: rgb.width, height: rgb.height }, quality).data;
}

// ---------------------------------------------------------------------------------------------------------
// PPM / PGM / PBM (in the reference's IMG_EXTENSIONS as .ppm)

function decodePnm(buf: Buffer, header: ImageHeader, name: string): RawImage {
  const kind = buf[1] - 0x30; // P1..P6
  const ascii = kind <= 3;
  const channels: Channels = kind === 3 || kind === 6 ? 3 : 1;
  const { width, height } = header;
  const samples = width * height * channels;
  // parse the header again to find where the pixel data starts and what maxval is
  let pos = 2;
  const fields: number[] = [];
  const wanted = kind === 1 || kind === 4 ? 2 : 3;
  const nextNumber = (): number => {
    for (;;) {
      if (pos >= buf.length) throw new ImageFileError(name, 'is a truncated PPM/PGM: the pixel data ends early');
      const c = buf[pos];
      if (c === 0x23) while (pos < buf.length && buf[pos] !== 0x0a && buf[pos] !== 0x0d) pos++;
      else if (c < 0x30 || c > 0x39) pos++;
      else break;
    }
    let value = 0;
    while (pos < buf.length && buf[pos] >= 0x30 && buf[pos] <= 0x39) value = value * 10 + (buf[pos++] - 0x30);
    return value;
  };
  while (fields.length < wanted) fields.push(nextNumber());
  const maxval = wanted === 3 ? fields[2] : 1;
  if (!ascii) pos++; // the single whitespace byte that ends a binary header
  const sixteen = maxval > 255;
  const out = sixteen ? new Uint16Array(samples) : new Uint8Array(samples);
  const full = sixteen ? 65535 : 255;
  const scale = (v: number) => (maxval === full ? v : Math.round((Math.min(v, maxval) * full) / maxval));
  if (kind === 4) {
    // packed bits, 1 = black, rows padded to a byte
    const rowBytes = Math.ceil(width / 8);
    if (pos + rowBytes * height > buf.length) throw new ImageFileError(name, 'is a truncated PBM: the pixel data ends early');
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const bit = (buf[pos + y * rowBytes + (x >> 3)] >> (7 - (x & 7))) & 1;
        out[y * width + x] = bit ? 0 : 255;
      }
    }
  } else if (ascii) {
    for (let i = 0; i < samples; i++) {
      const v = nextNumber();
      out[i] = kind === 1 ? (v ? 0 : 255) : scale(v);
    }
  } else {
    const bytesPerSample = sixteen ? 2 : 1;
    if (pos + samples * bytesPerSample > buf.length) {
      throw new ImageFileError(name, 'is a truncated PPM/PGM: the pixel data ends early');
    }
    for (let i = 0; i < samples; i++) {
      out[i] = scale(sixteen ? buf.readUInt16BE(pos + 2 * i) : buf[pos + i]);
    }
  }
  return { data: out, width, height, channels, bitDepth: sixteen ? 16 : 8 };
}

// ---------------------------------------------------------------------------------------------------------
// BMP / GIF / TIFF through jimp's format decoders (loaded only when such a file shows up)

interface JimpFormat {
  mime: string;
  decode(data: Buffer): { data: Buffer | Uint8Array; width: number; height: number };
}

let jimpFormats: JimpFormat[] | undefined;

function decodeWithJimp(buf: Buffer, header: ImageHeader, name: string, maxPixels: number): RawImage {
  // jimp's GIF and TIFF decoders trust structures a hostile file controls; check them (and trim the TIFF) first
  if (header.format === 'gif') assertGifDecodable(buf, name, maxPixels);
  const source = header.format === 'tiff' ? tiffForDecoding(buf, name, header) : buf;
  if (!jimpFormats) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const jimp = require('jimp') as { defaultFormats: Array<() => JimpFormat> };
    jimpFormats = jimp.defaultFormats.map((make) => make());
  }
  const mime = { bmp: 'image/bmp', gif: 'image/gif', tiff: 'image/tiff' }[header.format as 'bmp' | 'gif' | 'tiff'];
  const format = jimpFormats.find((f) => f.mime === mime);
  if (!format) throw new Error(`no decoder for ${mime}`);
  const decoded = format.decode(source);
  const rgba = new Uint8Array(decoded.data.buffer, decoded.data.byteOffset, decoded.width * decoded.height * 4);
  // BMP has no alpha in jimp's decoder (it sets 255); GIF/TIFF keep theirs and toRGB8 drops it like PIL
  const channels: Channels = header.format === 'bmp' ? 3 : 4;
  return {
    data: selectChannels(rgba, decoded.width * decoded.height, channels),
    width: decoded.width,
    height: decoded.height,
    channels,
    bitDepth: 8,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Encoding and colour conversion

const PNG_COLOR_TYPE_FOR_CHANNELS = { 1: 0, 2: 4, 3: 2, 4: 6 } as const;

/** Lossless PNG with the image's own channel count and bit depth (1-channel stays a gray PNG). */
export function encodePng(img: RawImage): Buffer {
  const colorType = PNG_COLOR_TYPE_FOR_CHANNELS[img.channels];
  // pngjs reads 16-bit input through `new Uint16Array(data.buffer)`, so give it a buffer of its own
  const data =
    img.bitDepth === 16
      ? Buffer.from(new Uint16Array(img.data).buffer)
      : Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  const png = { width: img.width, height: img.height, data } as unknown as PNG;
  return PNG.sync.write(png, {
    colorType,
    inputColorType: colorType,
    inputHasAlpha: img.channels === 2 || img.channels === 4,
    bitDepth: img.bitDepth,
  });
}

/** 16-bit sample to 8-bit: round(v / 257), the exact inverse of the 8→16 widening v * 257. */
function to8(v: number): number {
  return ((v + 128) / 257) | 0;
}

/**
 * PIL `convert("RGB")`: gray is repeated into R, G and B; alpha is dropped (not composited); 16-bit samples are
 * scaled by 1/257. (PIL itself takes the high byte of 16-bit RGB and clips 16-bit gray at 255; scaling is the
 * behaviour users expect and keeps 16-bit training data usable.) Returns the input itself when it is already RGB 8-bit.
 */
export function toRGB8(img: RawImage): RawImage8 {
  if (img.channels === 3 && img.bitDepth === 8) return img as RawImage8;
  const pixels = img.width * img.height;
  const src = img.data;
  const out = new Uint8Array(pixels * 3);
  const wide = img.bitDepth === 16;
  const c = img.channels;
  for (let p = 0; p < pixels; p++) {
    const i = p * c;
    if (c <= 2) {
      const v = wide ? to8(src[i]) : src[i];
      out[p * 3] = v;
      out[p * 3 + 1] = v;
      out[p * 3 + 2] = v;
    } else {
      out[p * 3] = wide ? to8(src[i]) : src[i];
      out[p * 3 + 1] = wide ? to8(src[i + 1]) : src[i + 1];
      out[p * 3 + 2] = wide ? to8(src[i + 2]) : src[i + 2];
    }
  }
  return { data: out, width: img.width, height: img.height, channels: 3, bitDepth: 8 };
}

/**
 * PIL `convert("L")` (ITU-R 601-2 luma, the reference's Grayscale transform):
 * L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16, i.e. R*299/1000 + G*587/1000 + B*114/1000 rounded.
 * Returns the input itself when it is already gray 8-bit.
 */
export function toGray8(img: RawImage): RawImage8 {
  if (img.channels === 1 && img.bitDepth === 8) return img as RawImage8;
  const pixels = img.width * img.height;
  const src = img.data;
  const out = new Uint8Array(pixels);
  const wide = img.bitDepth === 16;
  const c = img.channels;
  for (let p = 0; p < pixels; p++) {
    const i = p * c;
    if (c <= 2) {
      out[p] = wide ? to8(src[i]) : src[i];
    } else {
      const r = wide ? to8(src[i]) : src[i];
      const g = wide ? to8(src[i + 1]) : src[i + 1];
      const b = wide ? to8(src[i + 2]) : src[i + 2];
      out[p] = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
    }
  }
  return { data: out, width: img.width, height: img.height, channels: 1, bitDepth: 8 };
}
