/**
 * The ZIP container of `torch.save` (PyTorch >= 1.6), in pure TypeScript.
 *
 * Reading trusts nothing: every offset and size from the central directory is checked against the file before it
 * is used, entries may not overlap, and each entry's CRC-32 is verified when it is read. Writing produces stored
 * (uncompressed) entries exactly as PyTorch's PyTorchStreamWriter (miniz) lays them out: zeroed DOS times, a
 * data descriptor after each non-empty entry, each entry's data aligned to 64 bytes by an 'FB' padding extra field, and a zip64
 * end-of-central-directory record that torch always writes.
 */
import * as zlib from 'zlib';
import { CheckpointError } from './raw_tensor';

const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06054b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06064b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const DATA_DESCRIPTOR_SIGNATURE = 0x08074b50;

const LOCAL_HEADER_SIZE = 30;
const CENTRAL_HEADER_SIZE = 46;
const END_OF_CENTRAL_DIRECTORY_SIZE = 22;
const ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE = 56;
const ZIP64_LOCATOR_SIZE = 20;
/** The EOCD may be followed by a comment of at most 65535 bytes; it is searched for in that window. */
const MAX_COMMENT_SIZE = 0xffff;

const ZIP64_EXTRA_ID = 0x0001;
/** PyTorch's padding extra field: 'F','B' little-endian. */
const PYTORCH_PADDING_EXTRA_ID = 0x4246;
/** PyTorch aligns every entry's data to 64 bytes so that it can be memory-mapped as a tensor. */
const PYTORCH_DATA_ALIGNMENT = 64;

const FLAG_ENCRYPTED = 0x0001;
const FLAG_DATA_DESCRIPTOR = 0x0008;
const FLAG_UTF8_NAME = 0x0800;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
/** Written in the zip64 EOCD record by miniz: made by Unix (3) version 3.0, needs 4.5 (zip64). */
const ZIP64_VERSION_MADE_BY = 0x031e;
const ZIP64_VERSION_NEEDED = 0x002d;

const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
/** Deflate cannot expand data by more than about 1032:1; a larger claimed size is a zip bomb or garbage. */
const MAX_DEFLATE_RATIO = 1032;

// ---------------------------------------------------------------------------------------------------------------
// CRC-32 (IEEE, the zip polynomial), slicing-by-8 because checkpoints are hundreds of megabytes.

const CRC_TABLES = buildCrcTables();

function buildCrcTables(): Int32Array {
  const tables = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    tables[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[n];
    for (let k = 1; k < 8; k++) {
      c = tables[c & 0xff] ^ (c >>> 8);
      tables[k * 256 + n] = c;
    }
  }
  return tables;
}

/** CRC-32 of `data`, continuing from `previous` (the CRC of the bytes before it). */
export function crc32(data: Uint8Array, previous = 0): number {
  const t = CRC_TABLES;
  let crc = ~previous;
  const length = data.length;
  let i = 0;
  for (; i + 8 <= length; i += 8) {
    const a = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) ^ crc;
    const b = data[i + 4] | (data[i + 5] << 8) | (data[i + 6] << 16) | (data[i + 7] << 24);
    crc =
      t[1792 + (a & 0xff)] ^
      t[1536 + ((a >>> 8) & 0xff)] ^
      t[1280 + ((a >>> 16) & 0xff)] ^
      t[1024 + (a >>> 24)] ^
      t[768 + (b & 0xff)] ^
      t[512 + ((b >>> 8) & 0xff)] ^
      t[256 + ((b >>> 16) & 0xff)] ^
      t[b >>> 24];
  }
  for (; i < length; i++) crc = t[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

/** One file of the archive, as its central directory describes it (all offsets already checked). */
export interface ZipEntry {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  /** Where the entry's (possibly compressed) bytes start in the archive. */
  dataOffset: number;
}

/** A checked view of a zip archive held in memory. */
export class ZipArchive {
  readonly entries: ZipEntry[];
  private readonly byName: Map<string, ZipEntry>;

  constructor(
    private readonly bytes: Buffer,
    private readonly label: string,
  ) {
    this.entries = readCentralDirectory(bytes, label);
    this.byName = new Map(this.entries.map((entry) => [entry.name, entry]));
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  entry(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /** The entry's bytes, CRC-checked. Stored entries are returned as a view into the archive (no copy). */
  read(name: string): Buffer {
    const entry = this.byName.get(name);
    if (!entry) throw new CheckpointError(this.label, `is incomplete: Expected an entry ${name} in its zip archive but received none`);
    const raw = this.bytes.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize);
    const data = entry.method === METHOD_STORED ? raw : this.inflate(entry, raw);
    const actualCrc = crc32(data);
    if (actualCrc !== entry.crc32) {
      throw new CheckpointError(
        this.label,
        `is damaged: Expected CRC-32 ${hex32(entry.crc32)} for zip entry ${entry.name} but received ${hex32(actualCrc)}`,
      );
    }
    return data;
  }

  private inflate(entry: ZipEntry, raw: Buffer): Buffer {
    if (entry.size === 0) return Buffer.alloc(0);
    try {
      const data = zlib.inflateRawSync(raw, { maxOutputLength: entry.size });
      if (data.length === entry.size) return data;
      throw new Error(`it inflates to ${data.length} bytes instead of ${entry.size}`);
    } catch (err) {
      throw new CheckpointError(this.label, `is damaged: could not inflate zip entry ${entry.name} (${(err as Error).message})`);
    }
  }
}

function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

function damaged(label: string, detail: string): CheckpointError {
  return new CheckpointError(label, `is damaged: ${detail}`);
}

/** Reads a little-endian u64 that must be a usable file offset or size. */
function readSafeU64(bytes: Buffer, at: number, what: string, label: string): number {
  const value = bytes.readBigUInt64LE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw damaged(label, `Expected a plausible ${what} in its zip directory but received ${value}`);
  return Number(value);
}

function findEndOfCentralDirectory(bytes: Buffer, label: string): number {
  const lastStart = bytes.length - END_OF_CENTRAL_DIRECTORY_SIZE;
  const firstStart = Math.max(0, lastStart - MAX_COMMENT_SIZE);
  for (let at = lastStart; at >= firstStart; at--) {
    if (bytes.readUInt32LE(at) !== END_OF_CENTRAL_DIRECTORY_SIGNATURE) continue;
    const commentLength = bytes.readUInt16LE(at + 20);
    if (at + END_OF_CENTRAL_DIRECTORY_SIZE + commentLength <= bytes.length) return at;
  }
  throw new CheckpointError(
    label,
    `is truncated or damaged: Expected a zip end-of-central-directory record in its last bytes but received none ` +
      `(the file is ${bytes.length} bytes; was it copied or downloaded completely?)`,
  );
}

interface CentralDirectoryLocation {
  entryCount: number;
  offset: number;
  size: number;
  /** Where the central directory must end: the zip64 record if there is one, else the EOCD. */
  limit: number;
}

function locateCentralDirectory(bytes: Buffer, label: string): CentralDirectoryLocation {
  if (bytes.length < END_OF_CENTRAL_DIRECTORY_SIZE) {
    throw new CheckpointError(label, `is truncated: Expected at least ${END_OF_CENTRAL_DIRECTORY_SIZE} bytes for a zip archive but received ${bytes.length}`);
  }
  const eocd = findEndOfCentralDirectory(bytes, label);
  let entryCount = bytes.readUInt16LE(eocd + 10);
  let size = bytes.readUInt32LE(eocd + 12);
  let offset = bytes.readUInt32LE(eocd + 16);
  let limit = eocd;

  const locator = eocd - ZIP64_LOCATOR_SIZE;
  if (locator >= 0 && bytes.readUInt32LE(locator) === ZIP64_LOCATOR_SIGNATURE) {
    const record = readSafeU64(bytes, locator + 8, 'zip64 record offset', label);
    if (record + ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE > locator || bytes.readUInt32LE(record) !== ZIP64_END_OF_CENTRAL_DIRECTORY_SIGNATURE) {
      throw damaged(label, `Expected a zip64 end-of-central-directory record at byte ${record} but received none`);
    }
    entryCount = readSafeU64(bytes, record + 32, 'entry count', label);
    size = readSafeU64(bytes, record + 40, 'central directory size', label);
    offset = readSafeU64(bytes, record + 48, 'central directory offset', label);
    limit = record;
  } else if (entryCount === U16_MAX || size === U32_MAX || offset === U32_MAX) {
    throw damaged(label, 'Expected a zip64 locator before its end-of-central-directory record but received none');
  }

  if (offset + size > limit) {
    throw new CheckpointError(
      label,
      `is truncated or damaged: Expected its zip central directory (bytes ${offset}..${offset + size}) to end before byte ${limit} but it does not`,
    );
  }
  if (entryCount * CENTRAL_HEADER_SIZE > size) {
    throw damaged(label, `Expected room for ${entryCount} entries in a ${size}-byte zip central directory but received too little`);
  }
  return { entryCount, offset, size, limit };
}

/** Applies the zip64 extended-information extra field: only the fields saturated at 0xFFFFFFFF are present, in order. */
function applyZip64Extra(
  extra: Buffer,
  sizes: { size: number; compressedSize: number; localHeaderOffset: number },
  name: string,
  label: string,
): void {
  let at = 0;
  while (at + 4 <= extra.length) {
    const id = extra.readUInt16LE(at);
    const length = extra.readUInt16LE(at + 2);
    const body = at + 4;
    if (body + length > extra.length) throw damaged(label, `Expected the extra fields of zip entry ${name} to fit their header but they overrun it`);
    if (id === ZIP64_EXTRA_ID) {
      let field = body;
      const take = (what: string): number => {
        if (field + 8 > body + length) throw damaged(label, `Expected a zip64 ${what} for zip entry ${name} but received none`);
        const value = readSafeU64(extra, field, what, label);
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

function readCentralDirectory(bytes: Buffer, label: string): ZipEntry[] {
  const directory = locateCentralDirectory(bytes, label);
  const end = directory.offset + directory.size;
  const entries: ZipEntry[] = [];
  const names = new Set<string>();
  let at = directory.offset;
  for (let index = 0; index < directory.entryCount; index++) {
    if (at + CENTRAL_HEADER_SIZE > end || bytes.readUInt32LE(at) !== CENTRAL_HEADER_SIGNATURE) {
      throw damaged(label, `Expected zip central directory entry ${index} at byte ${at} but received something else`);
    }
    const flags = bytes.readUInt16LE(at + 8);
    const method = bytes.readUInt16LE(at + 10);
    const crc = bytes.readUInt32LE(at + 16);
    const sizes = {
      compressedSize: bytes.readUInt32LE(at + 20),
      size: bytes.readUInt32LE(at + 24),
      localHeaderOffset: bytes.readUInt32LE(at + 42),
    };
    const nameLength = bytes.readUInt16LE(at + 28);
    const extraLength = bytes.readUInt16LE(at + 30);
    const commentLength = bytes.readUInt16LE(at + 32);
    const nameStart = at + CENTRAL_HEADER_SIZE;
    const next = nameStart + nameLength + extraLength + commentLength;
    if (next > end) throw damaged(label, `Expected zip central directory entry ${index} to end within the directory but it overruns it`);
    const nameBytes = bytes.subarray(nameStart, nameStart + nameLength);
    const name = nameBytes.toString(flags & FLAG_UTF8_NAME ? 'utf8' : 'latin1');
    applyZip64Extra(bytes.subarray(nameStart + nameLength, nameStart + nameLength + extraLength), sizes, name, label);

    if (flags & FLAG_ENCRYPTED) throw new CheckpointError(label, `is refused: zip entry ${name} is encrypted, which torch.save never does`);
    if (method !== METHOD_STORED && method !== METHOD_DEFLATE) {
      throw new CheckpointError(label, `is refused: Expected compression method 0 (stored) or 8 (deflate) for zip entry ${name} but received ${method}`);
    }
    if (method === METHOD_STORED && sizes.compressedSize !== sizes.size) {
      throw damaged(label, `Expected equal stored and unpacked sizes for zip entry ${name} but received ${sizes.compressedSize} and ${sizes.size}`);
    }
    if (method === METHOD_DEFLATE && sizes.size > sizes.compressedSize * MAX_DEFLATE_RATIO + PYTORCH_DATA_ALIGNMENT) {
      throw new CheckpointError(label, `is refused: zip entry ${name} claims to inflate ${sizes.compressedSize} bytes to ${sizes.size}, more than deflate can`);
    }
    if (names.has(name)) throw damaged(label, `Expected unique names in its zip archive but ${name} appears twice`);
    names.add(name);

    const dataOffset = localDataOffset(bytes, sizes.localHeaderOffset, nameBytes, name, directory.offset, label);
    if (dataOffset + sizes.compressedSize > directory.offset) {
      throw new CheckpointError(
        label,
        `is truncated or damaged: Expected zip entry ${name} (bytes ${dataOffset}..${dataOffset + sizes.compressedSize}) to end before its central directory at byte ${directory.offset}`,
      );
    }
    entries.push({ name, method, crc32: crc, ...sizes, dataOffset });
    at = next;
  }
  assertNoOverlap(entries, label);
  return entries;
}

/** Where an entry's data starts, from its local header (whose own name and extra lengths may differ from the directory's). */
function localDataOffset(bytes: Buffer, headerOffset: number, nameBytes: Buffer, name: string, directoryOffset: number, label: string): number {
  if (headerOffset + LOCAL_HEADER_SIZE > directoryOffset || bytes.readUInt32LE(headerOffset) !== LOCAL_HEADER_SIGNATURE) {
    throw damaged(label, `Expected a zip local header for ${name} at byte ${headerOffset} but received something else`);
  }
  const nameLength = bytes.readUInt16LE(headerOffset + 26);
  const extraLength = bytes.readUInt16LE(headerOffset + 28);
  const localName = bytes.subarray(headerOffset + LOCAL_HEADER_SIZE, headerOffset + LOCAL_HEADER_SIZE + nameLength);
  if (!localName.equals(nameBytes)) throw damaged(label, `Expected the local header at byte ${headerOffset} to name ${name} but it names another file`);
  return headerOffset + LOCAL_HEADER_SIZE + nameLength + extraLength;
}

/** Overlapping entries are how zip bombs and smuggled content work; torch never writes them. */
function assertNoOverlap(entries: ZipEntry[], label: string): void {
  const byOffset = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let i = 1; i < byOffset.length; i++) {
    const previous = byOffset[i - 1];
    if (previous.dataOffset + previous.compressedSize > byOffset[i].localHeaderOffset) {
      throw damaged(label, `Expected separate zip entries but ${previous.name} overlaps ${byOffset[i].name}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

export interface ZipWriteEntry {
  name: string;
  data: Buffer;
}

export interface StoredZipOptions {
  /**
   * Sizes and offsets at or above this use zip64 fields. 0xFFFFFFFF as in the zip format; tests lower it to exercise
   * the zip64 path without writing 4 GiB.
   */
  zip64Threshold?: number;
}

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value);
  return b;
}

function u64(value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(value));
  return b;
}

/** The zip64 extended-information field with the values that overflow, in the order the format fixes. */
function zip64Extra(size: number | null, offset: number | null): Buffer {
  const fields: Buffer[] = [];
  if (size !== null) fields.push(u64(size), u64(size));
  if (offset !== null) fields.push(u64(offset));
  if (fields.length === 0) return Buffer.alloc(0);
  const body = Buffer.concat(fields);
  return Buffer.concat([u16(ZIP64_EXTRA_ID), u16(body.length), body]);
}

/** PyTorch's padding field: makes the data start on a 64-byte boundary (always present, possibly with 0 bytes of 'Z'). */
function alignmentPadding(dataStartWithoutPadding: number): Buffer {
  const start = dataStartWithoutPadding + 4;
  const paddingSize = (PYTORCH_DATA_ALIGNMENT - (start % PYTORCH_DATA_ALIGNMENT)) % PYTORCH_DATA_ALIGNMENT;
  const field = Buffer.alloc(4 + paddingSize, 'Z');
  field.writeUInt16LE(PYTORCH_PADDING_EXTRA_ID, 0);
  field.writeUInt16LE(paddingSize, 2);
  return field;
}

/** CRC and sizes after the data; 64-bit sizes when the entry has a zip64 field, as miniz does. */
function dataDescriptor(crc: number, size: number, zip64: boolean): Buffer {
  const descriptor = Buffer.alloc(zip64 ? 24 : 16);
  descriptor.writeUInt32LE(DATA_DESCRIPTOR_SIGNATURE, 0);
  descriptor.writeUInt32LE(crc, 4);
  if (zip64) {
    descriptor.writeBigUInt64LE(BigInt(size), 8);
    descriptor.writeBigUInt64LE(BigInt(size), 16);
  } else {
    descriptor.writeUInt32LE(size, 8);
    descriptor.writeUInt32LE(size, 12);
  }
  return descriptor;
}

/**
 * Lays out a zip archive of stored entries the way PyTorchStreamWriter does. Returns the chunks to write in order
 * (entry data is not copied).
 */
export function encodeStoredZip(entries: ReadonlyArray<ZipWriteEntry>, options: StoredZipOptions = {}): Buffer[] {
  const threshold = options.zip64Threshold ?? U32_MAX;
  const chunks: Buffer[] = [];
  const centralHeaders: Buffer[] = [];
  let cursor = 0;
  const emit = (chunk: Buffer): void => {
    chunks.push(chunk);
    cursor += chunk.length;
  };

  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const size = entry.data.length;
    const headerOffset = cursor;
    const crc = crc32(entry.data);
    const largeSize = size >= threshold;
    const largeOffset = headerOffset >= threshold;
    const extra64 = zip64Extra(largeSize ? size : null, largeOffset ? headerOffset : null);
    const padding = alignmentPadding(headerOffset + LOCAL_HEADER_SIZE + name.length + extra64.length);
    // miniz puts sizes and CRC in a data descriptor after the data, and leaves it out for an empty entry.
    const hasDescriptor = size > 0;
    const flags = FLAG_UTF8_NAME | (hasDescriptor ? FLAG_DATA_DESCRIPTOR : 0);

    const local = Buffer.alloc(LOCAL_HEADER_SIZE);
    local.writeUInt32LE(LOCAL_HEADER_SIGNATURE, 0);
    local.writeUInt16LE(0, 4); // version needed: miniz writes 0 for stored entries
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(METHOD_STORED, 8);
    // time, date, CRC and sizes stay 0: the data descriptor after the data carries them
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extra64.length + padding.length, 28);
    emit(local);
    emit(name);
    if (extra64.length) emit(extra64);
    emit(padding);
    emit(entry.data);

    if (hasDescriptor) emit(dataDescriptor(crc, size, extra64.length > 0));

    const central = Buffer.alloc(CENTRAL_HEADER_SIZE);
    central.writeUInt32LE(CENTRAL_HEADER_SIGNATURE, 0);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(METHOD_STORED, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(largeSize ? U32_MAX : size, 20);
    central.writeUInt32LE(largeSize ? U32_MAX : size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(extra64.length, 30);
    central.writeUInt32LE(largeOffset ? U32_MAX : headerOffset, 42);
    centralHeaders.push(central, name, extra64);
  }

  const directoryOffset = cursor;
  for (const chunk of centralHeaders) if (chunk.length) emit(chunk);
  const directorySize = cursor - directoryOffset;
  const zip64RecordOffset = cursor;

  const zip64Record = Buffer.alloc(ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE);
  zip64Record.writeUInt32LE(ZIP64_END_OF_CENTRAL_DIRECTORY_SIGNATURE, 0);
  zip64Record.writeBigUInt64LE(BigInt(ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE - 12), 4);
  zip64Record.writeUInt16LE(ZIP64_VERSION_MADE_BY, 12);
  zip64Record.writeUInt16LE(ZIP64_VERSION_NEEDED, 14);
  zip64Record.writeBigUInt64LE(BigInt(entries.length), 24);
  zip64Record.writeBigUInt64LE(BigInt(entries.length), 32);
  zip64Record.writeBigUInt64LE(BigInt(directorySize), 40);
  zip64Record.writeBigUInt64LE(BigInt(directoryOffset), 48);
  emit(zip64Record);

  const locator = Buffer.alloc(ZIP64_LOCATOR_SIZE);
  locator.writeUInt32LE(ZIP64_LOCATOR_SIGNATURE, 0);
  locator.writeBigUInt64LE(BigInt(zip64RecordOffset), 8);
  locator.writeUInt32LE(1, 16); // total number of disks
  emit(locator);

  const entryCount = entries.length >= U16_MAX ? U16_MAX : entries.length;
  const end = Buffer.alloc(END_OF_CENTRAL_DIRECTORY_SIZE);
  end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY_SIGNATURE, 0);
  end.writeUInt16LE(entryCount, 8);
  end.writeUInt16LE(entryCount, 10);
  end.writeUInt32LE(directorySize >= threshold ? U32_MAX : directorySize, 12);
  end.writeUInt32LE(directoryOffset >= threshold ? U32_MAX : directoryOffset, 16);
  emit(end);
  return chunks;
}
