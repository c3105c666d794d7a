/**
 * Hostile image files built in code (issue 15): hidden JPEG frames, scan floods, interlaced PNG bombs, TIFF
 * directory loops and odd bit depths, GIF LZW cycles. Each builder makes the smallest file that shows the
 * problem; measureDecode runs decodeImage in a child process so that time and peak memory are its own.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { encodeJpeg } from '../../../src/data/image_io';
import { patternImage } from './data_test_helpers';

// ------------------------------------------------------------------------------------------------ JPEG

function segment(marker: number, body: number[] | Buffer): Buffer {
  const b = Buffer.from(body);
  return Buffer.concat([Buffer.from([0xff, marker, (b.length + 2) >> 8, (b.length + 2) & 0xff]), b]);
}

/** SOF body: precision 8, height, width, components with 1x1 sampling and quantization table 0. */
function frameBody(width: number, height: number, components: number): number[] {
  const body = [8, height >> 8, height & 0xff, width >> 8, width & 0xff, components];
  for (let i = 1; i <= components; i++) body.push(i, 0x11, 0);
  return body;
}

/** Offset of the first marker `marker` in a well-formed JPEG, walking segments. */
function markerOffset(jpeg: Buffer, marker: number): number {
  let pos = 2;
  while (jpeg[pos + 1] !== marker) pos += 2 + jpeg.readUInt16BE(pos + 2);
  return pos;
}

/** A legal baseline JPEG (jpeg-js), RGB. */
export function plainJpeg(width: number, height: number): Buffer {
  return encodeJpeg(patternImage(width, height, 3));
}

/**
 * Issue 15 item 2: a 512x256 JPEG with a 30000x30000 frame header right after SOI, wrapped in an FF 00
 * "segment" whose length covers it. A probe that takes FF 00 as a segment skips the hidden frame; a decoder
 * that steps over FF 00 finds it first.
 */
export function hiddenFrameJpeg(): Buffer {
  const base = plainJpeg(512, 256);
  const hidden = segment(0xc0, frameBody(30000, 30000, 3));
  const wrapper = Buffer.from([0xff, 0x00, (hidden.length + 2) >> 8, (hidden.length + 2) & 0xff]);
  return Buffer.concat([base.subarray(0, 2), wrapper, hidden, base.subarray(2)]);
}

/** A second frame header (30000x30000) after the image data: the probe stops at the first one. */
export function secondFrameJpeg(): Buffer {
  const base = plainJpeg(512, 256);
  const eoi = base.length - 2;
  return Buffer.concat([base.subarray(0, eoi), segment(0xc0, frameBody(30000, 30000, 3)), base.subarray(eoi)]);
}

/**
 * A legal 512x256 JPEG whose frame header (probe and decoder agree) is patched to width x height: its scan data
 * is far too short for that frame, which a decoder used to fill in (50 KB declaring 7000x7000: 4.4 s, 420 MB).
 */
export function inflatedFrameJpeg(width: number, height: number): Buffer {
  const base = Buffer.from(plainJpeg(512, 256));
  const sof = markerOffset(base, 0xc0);
  base.writeUInt16BE(height, sof + 5);
  base.writeUInt16BE(width, sof + 7);
  return base;
}

/** Issue 15 item 3 (baseline): `extra` empty copies of the scan header after the real scan. */
export function baselineScanFlood(width: number, height: number, extra: number): Buffer {
  const base = plainJpeg(width, height);
  const sos = markerOffset(base, 0xda);
  const header = base.subarray(sos, sos + 2 + base.readUInt16BE(sos + 2));
  const eoi = base.length - 2;
  return Buffer.concat([base.subarray(0, eoi), ...Array(extra).fill(header), base.subarray(eoi)]);
}

/** Issue 15 item 3 (progressive): a gray progressive frame and `scans` empty DC scans. */
export function progressiveScanFlood(width: number, height: number, scans: number): Buffer {
  const dqt = segment(0xdb, [0, ...Array(64).fill(1)]);
  const dht = segment(0xc4, [0x00, 1, ...Array(15).fill(0), 0]); // DC table 0: one 1-bit code for category 0
  const sos = segment(0xda, [1, 1, 0x00, 0, 0, 0]);
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]), dqt, segment(0xc2, frameBody(width, height, 1)), dht,
    ...Array(scans).fill(sos), Buffer.from([0xff, 0xd9]),
  ]);
}

// ------------------------------------------------------------------------------------------------- PNG

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** A gray 8-bit PNG with the given raw (filtered) image data, interlaced or not. */
export function grayPng(width: number, height: number, interlaced: boolean, raw: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // gray
  ihdr[12] = interlaced ? 1 : 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zlib.deflateSync(raw, { level: 9 })), pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];

/** A legal interlaced gray PNG of `pixels` (row-major), built pass by pass with filter type 0. */
export function interlacedPng(width: number, height: number, pixels: Uint8Array): Buffer {
  const rows: number[] = [];
  for (const [x0, y0, dx, dy] of ADAM7) {
    if (x0 >= width || y0 >= height) continue;
    for (let y = y0; y < height; y += dy) {
      rows.push(0);
      for (let x = x0; x < width; x += dx) rows.push(pixels[y * width + x]);
    }
  }
  return grayPng(width, height, true, Buffer.from(rows));
}

/** Issue 15 item 4: declared 1x1 interlaced, image data inflating to `inflated` bytes. */
export function interlacedBomb(inflated: number): Buffer {
  return grayPng(1, 1, true, Buffer.alloc(inflated));
}

// ------------------------------------------------------------------------------------------------ TIFF

export interface TiffEntry { tag: number; type: 3 | 4; values: number[] }

/**
 * A little-endian TIFF: one directory per page (entries plus strip data each), chained in order, the last
 * one's next pointer `lastNext` (0 ends the chain; the first directory's offset makes it loop).
 */
export function tiff(pages: { entries: TiffEntry[]; data: Buffer }[], lastNext?: (firstIfd: number) => number): Buffer {
  const parts: Buffer[] = [Buffer.from([0x49, 0x49, 0x2a, 0, 8, 0, 0, 0])];
  let offset = 8;
  const ifdOffsets: number[] = [];
  const fixups: { buf: Buffer; at: number; page: number }[] = [];
  for (const [p, page] of pages.entries()) {
    const entries = [...page.entries].sort((a, b) => a.tag - b.tag);
    const ifdSize = 2 + 12 * entries.length + 4;
    ifdOffsets.push(offset);
    const ifd = Buffer.alloc(ifdSize);
    const extra: Buffer[] = [];
    let extraAt = offset + ifdSize;
    ifd.writeUInt16LE(entries.length, 0);
    entries.forEach((e, i) => {
      const at = 2 + 12 * i;
      ifd.writeUInt16LE(e.tag, at);
      ifd.writeUInt16LE(e.type, at + 2);
      ifd.writeUInt32LE(e.values.length, at + 4);
      const size = e.type === 3 ? 2 : 4;
      const bytes = Buffer.alloc(e.values.length * size);
      e.values.forEach((v, j) => (size === 2 ? bytes.writeUInt16LE(v, 2 * j) : bytes.writeUInt32LE(v, 4 * j)));
      if (bytes.length <= 4) bytes.copy(ifd, at + 8);
      else {
        ifd.writeUInt32LE(extraAt, at + 8);
        extra.push(bytes);
        extraAt += bytes.length;
      }
    });
    const dataAt = extraAt;
    // StripOffsets (273) is written as the data's position
    entries.forEach((e, i) => { if (e.tag === 273) ifd.writeUInt32LE(dataAt, 2 + 12 * i + 8); });
    fixups.push({ buf: ifd, at: ifdSize - 4, page: p });
    parts.push(ifd, ...extra, page.data);
    offset = dataAt + page.data.length;
  }
  for (const f of fixups) {
    const next = f.page + 1 < pages.length ? ifdOffsets[f.page + 1] : (lastNext?.(ifdOffsets[0]) ?? 0);
    f.buf.writeUInt32LE(next, f.at);
  }
  return Buffer.concat(parts);
}

/** Entries of an uncompressed one-strip RGB (or `samples`-sample) image. */
export function stripEntries(width: number, height: number, opts: { bits?: number; samples?: number; compression?: number; byteCount: number }): TiffEntry[] {
  const samples = opts.samples ?? 3;
  return [
    { tag: 256, type: 3, values: [width] },
    { tag: 257, type: 3, values: [height] },
    { tag: 258, type: 3, values: Array(samples).fill(opts.bits ?? 8) },
    { tag: 259, type: 3, values: [opts.compression ?? 1] },
    { tag: 262, type: 3, values: [samples >= 3 ? 2 : 1] },
    { tag: 273, type: 4, values: [0] },
    { tag: 277, type: 3, values: [samples] },
    { tag: 278, type: 3, values: [height] },
    { tag: 279, type: 4, values: [opts.byteCount] },
  ];
}

/** Codes packed most significant bit first, each with its own width (TIFF LZW). */
export function msbCodes(codes: [number, number][]): Buffer {
  const bits: number[] = [];
  for (const [code, width] of codes) for (let i = width - 1; i >= 0; i--) bits.push((code >> i) & 1);
  const out = Buffer.alloc(Math.ceil(bits.length / 8));
  bits.forEach((b, i) => { out[i >> 3] |= b << (7 - (i & 7)); });
  return out;
}

// ------------------------------------------------------------------------------------------------- GIF

/** A GIF with a 16x16 screen and one frame (`frameW` x `frameH`) whose LZW data are `codes` (4-bit, min size 3). */
export function gifWithCodes(codes: number[], frameW = 16, frameH = 16): Buffer {
  let bits = 0;
  let n = 0;
  const bytes: number[] = [];
  for (const c of codes) {
    bits |= c << n;
    n += 4; // every code here is below 16, so the code size stays 4 bits
    while (n >= 8) { bytes.push(bits & 0xff); bits >>>= 8; n -= 8; }
  }
  if (n > 0) bytes.push(bits & 0xff);
  const screen = [16, 0, 16, 0, 0x82, 0, 0]; // global colour table of 8 entries
  const palette = Array.from({ length: 24 }, (_, i) => (i * 11) & 0xff);
  const descriptor = [0x2c, 0, 0, 0, 0, frameW & 0xff, frameW >> 8, frameH & 0xff, frameH >> 8, 0];
  return Buffer.from([...Buffer.from('GIF89a'), ...screen, ...palette, ...descriptor, 3, bytes.length, ...bytes, 0, 0x3b]);
}

/**
 * Issue 15 item 7: after a clear code, code 12 (past the next free entry 10) becomes the prefix of the new
 * entry 10, while the stale entry 12 has prefix 10: omggif chases 10 → 12 → 10 … forever.
 */
export function gifLzwCycle(): Buffer {
  return gifWithCodes([8, 0, 0, 10, 0, 8, 12, 0, 10, 9]);
}

// ------------------------------------------------------------------------------------------- measuring

export interface DecodeRun {
  ok: boolean;
  code?: string;
  message?: string;
  width?: number;
  height?: number;
  ms: number;
  /** Peak resident memory of the whole child process. */
  peakMb: number;
}

const IMAGE_IO = path.resolve(__dirname, '../../../src/data/image_io.js');

/** Decodes `file` in a fresh Node process; `timeoutMs` bounds a regression that would hang. */
export function measureDecode(file: string, timeoutMs = 30_000): DecodeRun {
  const script = `
    const { readImageFile } = require(${JSON.stringify(IMAGE_IO)});
    const t = Date.now();
    let r;
    try { const img = readImageFile(process.argv[1]); r = { ok: true, width: img.width, height: img.height }; }
    catch (e) { r = { ok: false, code: e.code, message: e.message }; }
    r.ms = Date.now() - t;
    r.peakMb = process.resourceUsage().maxRSS / 1024;
    process.stdout.write(JSON.stringify(r));`;
  const child = spawnSync(process.execPath, ['-e', script, file], { timeout: timeoutMs, encoding: 'utf8', env: { ...process.env, IMG2IMG_THREADS: '1' } });
  if (child.status !== 0 || !child.stdout) {
    throw new Error(`decoding ${path.basename(file)} in a child process failed (status ${child.status}, signal ${child.signal}): ${child.stderr}`);
  }
  return JSON.parse(child.stdout) as DecodeRun;
}

/** Peak memory of a child that only loads image_io (the baseline the bounds are measured against). */
export function baselinePeakMb(): number {
  const script = `require(${JSON.stringify(IMAGE_IO)}); process.stdout.write(String(process.resourceUsage().maxRSS / 1024));`;
  return Number(spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' }).stdout);
}

export function writeTemp(dir: string, name: string, data: Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return file;
}
