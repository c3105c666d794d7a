/**
 * The marker structure of a whole JPEG, walked the way the decoders walk it (segments skipped by their length,
 * entropy-coded data skipped to the next real marker), without decoding anything. decodeImage checks it before
 * a decoder allocates: exactly one frame, of the size the header probe saw, and a bounded amount of scan work,
 * so that a small file cannot make a decoder walk a hidden huge frame or the same frame hundreds of times.
 */

export interface JpegFrameInfo {
  marker: number;
  /** Byte offset of the marker. */
  offset: number;
  precision: number;
  width: number;
  height: number;
  /** Component ids with their sampling factors. */
  components: { id: number; h: number; v: number }[];
}

export interface JpegScanInfo {
  offset: number;
  componentIds: number[];
  ss: number;
  se: number;
  ah: number;
  al: number;
  /** Bytes of entropy-coded data after the scan header, up to the next marker that is not RSTn or a stuffed FF 00. */
  dataBytes: number;
}

export interface JpegStructure {
  frames: JpegFrameInfo[];
  scans: JpegScanInfo[];
  /** True when an end-of-image marker was reached (false: the file ends first). */
  complete: boolean;
}

/** Standalone markers (no length): TEM, RSTn, SOI; 0x00 is a stuffed byte of scan data left unread. */
export function isStandaloneMarker(marker: number): boolean {
  return marker === 0x00 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8);
}

/** Start-of-frame markers (SOF0..SOF15 minus DHT C4, JPG C8, DAC CC) carry the frame size. */
export function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/**
 * Position just after the next marker byte at or after `pos` (garbage and 0xFF fill bytes are skipped, as
 * libjpeg's next_marker does), or -1 at the end of the data. The marker itself is data[result - 1].
 */
export function nextMarker(data: Uint8Array, pos: number): number {
  while (pos < data.length && data[pos] !== 0xff) pos++;
  while (pos < data.length && data[pos] === 0xff) pos++;
  return pos < data.length ? pos + 1 : -1;
}

/** Walks every marker up to EOI. Throws a plain Error for a segment that runs past the end of the file. */
export function readJpegStructure(data: Uint8Array): JpegStructure {
  const frames: JpegFrameInfo[] = [];
  const scans: JpegScanInfo[] = [];
  let pos = 2;
  let open: { scan: JpegScanInfo; start: number } | null = null; // the scan whose entropy-coded data is being walked
  for (;;) {
    const after = nextMarker(data, pos);
    const marker = after < 0 ? -1 : data[after - 1];
    if (open && marker !== 0x00 && !(marker >= 0xd0 && marker <= 0xd7)) {
      open.scan.dataBytes = (after < 0 ? data.length : after - 2) - open.start;
      open = null;
    }
    if (after < 0) return { frames, scans, complete: false };
    if (marker === 0xd9) return { frames, scans, complete: true };
    pos = after;
    if (isStandaloneMarker(marker)) continue;
    if (pos + 2 > data.length) return { frames, scans, complete: false };
    const length = (data[pos] << 8) | data[pos + 1];
    const end = pos + length;
    if (length < 2 || end > data.length) throw new Error(`segment ${marker.toString(16)} at byte ${after - 2} runs past the end of the file`);
    const seg = pos + 2;
    if (isStartOfFrame(marker) && length >= 8) {
      const n = data[seg + 5];
      const components = [];
      for (let i = 0; i < n && seg + 8 + 3 * i <= end; i++) {
        const p = seg + 6 + 3 * i;
        components.push({ id: data[p], h: data[p + 1] >> 4, v: data[p + 1] & 15 });
      }
      frames.push({
        marker, offset: after - 2, precision: data[seg], components,
        height: (data[seg + 1] << 8) | data[seg + 2], width: (data[seg + 3] << 8) | data[seg + 4],
      });
    } else if (marker === 0xda && length >= 3) {
      const n = data[seg];
      const componentIds: number[] = [];
      for (let i = 0; i < n; i++) componentIds.push(data[seg + 1 + 2 * i]);
      const q = seg + 1 + 2 * n;
      const scan = { offset: after - 2, componentIds, ss: data[q], se: data[q + 1], ah: data[q + 2] >> 4, al: data[q + 2] & 15, dataBytes: 0 };
      scans.push(scan);
      open = { scan, start: end };
    }
    // entropy-coded data after a scan header is skipped by nextMarker (FF 00 and RSTn are standalone)
    pos = end;
  }
}

/**
 * Fewest bytes a sequential Huffman scan can take: every 8x8 block of each of its components codes at least a DC
 * category and an end-of-block (or AC) code, and a Huffman code is at least one bit. A file whose scan data is
 * shorter cannot hold its declared frame, so it is refused before a decoder allocates the frame (a 50 KB file
 * declaring 7000x7000 used to decode for 4 s into 420 MB of filler). Arithmetic-coded frames (SOF9 and up), whose
 * blocks can take less than a bit, are not bounded here.
 */
export function minimumHuffmanScanBytes(frame: JpegFrameInfo, scan: JpegScanInfo): number {
  if (frame.marker !== 0xc0 && frame.marker !== 0xc1) return 0;
  const hMax = Math.max(1, ...frame.components.map((c) => c.h)), vMax = Math.max(1, ...frame.components.map((c) => c.v));
  let blocks = 0;
  for (const id of scan.componentIds) {
    const c = frame.components.find((k) => k.id === id);
    if (!c) continue;
    blocks += Math.ceil(Math.ceil((frame.width * c.h) / hMax) / 8) * Math.ceil(Math.ceil((frame.height * c.v) / vMax) / 8);
  }
  return Math.floor((blocks * 2) / 8);
}

/**
 * Scan work allowed for a progressive JPEG, in passes over all of its blocks. libjpeg's standard progression
 * (jpegtran, cjpeg -progressive) takes 4 to 6; a file may ask for up to this much before it is refused.
 */
export const MAX_PROGRESSIVE_PASSES = 16;

/**
 * What is wrong with the structure for decoding (null when it is fine): the frame count, a frame that is not
 * the probed one, repeated scans in a sequential file, or more scan work than MAX_PROGRESSIVE_PASSES.
 */
export function jpegStructureProblem(s: JpegStructure, probed: { width: number; height: number }): string | null {
  if (s.frames.length !== 1) {
    const at = s.frames.map((f) => `${f.width}x${f.height} at byte ${f.offset}`).join(', ');
    return `is not a supported JPEG: expected one frame header (SOF) but found ${s.frames.length}${at ? ` (${at})` : ''}`;
  }
  const frame = s.frames[0];
  if (frame.width !== probed.width || frame.height !== probed.height) {
    return `is a corrupt JPEG: its header says ${probed.width}x${probed.height} but its frame is ${frame.width}x${frame.height}`;
  }
  const progressive = frame.marker === 0xc2 || frame.marker === 0xc6 || frame.marker === 0xca || frame.marker === 0xce;
  if (!progressive) {
    // a sequential file codes each component in exactly one scan (libjpeg refuses more)
    const seen = new Set<number>();
    for (const scan of s.scans) {
      for (const id of scan.componentIds) {
        if (seen.has(id)) return `is a corrupt JPEG: component ${id} is coded by a second scan at byte ${scan.offset} in a sequential (baseline) file`;
        seen.add(id);
      }
      const need = minimumHuffmanScanBytes(frame, scan);
      if (scan.dataBytes < need) {
        return `is truncated: its scan at byte ${scan.offset} has ${scan.dataBytes} bytes of data, and a ${frame.width}x${frame.height} ` +
          `frame needs at least ${need} (as PIL, a truncated JPEG is refused, not filled in)`;
      }
    }
    return null;
  }
  // one pass = every block of every component once; a scan of one component walks that component's share
  const share = new Map<number, number>();
  const total = frame.components.reduce((sum, c) => sum + c.h * c.v, 0) || 1;
  for (const c of frame.components) share.set(c.id, (c.h * c.v) / total);
  let passes = 0;
  for (const scan of s.scans) {
    for (const id of scan.componentIds) passes += share.get(id) ?? 0;
    if (passes > MAX_PROGRESSIVE_PASSES) {
      return `is not a supported JPEG: its ${s.scans.length} progressive scans walk the image more than ` +
        `${MAX_PROGRESSIVE_PASSES} times (a normal progressive file takes 4 to 6; re-save it)`;
    }
  }
  return null;
}
