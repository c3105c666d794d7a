/**
 * The ZIP container of `torch.save` (PyTorch >= 1.6), in pure TypeScript.
 *
 * Reading lists the entries with the shared, checking directory reader (src/util/zip_directory.ts) and verifies
 * each entry's CRC-32 when it is read. torch never compresses entries, but a checkpoint re-packed with Python's
 * zipfile may be deflated: inflation is bounded by an explicit budget (by default 16 times the file, at least
 * 1 MiB), checked from the directory before anything is inflated, so a small file cannot allocate a huge tensor.
 * Writing produces stored (uncompressed) entries exactly as PyTorch's PyTorchStreamWriter (miniz) lays them out:
 * zeroed DOS times, a data descriptor after each non-empty entry, each entry's data aligned to 64 bytes by an 'FB'
 * padding extra field, and a zip64 end-of-central-directory record that torch always writes.
 */
import * as zlib from 'zlib';
import { crc32 } from '../util/crc32';
import {
  bufferSource, CENTRAL_HEADER_SIGNATURE, CENTRAL_HEADER_SIZE, END_OF_CENTRAL_DIRECTORY_SIGNATURE, END_OF_CENTRAL_DIRECTORY_SIZE,
  FLAG_UTF8_NAME, LOCAL_HEADER_SIGNATURE, LOCAL_HEADER_SIZE, METHOD_DEFLATE, METHOD_STORED, readZipDirectory, U16_MAX, U32_MAX,
  ZIP64_END_OF_CENTRAL_DIRECTORY_SIGNATURE, ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE, ZIP64_EXTRA_ID, ZIP64_LOCATOR_SIGNATURE,
  ZIP64_LOCATOR_SIZE, ZipEntry, ZipFormatError,
} from '../util/zip_directory';
import { CheckpointError } from './raw_tensor';

export type { ZipEntry } from '../util/zip_directory';

const DATA_DESCRIPTOR_SIGNATURE = 0x08074b50;
/** PyTorch's padding extra field: 'F','B' little-endian. */
const PYTORCH_PADDING_EXTRA_ID = 0x4246;
/** PyTorch aligns every entry's data to 64 bytes so that it can be memory-mapped as a tensor. */
const PYTORCH_DATA_ALIGNMENT = 64;

const FLAG_DATA_DESCRIPTOR = 0x0008;
/** Written in the zip64 EOCD record by miniz: made by Unix (3) version 3.0, needs 4.5 (zip64). */
const ZIP64_VERSION_MADE_BY = 0x031e;
const ZIP64_VERSION_NEEDED = 0x002d;

/** Default inflation budget: deflated float weights shrink by far less than this; a bomb by far more. */
export const DEFAULT_INFLATE_RATIO = 16;
const MIN_INFLATE_BUDGET = 1 << 20;

export interface ZipReadOptions {
  /** Total bytes the deflated entries may inflate to (default: 16 x the archive, at least 1 MiB). */
  maxInflatedBytes?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

/** A checked view of a zip archive held in memory. */
export class ZipArchive {
  readonly entries: ZipEntry[];
  private readonly byName: Map<string, ZipEntry>;

  constructor(
    private readonly bytes: Buffer,
    private readonly label: string,
    options: ZipReadOptions = {},
  ) {
    try {
      this.entries = readZipDirectory(bufferSource(bytes));
    } catch (err) {
      if (err instanceof ZipFormatError) throw new CheckpointError(label, err.message);
      throw err;
    }
    this.byName = new Map(this.entries.map((entry) => [entry.name, entry]));
    const budget = options.maxInflatedBytes ?? Math.max(MIN_INFLATE_BUDGET, bytes.length * DEFAULT_INFLATE_RATIO);
    let inflated = 0;
    for (const entry of this.entries) {
      if (entry.method !== METHOD_DEFLATE) continue;
      inflated += entry.size;
      if (inflated > budget) {
        throw new CheckpointError(
          label,
          `is refused: Expected at most ${budget} inflated bytes for its deflate-compressed zip entries (the inflation budget) ` +
            `but received ${inflated} by entry ${entry.name}; torch.save never compresses: re-save it with torch.save`,
        );
      }
    }
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
