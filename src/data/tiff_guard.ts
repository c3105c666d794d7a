/**
 * Checks a TIFF before utif2 (through jimp) decodes it, and hands it a copy that holds only the first image.
 * utif2 follows every directory pointer without a visited set (a directory that points to itself loops until
 * V8 aborts the process), reads as many values as an entry claims, allocates what any bit depth asks for
 * (BitsPerSample 4096: 1.5 GB) and inflates Deflate strips without a bound. Here: the directory chain must end
 * without a loop, every entry's data must lie inside the file, the first image must use a supported layout,
 * and every compressed strip or tile must decode to no more than its declared rows.
 */
import * as zlib from 'zlib';
import { ImageFileError } from './image_errors';

/** Longest directory chain walked looking for a loop (far beyond any real multi-page TIFF). */
const MAX_DIRECTORIES = 4096;
/** Bytes per value of each TIFF field type. */
const TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4 };
/** Tags utif2 follows into further directories (SubIFDs, EXIF, GPS, DNG private, Fuji, MakerNote). */
const FOLLOWED_TAGS = new Set([330, 34665, 34853, 50740, 61440, 37500]);
/** A private tag number the followed tags are renamed to in the copy, so that utif2 keeps them as plain data. */
const INERT_TAG = 65000;
const SUPPORTED_BITS = new Set([1, 2, 4, 8, 16]);
/** None, LZW, Deflate (two codes), PackBits. */
const SUPPORTED_COMPRESSION = new Set([1, 5, 8, 32946, 32773]);
/** WhiteIsZero, BlackIsZero, RGB, palette. */
const SUPPORTED_PHOTOMETRIC = new Set([0, 1, 2, 3]);

interface Entry { tag: number; type: number; count: number; at: number }

/**
 * The bytes to give the TIFF decoder: a copy of `buf` whose first directory is the only one and follows no
 * sub-directories. Throws an ImageFileError naming `name` for a structure or layout it refuses.
 */
export function tiffForDecoding(buf: Buffer, name: string, size: { width: number; height: number }): Buffer {
  const corrupt = (what: string) => new ImageFileError(name, `is a corrupt TIFF: ${what}`);
  const unsupported = (what: string) => new ImageFileError(name, `is an unsupported TIFF: ${what} (convert it to PNG)`);
  const little = buf[0] === 0x49;
  const u16 = (o: number) => (little ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (little ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const directoryEnd = (ifd: number) => {
    if (ifd + 2 > buf.length || ifd + 2 + 12 * u16(ifd) + 4 > buf.length) throw corrupt(`the directory at byte ${ifd} runs past the end of the file`);
    return ifd + 2 + 12 * u16(ifd);
  };

  const first = u32(4);
  const visited = new Set<number>();
  for (let ifd = first; ifd !== 0; ifd = u32(directoryEnd(ifd))) {
    if (visited.has(ifd)) throw corrupt(`its directory chain loops back to the directory at byte ${ifd}`);
    if (visited.size >= MAX_DIRECTORIES) throw corrupt(`expected at most ${MAX_DIRECTORIES} directories but received more`);
    visited.add(ifd);
  }

  const entries: Entry[] = [];
  const end = directoryEnd(first);
  for (let at = first + 2; at < end; at += 12) {
    const entry = { tag: u16(at), type: u16(at + 2), count: u32(at + 4), at };
    const bytes = entry.count * (TYPE_SIZE[entry.type] ?? 0);
    if (bytes > 4 && u32(at + 8) + bytes > buf.length) throw corrupt(`the values of tag ${entry.tag} run past the end of the file`);
    entries.push(entry);
  }
  const values = (tag: number): number[] => {
    const e = entries.find((x) => x.tag === tag);
    if (!e || (e.type !== 3 && e.type !== 4)) return [];
    const step = e.type === 3 ? 2 : 4;
    const base = e.count * step > 4 ? u32(e.at + 8) : e.at + 8;
    return Array.from({ length: e.count }, (_, i) => (step === 2 ? u16(base + 2 * i) : u32(base + 4 * i)));
  };
  const one = (tag: number, fallback: number) => values(tag)[0] ?? fallback;

  const bits = values(258);
  const samples = one(277, bits.length || 1);
  const depth = bits[0] ?? 1;
  if (!SUPPORTED_BITS.has(depth) || bits.some((b) => b !== depth)) {
    throw unsupported(`expected 1, 2, 4, 8 or 16 bits per sample but received ${bits.join(', ')}`);
  }
  if (samples < 1 || samples > 4) throw unsupported(`expected 1 to 4 samples per pixel but received ${samples}`);
  const compression = one(259, 1);
  if (!SUPPORTED_COMPRESSION.has(compression)) throw unsupported(`compression ${compression}`);
  const photometric = one(262, 1);
  if (!SUPPORTED_PHOTOMETRIC.has(photometric)) throw unsupported(`photometric interpretation ${photometric}`);
  if (one(284, 1) !== 1) throw unsupported('planar configuration 2 (separate planes)');

  // every piece of image data must lie in the file; a tile may not be larger than the image rounded up to 16
  const rowBytes = (w: number) => Math.ceil((w * depth * samples) / 8);
  const tiled = entries.some((e) => e.tag === 322);
  const tileW = one(322, size.width);
  const tileH = one(323, size.height);
  if (tiled && (tileW < 1 || tileH < 1 || tileW > Math.ceil(size.width / 16) * 16 || tileH > Math.ceil(size.height / 16) * 16)) {
    throw corrupt(`its tiles of ${tileW}x${tileH} do not fit its ${size.width}x${size.height} image`);
  }
  const offsets = values(tiled ? 324 : 273);
  const counts = values(tiled ? 325 : 279);
  if (offsets.length === 0) throw corrupt('it has no image data offsets');
  if (counts.length !== offsets.length) throw corrupt(`expected ${offsets.length} data byte counts but received ${counts.length}`);
  offsets.forEach((o, i) => {
    if (o + counts[i] > buf.length) throw corrupt(`its image data piece ${i} runs past the end of the file`);
  });
  // each compressed piece must decode to no more than its declared rows (checked without decoding, or for
  // Deflate by inflating up to that size): this bounds the decoder's time and memory by the declared size
  const pieceBytes = tiled ? tileH * rowBytes(tileW) : Math.min(one(278, size.height), size.height) * rowBytes(size.width);
  const measure = compression === 5 ? lzwProblem : compression === 32773 ? packBitsProblem
    : compression === 8 || compression === 32946 ? inflateProblem : null;
  if (measure) {
    const method = compression === 5 ? 'LZW' : compression === 32773 ? 'PackBits' : 'Deflate';
    offsets.forEach((o, i) => {
      const problem = measure(buf.subarray(o, o + counts[i]), pieceBytes);
      if (problem) throw corrupt(`its ${method} data piece ${i} ${problem}`);
    });
  }

  const copy = Buffer.from(buf);
  const next = end;
  if (little) copy.writeUInt32LE(0, next);
  else copy.writeUInt32BE(0, next);
  for (const e of entries) {
    if (!FOLLOWED_TAGS.has(e.tag)) continue;
    if (little) copy.writeUInt16LE(INERT_TAG, e.at);
    else copy.writeUInt16BE(INERT_TAG, e.at);
  }
  return copy;
}

const tooMuch = (limit: number) => `decodes to more than the ${limit} bytes its header allows`;

function inflateProblem(data: Buffer, limit: number): string | null {
  try {
    zlib.inflateSync(data, { maxOutputLength: Math.max(1, limit) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return tooMuch(limit);
    // corrupt Deflate data: the decoder reports it
  }
  return null;
}

/** PackBits run lengths, summed without writing anything. */
function packBitsProblem(data: Buffer, limit: number): string | null {
  let out = 0;
  for (let pos = 0; pos < data.length && out <= limit;) {
    const n = (data[pos++] << 24) >> 24;
    if (n >= 0) { out += n + 1; pos += n + 1; } else if (n > -128) { out += 1 - n; pos++; }
  }
  return out > limit ? tooMuch(limit) : null;
}

/**
 * TIFF LZW (MSB first, code width growing one code early, as utif2 reads it) run on entry lengths only. utif2
 * takes any code at or past the next free entry as "previous string + its first byte" and follows prefix links
 * without a bound, so a code past that entry (or a non-root first code after a clear) can link stale entries
 * into a cycle it never leaves; refusing those keeps every prefix older than its entry.
 */
function lzwProblem(data: Buffer, limit: number): string | null {
  const CLEAR = 256;
  const EOI = 257;
  const length = new Float64Array(4097).fill(1);
  let next = 258;
  let width = 9;
  let prev = -1; // -1: right after a clear (or at the start, where utif2 starts from code 0)
  let atStart = true;
  let out = 0;
  const bits = data.length * 8;
  for (let bit = 0; bit + width <= bits;) {
    let code = 0;
    for (let i = 0; i < width; i++, bit++) code = (code << 1) | ((data[bit >> 3] >> (7 - (bit & 7))) & 1);
    if (code === EOI) break;
    if (code === CLEAR) {
      next = 258;
      width = 9;
      prev = -1;
      atStart = false;
      continue;
    }
    if (prev < 0 && !atStart) {
      if (code > EOI) return `has LZW code ${code} right after a clear code (expected a single byte code)`;
      out += 1;
      prev = code;
      continue;
    }
    if (code > next) return `has LZW code ${code} past the next free table entry ${next}`;
    const from = prev < 0 ? 0 : prev;
    out += code < next ? length[code] : length[from] + 1;
    if (next < 4096) length[next] = length[from] + 1;
    next++;
    if (next + 1 === 1 << width && width !== 12) width++;
    prev = code;
    atStart = false;
    if (out > limit) return tooMuch(limit);
  }
  return out > limit ? tooMuch(limit) : null;
}
