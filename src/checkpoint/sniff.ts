/**
 * Tells the three checkpoint formats apart from their first bytes, so that a file is read by the right reader
 * whatever its extension says.
 */
import * as fs from 'fs';
import { BUFFER_LABEL, CheckpointError } from './raw_tensor';

/** A checkpoint's container: torch.save zip, legacy (pre-1.6) pickle, or safetensors. */
export type CheckpointFormat = 'zip' | 'legacy' | 'safetensors';

/** Enough to see a pickle's PROTO + FRAME + LONG1 magic number, and a safetensors length + '{'. */
const SNIFF_LENGTH = 32;
const ZIP_LOCAL_HEADER = Buffer.from('PK\x03\x04', 'latin1');
/** torch.save's legacy format starts with the pickled int 0x1950a86a20f9469cfc6c: LONG1, 10 bytes, little-endian. */
const LEGACY_MAGIC = Buffer.from([0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);
const PICKLE_PROTO = 0x80;
const PICKLE_FRAME = 0x95;
/** The safetensors reference implementation refuses headers above 100 MB; so do we. */
export const SAFETENSORS_MAX_HEADER_SIZE = 100_000_000;
const OPEN_BRACE = 0x7b;

function readFirstBytes(file: string): Buffer {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(SNIFF_LENGTH);
    const length = fs.readSync(fd, head, 0, SNIFF_LENGTH, 0);
    return head.subarray(0, length);
  } catch (err) {
    throw new CheckpointError(file, `could not be read: ${(err as Error).message}`, { cause: err });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function isLegacyPickle(head: Buffer): boolean {
  if (head[0] !== PICKLE_PROTO || head.length < 2) return false;
  let at = 2;
  if (head[at] === PICKLE_FRAME) at += 9;
  return head.subarray(at, at + LEGACY_MAGIC.length).equals(LEGACY_MAGIC);
}

function isSafetensors(head: Buffer): boolean {
  if (head.length < 10 || head[8] !== OPEN_BRACE) return false;
  const headerLength = head.readBigUInt64LE(0);
  return headerLength >= 2n && headerLength <= BigInt(SAFETENSORS_MAX_HEADER_SIZE);
}

/** Which reader a checkpoint needs, from its magic bytes; throws a CheckpointError naming the file otherwise. */
export function sniffCheckpointFormat(source: string | Buffer, label?: string): CheckpointFormat {
  const file = label ?? (typeof source === 'string' ? source : BUFFER_LABEL);
  const head = typeof source === 'string' ? readFirstBytes(source) : source.subarray(0, SNIFF_LENGTH);
  if (head.subarray(0, 4).equals(ZIP_LOCAL_HEADER)) return 'zip';
  if (isLegacyPickle(head)) return 'legacy';
  if (isSafetensors(head)) return 'safetensors';
  const detail = head.length === 0 ? 'the file is empty' : `it starts with bytes ${head.subarray(0, 8).toString('hex').replace(/(..)(?!$)/g, '$1 ')}`;
  throw CheckpointError.notACheckpoint(file, detail);
}
