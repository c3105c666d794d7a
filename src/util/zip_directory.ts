/**
 * The one ZIP central-directory reader: torch.save checkpoints (src/checkpoint/zip.ts, bytes in memory) and
 * CycleGAN dataset archives (src/util/archive.ts, files of gigabytes read through a descriptor) both list
 * their entries here.
 *
 * It trusts nothing: every offset and size is checked against the file before it is used, names are unique,
 * each local header must name its entry, entries may not overlap (overlap is how zip bombs fan one
 * compressed stream out to many files), and a deflated entry may not claim more than deflate can produce.
 * Problems are thrown as ZipFormatError; each caller turns it into its own error type (and code).
 */
import * as fs from 'fs';

/** The zip format's signatures and fixed sizes, shared with the writer (src/checkpoint/zip.ts). */
export const LOCAL_HEADER_SIGNATURE = 0x04034b50;
export const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
export const END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06054b50;
export const ZIP64_END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06064b50;
export const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;

export const LOCAL_HEADER_SIZE = 30;
export const CENTRAL_HEADER_SIZE = 46;
export const END_OF_CENTRAL_DIRECTORY_SIZE = 22;
export const ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE = 56;
export const ZIP64_LOCATOR_SIZE = 20;
/** The EOCD may be followed by a comment of at most 65535 bytes; it is searched for in that window. */
const MAX_COMMENT_SIZE = 0xffff;
export const ZIP64_EXTRA_ID = 0x0001;

export const FLAG_ENCRYPTED = 0x0001;
export const FLAG_UTF8_NAME = 0x0800;
export const METHOD_STORED = 0;
export const METHOD_DEFLATE = 8;
export const U16_MAX = 0xffff;
export const U32_MAX = 0xffffffff;
/** Deflate cannot expand data by more than about 1032:1; a larger claimed size is a zip bomb or garbage. */
export const MAX_DEFLATE_RATIO = 1032;
/** Slack for the ratio check on tiny entries (a few bytes of deflate can hold a block header and little else). */
const DEFLATE_RATIO_SLACK = 64;

/** How bad a problem is, as the start of the sentence "<file> <problem>: <detail>". */
export type ZipProblem = 'is truncated' | 'is damaged' | 'is truncated or damaged' | 'is refused';

export class ZipFormatError extends Error {
  constructor(
    readonly problem: ZipProblem,
    readonly detail: string,
  ) {
    super(`${problem}: ${detail}`);
    this.name = 'ZipFormatError';
  }
}

/** Random access to the archive's bytes. */
export interface ZipSource {
  readonly size: number;
  /** Up to `length` bytes from `position` (fewer only at the end of the file). */
  read(position: number, length: number): Buffer;
}

export function bufferSource(bytes: Buffer): ZipSource {
  return { size: bytes.length, read: (position, length) => bytes.subarray(position, position + length) };
}

export function descriptorSource(fd: number): ZipSource {
  const size = fs.fstatSync(fd).size;
  return {
    size,
    read(position, length) {
      const buf = Buffer.alloc(Math.max(0, Math.min(length, size - position)));
      let done = 0;
      while (done < buf.length) {
        const n = fs.readSync(fd, buf, done, buf.length - done, position + done);
        if (n === 0) break;
        done += n;
      }
      return buf.subarray(0, done);
    },
  };
}

/** One file of the archive, as its central directory describes it (all offsets already checked). */
export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  /** Where the entry's (possibly compressed) bytes start in the archive. */
  dataOffset: number;
  /** Upper byte: the system that made the entry (3 = Unix, whose mode bits are in externalAttributes >>> 16). */
  versionMadeBy: number;
  externalAttributes: number;
}

const damaged = (detail: string) => new ZipFormatError('is damaged', detail);

/** Reads a little-endian u64 that must be a usable file offset or size. */
function readSafeU64(bytes: Buffer, at: number, what: string): number {
  const value = bytes.readBigUInt64LE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw damaged(`Expected a plausible ${what} in its zip directory but received ${value}`);
  return Number(value);
}

function findEndOfCentralDirectory(source: ZipSource): { tail: Buffer; tailStart: number; at: number } {
  const tailStart = Math.max(0, source.size - END_OF_CENTRAL_DIRECTORY_SIZE - MAX_COMMENT_SIZE);
  const tail = source.read(tailStart, source.size - tailStart);
  for (let at = tail.length - END_OF_CENTRAL_DIRECTORY_SIZE; at >= 0; at--) {
    if (tail.readUInt32LE(at) !== END_OF_CENTRAL_DIRECTORY_SIGNATURE) continue;
    const commentLength = tail.readUInt16LE(at + 20);
    if (at + END_OF_CENTRAL_DIRECTORY_SIZE + commentLength <= tail.length) return { tail, tailStart, at };
  }
  throw new ZipFormatError(
    'is truncated or damaged',
    `Expected a zip end-of-central-directory record in its last bytes but received none ` +
      `(the file is ${source.size} bytes; was it copied or downloaded completely?)`,
  );
}

interface CentralDirectoryLocation {
  entryCount: number;
  offset: number;
  size: number;
}

function locateCentralDirectory(source: ZipSource): CentralDirectoryLocation {
  if (source.size < END_OF_CENTRAL_DIRECTORY_SIZE) {
    throw new ZipFormatError('is truncated', `Expected at least ${END_OF_CENTRAL_DIRECTORY_SIZE} bytes for a zip archive but received ${source.size}`);
  }
  const { tail, tailStart, at } = findEndOfCentralDirectory(source);
  const eocd = tailStart + at;
  let entryCount = tail.readUInt16LE(at + 10);
  let size = tail.readUInt32LE(at + 12);
  let offset = tail.readUInt32LE(at + 16);
  let limit = eocd;

  const locatorAt = eocd - ZIP64_LOCATOR_SIZE;
  const locator = locatorAt >= 0 ? source.read(locatorAt, ZIP64_LOCATOR_SIZE) : Buffer.alloc(0);
  if (locator.length === ZIP64_LOCATOR_SIZE && locator.readUInt32LE(0) === ZIP64_LOCATOR_SIGNATURE) {
    const recordAt = readSafeU64(locator, 8, 'zip64 record offset');
    const record = recordAt + ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE <= locatorAt ? source.read(recordAt, ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE) : Buffer.alloc(0);
    if (record.length < ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE || record.readUInt32LE(0) !== ZIP64_END_OF_CENTRAL_DIRECTORY_SIGNATURE) {
      throw damaged(`Expected a zip64 end-of-central-directory record at byte ${recordAt} but received none`);
    }
    entryCount = readSafeU64(record, 32, 'entry count');
    size = readSafeU64(record, 40, 'central directory size');
    offset = readSafeU64(record, 48, 'central directory offset');
    limit = recordAt;
  } else if (entryCount === U16_MAX || size === U32_MAX || offset === U32_MAX) {
    throw damaged('Expected a zip64 locator before its end-of-central-directory record but received none');
  }
  if (offset + size > limit) {
    throw new ZipFormatError(
      'is truncated or damaged',
      `Expected its zip central directory (bytes ${offset}..${offset + size}) to end before byte ${limit} but it does not`,
    );
  }
  if (entryCount * CENTRAL_HEADER_SIZE > size) {
    throw damaged(`Expected room for ${entryCount} entries in a ${size}-byte zip central directory but received too little`);
  }
  return { entryCount, offset, size };
}

/** Applies the zip64 extended-information extra field: only the fields saturated at 0xFFFFFFFF are present, in order. */
function applyZip64Extra(extra: Buffer, sizes: { size: number; compressedSize: number; localHeaderOffset: number }, name: string): void {
  let at = 0;
  while (at + 4 <= extra.length) {
    const id = extra.readUInt16LE(at);
    const length = extra.readUInt16LE(at + 2);
    const body = at + 4;
    if (body + length > extra.length) throw damaged(`Expected the extra fields of zip entry ${name} to fit their header but they overrun it`);
    if (id === ZIP64_EXTRA_ID) {
      let field = body;
      const take = (what: string): number => {
        if (field + 8 > body + length) throw damaged(`Expected a zip64 ${what} for zip entry ${name} but received none`);
        const value = readSafeU64(extra, field, what);
        field += 8;
        return value;
      };
      if (sizes.size === U32_MAX) sizes.size = take('size');
      if (sizes.compressedSize === U32_MAX) sizes.compressedSize = take('compressed size');
      if (sizes.localHeaderOffset === U32_MAX) sizes.localHeaderOffset = take('local header offset');
    }
    at = body + length;
  }
}

/** Where an entry's data starts, from its local header (whose own name and extra lengths may differ from the directory's). */
function localDataOffset(source: ZipSource, headerOffset: number, nameBytes: Buffer, name: string, directoryOffset: number): number {
  const header = headerOffset + LOCAL_HEADER_SIZE <= directoryOffset ? source.read(headerOffset, LOCAL_HEADER_SIZE + nameBytes.length) : Buffer.alloc(0);
  if (header.length < LOCAL_HEADER_SIZE || header.readUInt32LE(0) !== LOCAL_HEADER_SIGNATURE) {
    throw damaged(`Expected a zip local header for ${name} at byte ${headerOffset} but received something else`);
  }
  const nameLength = header.readUInt16LE(26);
  const extraLength = header.readUInt16LE(28);
  if (nameLength !== nameBytes.length || !header.subarray(LOCAL_HEADER_SIZE).equals(nameBytes)) {
    throw damaged(`Expected the local header at byte ${headerOffset} to name ${name} but it names another file`);
  }
  return headerOffset + LOCAL_HEADER_SIZE + nameLength + extraLength;
}

/** Overlapping entries are how zip bombs and smuggled content work; no archiver writes them. */
function assertNoOverlap(entries: ZipEntry[]): void {
  const byOffset = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let i = 1; i < byOffset.length; i++) {
    const previous = byOffset[i - 1];
    if (previous.dataOffset + previous.compressedSize > byOffset[i].localHeaderOffset) {
      throw new ZipFormatError('is refused', `Expected separate zip entries but ${previous.name} overlaps ${byOffset[i].name} (a zip bomb?)`);
    }
  }
}

/** Lists the entries of a zip archive, every field checked (see the file comment). Throws ZipFormatError. */
export function readZipDirectory(source: ZipSource): ZipEntry[] {
  const directory = locateCentralDirectory(source);
  const cd = source.read(directory.offset, directory.size);
  if (cd.length < directory.size) throw new ZipFormatError('is truncated', `Expected a ${directory.size}-byte zip central directory but the file ends first`);
  const entries: ZipEntry[] = [];
  const names = new Set<string>();
  let at = 0;
  for (let index = 0; index < directory.entryCount; index++) {
    if (at + CENTRAL_HEADER_SIZE > cd.length || cd.readUInt32LE(at) !== CENTRAL_HEADER_SIGNATURE) {
      throw damaged(`Expected zip central directory entry ${index} at byte ${directory.offset + at} but received something else`);
    }
    const versionMadeBy = cd.readUInt16LE(at + 4);
    const flags = cd.readUInt16LE(at + 8);
    const method = cd.readUInt16LE(at + 10);
    const crc = cd.readUInt32LE(at + 16);
    const sizes = { compressedSize: cd.readUInt32LE(at + 20), size: cd.readUInt32LE(at + 24), localHeaderOffset: cd.readUInt32LE(at + 42) };
    const nameLength = cd.readUInt16LE(at + 28);
    const extraLength = cd.readUInt16LE(at + 30);
    const commentLength = cd.readUInt16LE(at + 32);
    const externalAttributes = cd.readUInt32LE(at + 38);
    const nameStart = at + CENTRAL_HEADER_SIZE;
    const next = nameStart + nameLength + extraLength + commentLength;
    if (next > cd.length) throw damaged(`Expected zip central directory entry ${index} to end within the directory but it overruns it`);
    const nameBytes = cd.subarray(nameStart, nameStart + nameLength);
    const name = nameBytes.toString(flags & FLAG_UTF8_NAME ? 'utf8' : 'latin1');
    applyZip64Extra(cd.subarray(nameStart + nameLength, nameStart + nameLength + extraLength), sizes, name);

    if (flags & FLAG_ENCRYPTED) throw new ZipFormatError('is refused', `zip entry ${name} is encrypted`);
    if (method !== METHOD_STORED && method !== METHOD_DEFLATE) {
      throw new ZipFormatError('is refused', `Expected compression method 0 (stored) or 8 (deflate) for zip entry ${name} but received ${method}`);
    }
    if (method === METHOD_STORED && sizes.compressedSize !== sizes.size) {
      throw damaged(`Expected equal stored and unpacked sizes for zip entry ${name} but received ${sizes.compressedSize} and ${sizes.size}`);
    }
    if (method === METHOD_DEFLATE && sizes.size > sizes.compressedSize * MAX_DEFLATE_RATIO + DEFLATE_RATIO_SLACK) {
      throw new ZipFormatError('is refused', `zip entry ${name} claims to inflate ${sizes.compressedSize} bytes to ${sizes.size}, more than deflate can`);
    }
    if (names.has(name)) throw damaged(`Expected unique names in its zip archive but ${name} appears twice`);
    names.add(name);

    const dataOffset = localDataOffset(source, sizes.localHeaderOffset, Buffer.from(nameBytes), name, directory.offset);
    if (dataOffset + sizes.compressedSize > directory.offset) {
      throw new ZipFormatError(
        'is truncated or damaged',
        `Expected zip entry ${name} (bytes ${dataOffset}..${dataOffset + sizes.compressedSize}) to end before its central directory at byte ${directory.offset}`,
      );
    }
    entries.push({ name, method, flags, crc32: crc, ...sizes, dataOffset, versionMadeBy, externalAttributes });
    at = next;
  }
  assertNoOverlap(entries);
  return entries;
}
