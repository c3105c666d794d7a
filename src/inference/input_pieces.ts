/**
 * Big translate inputs cross to the generator's worker in pieces, one piece per event-loop turn of the caller.
 *
 * Why: the caller keeps its bytes, so they are copied, and postMessage's serializer copies about 1 MB per ms on
 * the posting thread (measured on the 2-core test machine: ~50 ms of this thread's CPU for a 45 MB PNG Buffer,
 * ~110 ms for 100 MB), which would stall the host's event loop for the whole copy. A piece is copied with
 * slice() (a memcpy) and transferred, so each turn costs about a ms whatever the input's size. Measured for a
 * 64 MB Buffer, interleaved, 3 rounds: a 10 ms timer's worst lateness from this thread's work 68-81 ms posted
 * whole, 9-11 ms in 4 MB pieces, 5-6 ms in 1 MB pieces.
 */
import type { RawPixels, TranslateInput } from './translate_job';

/** Inputs with more bytes than this go in pieces of this size. */
export const PIECE_BYTES = 1 << 20;

type PixelArray = RawPixels['data'];
type ArrayKind = 'uint8' | 'uint8clamped' | 'uint16';

/** Stands for the input in the translate request; the pieces follow as separate messages. */
export interface InPieces {
  inPieces: { byteLength: number; count: number; array: ArrayKind; raw?: { width: number; height: number; channels: RawPixels['channels'] } };
}

/** The bytes of an input that would be copied when posted (null for a path, which costs nothing to post). */
function bytesOf(input: TranslateInput): PixelArray | null {
  if (input instanceof Uint8Array) return input;
  if (input && typeof input === 'object' && 'data' in input && ArrayBuffer.isView(input.data)) return input.data;
  return null;
}

/** The request's stand-in and the pieces of `input`, or null when it is small enough to post whole. */
export function splitInput(input: TranslateInput): { head: InPieces; pieces(): Generator<Uint8Array> } | null {
  const data = bytesOf(input);
  if (!data || data.byteLength <= PIECE_BYTES) return null;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const array: ArrayKind = data instanceof Uint16Array ? 'uint16' : data instanceof Uint8ClampedArray ? 'uint8clamped' : 'uint8';
  const raw = input instanceof Uint8Array ? undefined : { width: (input as RawPixels).width, height: (input as RawPixels).height, channels: (input as RawPixels).channels };
  return {
    head: { inPieces: { byteLength: bytes.byteLength, count: Math.ceil(bytes.byteLength / PIECE_BYTES), array, raw } },
    *pieces() { for (let at = 0; at < bytes.byteLength; at += PIECE_BYTES) yield bytes.slice(at, at + PIECE_BYTES); },
  };
}

export function isInPieces(input: unknown): input is InPieces {
  return typeof input === 'object' && input !== null && 'inPieces' in input;
}

/** The worker's side: collects the pieces of one input and rebuilds it once the last has come. */
export class PieceCollector {
  private readonly bytes: Uint8Array;
  private received = 0;
  private offset = 0;

  constructor(private readonly head: InPieces['inPieces']) {
    this.bytes = new Uint8Array(head.byteLength);
  }

  /** Adds the next piece; returns the whole input after the last one, else null. */
  add(piece: Uint8Array): TranslateInput | null {
    this.bytes.set(piece, this.offset);
    this.offset += piece.byteLength;
    if (++this.received < this.head.count) return null;
    const { array, raw } = this.head;
    const buffer = this.bytes.buffer;
    const data: PixelArray = array === 'uint16' ? new Uint16Array(buffer) : array === 'uint8clamped' ? new Uint8ClampedArray(buffer) : this.bytes;
    return raw ? { data, ...raw } : this.bytes;
  }
}
