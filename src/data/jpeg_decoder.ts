/**
 * A baseline/progressive Huffman JPEG decoder that reproduces libjpeg-turbo's default output — the decoder behind
 * Pillow's `Image.open(...).convert("RGB")` — sample for sample: the "islow" integer IDCT (jidctint.c), "fancy"
 * triangular chroma upsampling (jdsample.c), and the integer YCbCr→RGB tables (jdcolor.c).
 *
 * jpeg-js, the general decoder, replicates chroma and converts colour in floating point, which moves facades
 * pixels by 2 levels on average (up to 68 at colour edges) compared with Pillow; with this decoder the reference's
 * training crops are reproduced exactly. Files it does not cover (arithmetic coding, lossless or 12-bit JPEGs,
 * CMYK/YCCK, unusual sampling) make it return null and the caller falls back to jpeg-js.
 */

import { isStandaloneMarker, nextMarker } from './jpeg_structure';

/** jpeg_natural_order: zigzag index → natural (row-major) index, padded for corrupt runs past 63. */
const NATURAL_ORDER = new Int32Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
  12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
  58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
  63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
]);

/** Thrown for data the decoder cannot use at all; decodeImage reports it as a corrupt JPEG. */
export class JpegDataError extends Error {}

export interface DecodedJpeg {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

interface HuffmanTable {
  /** 9-bit lookahead: (code length << 8) | symbol, or 0 when the code is longer. */
  lookup: Uint16Array;
  maxcode: Int32Array;
  valptr: Int32Array;
  mincode: Int32Array;
  values: Uint8Array;
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  /** Real size of this component's samples (downsampled_width/height). */
  width: number;
  height: number;
  /** Real blocks (width_in_blocks / height_in_blocks). */
  blocksWide: number;
  blocksHigh: number;
  /** Allocated blocks per row/column, rounded up to whole MCUs. */
  blocksPerLine: number;
  blocksPerColumn: number;
  coefficients: Int16Array;
  dcTable: number;
  acTable: number;
  dcPred: number;
}

interface Frame {
  progressive: boolean;
  width: number;
  height: number;
  components: Component[];
  maxH: number;
  maxV: number;
  mcusPerLine: number;
  mcusPerColumn: number;
}

const LOOKAHEAD = 9;

function buildHuffmanTable(counts: Uint8Array, values: Uint8Array): HuffmanTable {
  const lookup = new Uint16Array(1 << LOOKAHEAD);
  const maxcode = new Int32Array(18).fill(-1);
  const valptr = new Int32Array(17);
  const mincode = new Int32Array(17);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1];
    valptr[len] = k;
    mincode[len] = code;
    for (let i = 0; i < n; i++, k++, code++) {
      if (len <= LOOKAHEAD) {
        const shift = LOOKAHEAD - len;
        const start = code << shift;
        for (let fill = 0; fill < 1 << shift; fill++) lookup[start + fill] = (len << 8) | values[k];
      }
    }
    maxcode[len] = n > 0 ? code - 1 : -1;
    if (code > 1 << len) throw new JpegDataError('bad Huffman table');
    code <<= 1;
  }
  maxcode[17] = 0x7fffffff; // guarantees termination on bad input (libjpeg's sentinel)
  return { lookup, maxcode, valptr, mincode, values };
}

/** Entropy-coded segment reader: 0xFF00 is a stuffed 0xFF; any other marker ends the data (zeros follow). */
class BitReader {
  pos: number;
  private buffer = 0;
  private count = 0;
  /** Set when the reader ran into a marker or the end of the file and had to invent zero bits. */
  hitMarker = false;

  constructor(
    private readonly data: Uint8Array,
    start: number,
  ) {
    this.pos = start;
  }

  /** At a restart: drop buffered bits and step over the RSTn marker (and any fill bytes before it). */
  restart(): void {
    this.buffer = 0;
    this.count = 0;
    this.hitMarker = false;
    const d = this.data;
    let p = this.pos;
    while (d[p] === 0xff && d[p + 1] === 0xff) p++;
    if (d[p] === 0xff && d[p + 1] >= 0xd0 && d[p + 1] <= 0xd7) p += 2;
    this.pos = p;
  }

  private fill(): void {
    while (this.count <= 24) {
      let byte = 0;
      if (!this.hitMarker && this.pos < this.data.length) {
        byte = this.data[this.pos];
        if (byte === 0xff) {
          const next = this.data[this.pos + 1];
          if (next === 0x00) this.pos += 2;
          else {
            this.hitMarker = true;
            byte = 0;
          }
        } else {
          this.pos++;
        }
      } else {
        this.hitMarker = true;
      }
      this.buffer = ((this.buffer << 8) | byte) >>> 0;
      this.count += 8;
    }
  }

  bits(n: number): number {
    if (n === 0) return 0;
    if (this.count < n) this.fill();
    this.count -= n;
    return (this.buffer >>> this.count) & ((1 << n) - 1);
  }

  bit(): number {
    return this.bits(1);
  }

  decode(table: HuffmanTable): number {
    if (this.count < 16) this.fill();
    const peek = (this.buffer >>> (this.count - LOOKAHEAD)) & ((1 << LOOKAHEAD) - 1);
    const entry = table.lookup[peek];
    if (entry !== 0) {
      this.count -= entry >> 8;
      return entry & 0xff;
    }
    // slow path (jpeg_huff_decode): extend the code one bit at a time past the lookahead
    let len = LOOKAHEAD;
    let code = peek;
    this.count -= LOOKAHEAD;
    while (code > table.maxcode[len]) {
      code = (code << 1) | this.bits(1);
      len++;
      if (len > 16) throw new JpegDataError('corrupt Huffman-coded data');
    }
    return table.values[table.valptr[len] + code - table.mincode[len]] ?? 0;
  }
}

/** HUFF_EXTEND: the s-bit value r as a signed coefficient difference. */
function extend(r: number, s: number): number {
  return r < 1 << (s - 1) ? r + (-1 << s) + 1 : r;
}

/** Decodes; null when the file uses features this decoder leaves to jpeg-js. Throws JpegDataError on bad data. */
export function decodeJpegExact(data: Uint8Array): DecodedJpeg | null {
  const quant: Array<Int32Array | undefined> = [];
  const dcTables: Array<HuffmanTable | undefined> = [];
  const acTables: Array<HuffmanTable | undefined> = [];
  let frame: Frame | null = null;
  let restartInterval = 0;
  let jfif = false;
  let adobeTransform: number | null = null;
  let eobrun = 0;

  const u16 = (p: number) => {
    if (p + 2 > data.length) throw new JpegDataError('the file ends inside a header');
    return (data[p] << 8) | data[p + 1];
  };
  let pos = 2;
  for (;;) {
    // the same walk as readJpegStructure, which decodeImage checks first (skips fill bytes and stray scan data)
    pos = nextMarker(data, pos);
    if (pos < 0) throw new JpegDataError('no end-of-image marker');
    const marker = data[pos - 1];
    if (marker === 0xd9) break; // EOI
    if (isStandaloneMarker(marker)) continue;
    const length = u16(pos);
    const end = pos + length;
    if (length < 2 || end > data.length) throw new JpegDataError(`segment ${marker.toString(16)} runs past the end of the file`);
    const seg = pos + 2;
    switch (marker) {
      case 0xe0:
        // libjpeg's examine_app0 wants the full 14-byte JFIF header
        if (length - 2 >= 14 && data[seg] === 0x4a && data[seg + 1] === 0x46 && data[seg + 2] === 0x49 && data[seg + 3] === 0x46 && data[seg + 4] === 0) jfif = true;
        break;
      case 0xee:
        if (length - 2 >= 12 && data[seg] === 0x41 && data[seg + 1] === 0x64 && data[seg + 2] === 0x6f && data[seg + 3] === 0x62 && data[seg + 4] === 0x65) {
          adobeTransform = data[seg + 11];
        }
        break;
      case 0xdb: {
        let p = seg;
        while (p < end) {
          const pq = data[p] >> 4;
          const tq = data[p] & 15;
          p++;
          if (tq > 3) throw new JpegDataError('bad quantization table id');
          const table = new Int32Array(64);
          for (let k = 0; k < 64; k++) {
            table[NATURAL_ORDER[k]] = pq ? u16(p + 2 * k) : data[p + k];
          }
          p += pq ? 128 : 64;
          quant[tq] = table;
        }
        break;
      }
      case 0xc4: {
        let p = seg;
        while (p < end) {
          const tc = data[p] >> 4;
          const th = data[p] & 15;
          if (th > 3 || tc > 1) throw new JpegDataError('bad Huffman table id');
          const counts = data.subarray(p + 1, p + 17);
          let total = 0;
          for (const c of counts) total += c;
          if (p + 17 + total > end || total > 256) throw new JpegDataError('bad Huffman table');
          const table = buildHuffmanTable(counts, data.subarray(p + 17, p + 17 + total));
          (tc === 0 ? dcTables : acTables)[th] = table;
          p += 17 + total;
        }
        break;
      }
      case 0xdd:
        restartInterval = u16(seg);
        break;
      case 0xc0:
      case 0xc1:
      case 0xc2: {
        // a second frame would be decoded over the first at its own (unchecked) size
        if (frame) throw new JpegDataError('a second frame header (SOF)');
        if (data[seg] !== 8) return null; // 12-bit
        frame = readFrame(data, seg, marker === 0xc2);
        if (!frame) return null;
        break;
      }
      case 0xda: {
        if (!frame) throw new JpegDataError('image data before the frame header');
        const n = data[seg];
        const scanComponents: Component[] = [];
        for (let i = 0; i < n; i++) {
          const id = data[seg + 1 + 2 * i];
          const comp = frame.components.find((c) => c.id === id);
          if (!comp) throw new JpegDataError('scan refers to an unknown component');
          comp.dcTable = data[seg + 2 + 2 * i] >> 4;
          comp.acTable = data[seg + 2 + 2 * i] & 15;
          scanComponents.push(comp);
        }
        const q = seg + 1 + 2 * n;
        const ss = data[q];
        const se = data[q + 1];
        const ah = data[q + 2] >> 4;
        const al = data[q + 2] & 15;
        if (frame.progressive && (se > 63 || ss > se || (ss === 0 && se !== 0) || (ss > 0 && n !== 1))) {
          throw new JpegDataError('bad progressive scan parameters');
        }
        const reader = new BitReader(data, end);
        eobrun = 0;
        decodeScan(frame, scanComponents, reader, { ss, se, ah, al }, restartInterval, dcTables, acTables, () => eobrun, (v) => (eobrun = v));
        pos = reader.pos;
        continue;
      }
      default:
        if (marker >= 0xc3 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return null; // lossless / arithmetic
        break; // APPn, COM and others are skipped
    }
    pos = end;
  }
  if (!frame) throw new JpegDataError('no frame header');
  return output(frame, quant, jfif, adobeTransform);
}

function readFrame(data: Uint8Array, seg: number, progressive: boolean): Frame | null {
  const height = (data[seg + 1] << 8) | data[seg + 2];
  const width = (data[seg + 3] << 8) | data[seg + 4];
  const n = data[seg + 5];
  if (width === 0 || height === 0) throw new JpegDataError('zero image size');
  if (n !== 1 && n !== 3) return null; // CMYK / YCCK / two-channel: jpeg-js
  const components: Component[] = [];
  for (let i = 0; i < n; i++) {
    const p = seg + 6 + 3 * i;
    const h = data[p + 1] >> 4;
    const v = data[p + 1] & 15;
    if (h < 1 || h > 4 || v < 1 || v > 4) throw new JpegDataError('bad sampling factors');
    components.push({
      id: data[p], h, v, tq: data[p + 2], width: 0, height: 0, blocksWide: 0, blocksHigh: 0,
      blocksPerLine: 0, blocksPerColumn: 0, coefficients: new Int16Array(0), dcTable: 0, acTable: 0, dcPred: 0,
    });
  }
  // a single-component image is never interleaved: its sampling factors do not matter
  if (n === 1) components[0].h = components[0].v = 1;
  const maxH = Math.max(...components.map((c) => c.h));
  const maxV = Math.max(...components.map((c) => c.v));
  const mcusPerLine = Math.ceil(width / (8 * maxH));
  const mcusPerColumn = Math.ceil(height / (8 * maxV));
  for (const c of components) {
    c.width = Math.ceil((width * c.h) / maxH);
    c.height = Math.ceil((height * c.v) / maxV);
    c.blocksWide = Math.ceil(c.width / 8);
    c.blocksHigh = Math.ceil(c.height / 8);
    c.blocksPerLine = mcusPerLine * c.h;
    c.blocksPerColumn = mcusPerColumn * c.v;
    c.coefficients = new Int16Array(c.blocksPerLine * c.blocksPerColumn * 64);
  }
  return { progressive, width, height, components, maxH, maxV, mcusPerLine, mcusPerColumn };
}

interface ScanParams {
  ss: number;
  se: number;
  ah: number;
  al: number;
}

function decodeScan(
  frame: Frame,
  comps: Component[],
  reader: BitReader,
  { ss, se, ah, al }: ScanParams,
  restartInterval: number,
  dcTables: Array<HuffmanTable | undefined>,
  acTables: Array<HuffmanTable | undefined>,
  getEobrun: () => number,
  setEobrun: (v: number) => void,
): void {
  const table = (tables: Array<HuffmanTable | undefined>, i: number) => {
    const t = tables[i];
    if (!t) throw new JpegDataError('scan uses an undefined Huffman table');
    return t;
  };
  const p1 = 1 << al;
  const m1 = -1 << al;
  let eobrun = getEobrun();

  type BlockDecoder = (c: Component, offset: number) => void;
  let decodeBlock: BlockDecoder;
  const coefOf = (c: Component) => c.coefficients;

  if (!frame.progressive) {
    decodeBlock = (c, off) => {
      const dc = table(dcTables, c.dcTable);
      const ac = table(acTables, c.acTable);
      const block = coefOf(c);
      const s = reader.decode(dc);
      const diff = s ? extend(reader.bits(s), s) : 0;
      c.dcPred += diff;
      block[off] = c.dcPred;
      for (let k = 1; k < 64; k++) {
        const rs = reader.decode(ac);
        const r = rs >> 4;
        const size = rs & 15;
        if (size) {
          k += r;
          block[off + NATURAL_ORDER[k]] = extend(reader.bits(size), size);
        } else {
          if (r !== 15) break;
          k += 15;
        }
      }
    };
  } else if (ss === 0) {
    decodeBlock =
      ah === 0
        ? (c, off) => {
            const s = reader.decode(table(dcTables, c.dcTable));
            const diff = s ? extend(reader.bits(s), s) : 0;
            c.dcPred += diff;
            coefOf(c)[off] = c.dcPred * p1; // LEFT_SHIFT(s, Al), stored as a 16-bit JCOEF
          }
        : (c, off) => {
            if (reader.bit()) coefOf(c)[off] |= p1;
          };
  } else if (ah === 0) {
    decodeBlock = (c, off) => {
      if (eobrun > 0) {
        eobrun--;
        return;
      }
      const ac = table(acTables, c.acTable);
      const block = coefOf(c);
      for (let k = ss; k <= se; k++) {
        const rs = reader.decode(ac);
        const r = rs >> 4;
        const s = rs & 15;
        if (s) {
          k += r;
          block[off + NATURAL_ORDER[k]] = extend(reader.bits(s), s) * p1;
        } else if (r === 15) {
          k += 15;
        } else {
          eobrun = 1 << r;
          if (r) eobrun += reader.bits(r);
          eobrun--;
          break;
        }
      }
    };
  } else {
    decodeBlock = (c, off) => {
      const block = coefOf(c);
      let k = ss;
      if (eobrun === 0) {
        const ac = table(acTables, c.acTable);
        for (; k <= se; k++) {
          const rs = reader.decode(ac);
          let r = rs >> 4;
          let s = rs & 15;
          if (s) {
            s = reader.bit() ? p1 : m1;
          } else if (r !== 15) {
            eobrun = 1 << r;
            if (r) eobrun += reader.bits(r);
            break;
          }
          do {
            const at = off + NATURAL_ORDER[k];
            const coef = block[at];
            if (coef !== 0) {
              if (reader.bit() && (coef & p1) === 0) block[at] = coef >= 0 ? coef + p1 : coef + m1;
            } else if (--r < 0) {
              break;
            }
            k++;
          } while (k <= se);
          if (s) block[off + NATURAL_ORDER[k]] = s;
        }
      }
      if (eobrun > 0) {
        for (; k <= se; k++) {
          const at = off + NATURAL_ORDER[k];
          const coef = block[at];
          if (coef !== 0 && reader.bit() && (coef & p1) === 0) block[at] = coef >= 0 ? coef + p1 : coef + m1;
        }
        eobrun--;
      }
    };
  }

  const restart = () => {
    // byte-align, step over RSTn, reset the DC predictors and the EOB run
    reader.restart();
    for (const c of frame.components) c.dcPred = 0;
    eobrun = 0;
  };
  for (const c of frame.components) c.dcPred = 0;

  let mcu = 0;
  if (comps.length === 1) {
    // non-interleaved: one block per MCU, real blocks only
    const c = comps[0];
    for (let by = 0; by < c.blocksHigh; by++) {
      for (let bx = 0; bx < c.blocksWide; bx++) {
        if (restartInterval && mcu > 0 && mcu % restartInterval === 0) restart();
        decodeBlock(c, (by * c.blocksPerLine + bx) * 64);
        mcu++;
      }
    }
  } else {
    for (let my = 0; my < frame.mcusPerColumn; my++) {
      for (let mx = 0; mx < frame.mcusPerLine; mx++) {
        if (restartInterval && mcu > 0 && mcu % restartInterval === 0) restart();
        for (const c of comps) {
          for (let v = 0; v < c.v; v++) {
            for (let h = 0; h < c.h; h++) {
              decodeBlock(c, ((my * c.v + v) * c.blocksPerLine + mx * c.h + h) * 64);
            }
          }
        }
        mcu++;
      }
    }
  }
  setEobrun(eobrun);
}

// ---------------------------------------------------------------------------------------------------------
// jidctint.c: jpeg_idct_islow

const CONST_BITS = 13;
const PASS1_BITS = 2;
const FIX_0_298631336 = 2446;
const FIX_0_390180644 = 3196;
const FIX_0_541196100 = 4433;
const FIX_0_765366865 = 6270;
const FIX_0_899976223 = 7373;
const FIX_1_175875602 = 9633;
const FIX_1_501321110 = 12299;
const FIX_1_847759065 = 15137;
const FIX_1_961570560 = 16069;
const FIX_2_053119869 = 16819;
const FIX_2_562915447 = 20995;
const FIX_3_072711026 = 25172;

/**
 * The IDCT's range limit table (prepare_range_limit_table, centred): index (value & 1023) for a value that is
 * the sample minus 128; clamps to 0..255 within ±512 and wraps beyond, exactly like libjpeg.
 */
const IDCT_RANGE_LIMIT = (() => {
  const t = new Uint8Array(1024);
  for (let i = 0; i < 128; i++) t[i] = i + 128;
  for (let i = 128; i < 512; i++) t[i] = 255;
  // 512..895 stay 0
  for (let i = 896; i < 1024; i++) t[i] = i - 896;
  return t;
})();

/** DESCALE: x / 2^n rounded, on values that may exceed 32 bits (libjpeg uses 64-bit JLONG). */
function descale(x: number, n: number): number {
  return Math.floor((x + 2 ** (n - 1)) / 2 ** n);
}

function idctIslow(coef: Int16Array, off: number, q: Int32Array, ws: Int32Array, out: Uint8Array, outOff: number, stride: number): void {
  // pass 1: columns
  for (let col = 0; col < 8; col++) {
    const c = off + col;
    if (coef[c + 8] === 0 && coef[c + 16] === 0 && coef[c + 24] === 0 && coef[c + 32] === 0 && coef[c + 40] === 0 && coef[c + 48] === 0 && coef[c + 56] === 0) {
      const dc = coef[c] * q[col] * 4; // LEFT_SHIFT(DEQUANTIZE(dc), PASS1_BITS)
      for (let r = 0; r < 8; r++) ws[r * 8 + col] = dc;
      continue;
    }
    let z2 = coef[c + 16] * q[col + 16];
    let z3 = coef[c + 48] * q[col + 48];
    let z1 = (z2 + z3) * FIX_0_541196100;
    let tmp2 = z1 + z3 * -FIX_1_847759065;
    let tmp3 = z1 + z2 * FIX_0_765366865;
    z2 = coef[c] * q[col];
    z3 = coef[c + 32] * q[col + 32];
    let tmp0 = (z2 + z3) * 8192;
    let tmp1 = (z2 - z3) * 8192;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    tmp0 = coef[c + 56] * q[col + 56];
    tmp1 = coef[c + 40] * q[col + 40];
    tmp2 = coef[c + 24] * q[col + 24];
    tmp3 = coef[c + 8] * q[col + 8];
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * FIX_1_175875602;
    tmp0 *= FIX_0_298631336;
    tmp1 *= FIX_2_053119869;
    tmp2 *= FIX_3_072711026;
    tmp3 *= FIX_1_501321110;
    z1 *= -FIX_0_899976223;
    z2 *= -FIX_2_562915447;
    z3 = z3 * -FIX_1_961570560 + z5;
    z4 = z4 * -FIX_0_390180644 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    const n = CONST_BITS - PASS1_BITS;
    ws[col] = descale(tmp10 + tmp3, n);
    ws[56 + col] = descale(tmp10 - tmp3, n);
    ws[8 + col] = descale(tmp11 + tmp2, n);
    ws[48 + col] = descale(tmp11 - tmp2, n);
    ws[16 + col] = descale(tmp12 + tmp1, n);
    ws[40 + col] = descale(tmp12 - tmp1, n);
    ws[24 + col] = descale(tmp13 + tmp0, n);
    ws[32 + col] = descale(tmp13 - tmp0, n);
  }
  // pass 2: rows
  const n = CONST_BITS + PASS1_BITS + 3;
  for (let row = 0; row < 8; row++) {
    const w = row * 8;
    const o = outOff + row * stride;
    if (ws[w + 1] === 0 && ws[w + 2] === 0 && ws[w + 3] === 0 && ws[w + 4] === 0 && ws[w + 5] === 0 && ws[w + 6] === 0 && ws[w + 7] === 0) {
      const dc = IDCT_RANGE_LIMIT[descale(ws[w], PASS1_BITS + 3) & 1023];
      for (let i = 0; i < 8; i++) out[o + i] = dc;
      continue;
    }
    let z2 = ws[w + 2];
    let z3 = ws[w + 6];
    let z1 = (z2 + z3) * FIX_0_541196100;
    let tmp2 = z1 + z3 * -FIX_1_847759065;
    let tmp3 = z1 + z2 * FIX_0_765366865;
    let tmp0 = (ws[w] + ws[w + 4]) * 8192;
    let tmp1 = (ws[w] - ws[w + 4]) * 8192;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    tmp0 = ws[w + 7];
    tmp1 = ws[w + 5];
    tmp2 = ws[w + 3];
    tmp3 = ws[w + 1];
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * FIX_1_175875602;
    tmp0 *= FIX_0_298631336;
    tmp1 *= FIX_2_053119869;
    tmp2 *= FIX_3_072711026;
    tmp3 *= FIX_1_501321110;
    z1 *= -FIX_0_899976223;
    z2 *= -FIX_2_562915447;
    z3 = z3 * -FIX_1_961570560 + z5;
    z4 = z4 * -FIX_0_390180644 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    out[o] = IDCT_RANGE_LIMIT[descale(tmp10 + tmp3, n) & 1023];
    out[o + 7] = IDCT_RANGE_LIMIT[descale(tmp10 - tmp3, n) & 1023];
    out[o + 1] = IDCT_RANGE_LIMIT[descale(tmp11 + tmp2, n) & 1023];
    out[o + 6] = IDCT_RANGE_LIMIT[descale(tmp11 - tmp2, n) & 1023];
    out[o + 2] = IDCT_RANGE_LIMIT[descale(tmp12 + tmp1, n) & 1023];
    out[o + 5] = IDCT_RANGE_LIMIT[descale(tmp12 - tmp1, n) & 1023];
    out[o + 3] = IDCT_RANGE_LIMIT[descale(tmp13 + tmp0, n) & 1023];
    out[o + 4] = IDCT_RANGE_LIMIT[descale(tmp13 - tmp0, n) & 1023];
  }
}

/** A component's samples after the IDCT: `stride` wide, real size width x height. */
interface Plane {
  data: Uint8Array;
  stride: number;
  width: number;
  height: number;
}

function componentPlane(c: Component, q: Int32Array): Plane {
  const stride = c.blocksPerLine * 8;
  const data = new Uint8Array(stride * c.blocksPerColumn * 8);
  const ws = new Int32Array(64);
  // only real blocks are transformed, as libjpeg's coefficient controller does
  for (let by = 0; by < c.blocksHigh; by++) {
    for (let bx = 0; bx < c.blocksWide; bx++) {
      idctIslow(c.coefficients, (by * c.blocksPerLine + bx) * 64, q, ws, data, by * 8 * stride + bx * 8, stride);
    }
  }
  return { data, stride, width: c.width, height: c.height };
}

// ---------------------------------------------------------------------------------------------------------
// jdsample.c: upsampling to the image size (fancy where libjpeg uses it, replication otherwise)

function upsample(p: Plane, hExpand: number, vExpand: number, outW: number, outH: number): Uint8Array {
  const out = new Uint8Array(outW * outH);
  if (hExpand === 1 && vExpand === 1) {
    for (let y = 0; y < outH; y++) out.set(p.data.subarray(y * p.stride, y * p.stride + outW), y * outW);
    return out;
  }
  const fancy = p.width > 2;
  const row = (r: number) => Math.min(Math.max(r, 0), p.height - 1) * p.stride; // context rows replicate the edge rows
  const wide = Math.max(outW, p.width * hExpand);
  const line = new Uint8Array(wide);
  const put = (y: number) => out.set(line.subarray(0, outW), y * outW);
  if (hExpand === 2 && vExpand === 1 && fancy) {
    for (let y = 0; y < outH; y++) {
      const s = row(y);
      const d = p.data;
      let o = 0;
      let v = d[s];
      line[o++] = v;
      line[o++] = (v * 3 + d[s + 1] + 2) >> 2;
      for (let x = 1; x < p.width - 1; x++) {
        v = d[s + x] * 3;
        line[o++] = (v + d[s + x - 1] + 1) >> 2;
        line[o++] = (v + d[s + x + 1] + 2) >> 2;
      }
      v = d[s + p.width - 1];
      line[o++] = (v * 3 + d[s + p.width - 2] + 1) >> 2;
      line[o++] = v;
      put(y);
    }
    return out;
  }
  if (hExpand === 1 && vExpand === 2) {
    // h1v2_fancy_upsample (libjpeg-turbo applies it regardless of width)
    for (let y = 0; y < outH; y++) {
      const inRow = y >> 1;
      const near = row(inRow);
      const far = row(y & 1 ? inRow + 1 : inRow - 1);
      const bias = y & 1 ? 2 : 1;
      for (let x = 0; x < p.width; x++) line[x] = (p.data[near + x] * 3 + p.data[far + x] + bias) >> 2;
      put(y);
    }
    return out;
  }
  if (hExpand === 2 && vExpand === 2 && fancy) {
    const d = p.data;
    for (let y = 0; y < outH; y++) {
      const inRow = y >> 1;
      const s0 = row(inRow);
      const s1 = row(y & 1 ? inRow + 1 : inRow - 1);
      let o = 0;
      let thiscolsum = d[s0] * 3 + d[s1];
      let nextcolsum = d[s0 + 1] * 3 + d[s1 + 1];
      line[o++] = (thiscolsum * 4 + 8) >> 4;
      line[o++] = (thiscolsum * 3 + nextcolsum + 7) >> 4;
      let lastcolsum = thiscolsum;
      thiscolsum = nextcolsum;
      for (let x = 2; x < p.width; x++) {
        nextcolsum = d[s0 + x] * 3 + d[s1 + x];
        line[o++] = (thiscolsum * 3 + lastcolsum + 8) >> 4;
        line[o++] = (thiscolsum * 3 + nextcolsum + 7) >> 4;
        lastcolsum = thiscolsum;
        thiscolsum = nextcolsum;
      }
      line[o++] = (thiscolsum * 3 + lastcolsum + 8) >> 4;
      line[o++] = (thiscolsum * 4 + 7) >> 4;
      put(y);
    }
    return out;
  }
  // int_upsample / h2v1_upsample / h2v2_upsample: plain replication
  for (let y = 0; y < outH; y++) {
    const s = Math.floor(y / vExpand) * p.stride;
    for (let x = 0; x < outW; x++) line[x] = p.data[s + Math.floor(x / hExpand)];
    put(y);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// jdcolor.c: YCbCr → RGB with libjpeg's integer tables

const SCALEBITS = 16;
const ONE_HALF = 1 << (SCALEBITS - 1);
const fix = (x: number) => Math.floor(x * (1 << SCALEBITS) + 0.5);
const CR_R = new Int32Array(256);
const CB_B = new Int32Array(256);
const CR_G = new Float64Array(256);
const CB_G = new Float64Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  CR_R[i] = Math.floor((fix(1.402) * x + ONE_HALF) / 65536);
  CB_B[i] = Math.floor((fix(1.772) * x + ONE_HALF) / 65536);
  CR_G[i] = -fix(0.71414) * x;
  CB_G[i] = -fix(0.34414) * x + ONE_HALF;
}

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function output(frame: Frame, quant: Array<Int32Array | undefined>, jfif: boolean, adobeTransform: number | null): DecodedJpeg | null {
  const { width, height, components } = frame;
  const planes = components.map((c) => {
    const q = quant[c.tq];
    if (!q) throw new JpegDataError('component uses an undefined quantization table');
    const hExpand = frame.maxH / c.h;
    const vExpand = frame.maxV / c.v;
    if (!Number.isInteger(hExpand) || !Number.isInteger(vExpand)) return null;
    return upsample(componentPlane(c, q), hExpand, vExpand, width, height);
  });
  if (planes.some((p) => p === null)) return null; // fractional sampling ratios: jpeg-js
  const pixels = width * height;
  if (components.length === 1) return { width, height, channels: 1, data: planes[0]! };
  // jdapimin.c default_decompress_parms: which colour space three components are in
  const ids = components.map((c) => c.id);
  const isRgb = jfif ? false : adobeTransform !== null ? adobeTransform === 0 : ids[0] === 82 && ids[1] === 71 && ids[2] === 66;
  const [y, cb, cr] = planes as Uint8Array[];
  const out = new Uint8Array(pixels * 3);
  if (isRgb) {
    for (let i = 0; i < pixels; i++) {
      out[i * 3] = y[i];
      out[i * 3 + 1] = cb[i];
      out[i * 3 + 2] = cr[i];
    }
  } else {
    for (let i = 0; i < pixels; i++) {
      const Y = y[i];
      const b = cb[i];
      const r = cr[i];
      out[i * 3] = clamp255(Y + CR_R[r]);
      out[i * 3 + 1] = clamp255(Y + Math.floor((CB_G[b] + CR_G[r]) / 65536));
      out[i * 3 + 2] = clamp255(Y + CB_B[b]);
    }
  }
  return { width, height, channels: 3, data: out };
}
