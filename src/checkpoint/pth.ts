/**
 * PyTorch `.pth` state dicts, read and written without Python or libtorch.
 *
 * Reading accepts both formats `torch.save` has used:
 * - zip (torch >= 1.6): `<folder>/data.pkl` (the pickled dict), `<folder>/data/<key>` (one entry per storage),
 *   `<folder>/version`, and from torch 2 `<folder>/byteorder`;
 * - legacy (torch < 1.6): five pickles in a row (magic number, protocol 1001, system info, the dict, the storage keys)
 *   followed by each storage as an 8-byte little-endian element count and its bytes.
 * The pickle goes through the safe unpickler; each tensor's offset, sizes and strides are checked against its
 * storage before any byte is touched, and nothing is allocated beyond what the file itself holds.
 *
 * Writing produces what torch 1.13's `torch.save(OrderedDict)` produces, byte for byte: a zip archive whose folder
 * is the file stem, a protocol-2 pickle of an OrderedDict of `_rebuild_tensor_v2` calls, one storage per tensor.
 */
import * as path from 'path';
import { writeFileAtomic, writeFileAtomicAsync } from '../util/atomic_write';
import {
  BUFFER_LABEL,
  CheckpointError,
  contiguousStrides,
  DType,
  dtypeSize,
  RawStateDict,
  RawStateDictInput,
  RawTensor,
  readCheckpointFile,
  stateDictEntries,
  assertValidRawTensor,
} from './raw_tensor';
import { describePickleValue, PersistentObject, PickleValue, PyDict, PyTuple, StorageType, storageClassName, TensorRecord, unpickle } from './pickle';
import { groupSharedStorages } from './shared_storage';
import { sniffCheckpointFormat } from './sniff';
import { encodeStoredZip, ZipArchive, ZipReadOptions } from './zip';

export interface PthReadResult {
  tensors: RawStateDict;
  format: 'zip' | 'legacy';
  /** Per-module versions from the OrderedDict's `_metadata` (e.g. BatchNorm: 2), keyed by module prefix ('' = root). */
  moduleVersions: Record<string, number>;
  /** Entries of the dict that were not tensors and were skipped, one line each. */
  notes: string[];
}

export interface PthWriteOptions {
  /** The archive's top folder; torch uses the file name without its extension. */
  archiveName?: string;
}

/** torch.save's legacy format starts with this pickled int, then the protocol version below. */
const LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001n;
/** Each legacy storage is preceded by its element count as a little-endian int64. */
const LEGACY_COUNT_SIZE = 8;
/** The zip format version torch 1.13 writes in `<folder>/version`. */
const ZIP_FORMAT_VERSION = '3\n';
/** Python's pickler writes SETITEMS in batches of this many pairs. */
const PICKLE_BATCH_SIZE = 1000;
/** No real tensor has more dimensions; a longer size tuple is garbage. */
const MAX_DIMENSIONS = 64;

// ---------------------------------------------------------------------------------------------------------------
// Storages: what persistent ids resolve to

/** A storage a pickle refers to. `bytes()` returns its data once the data have been located (lazily for zip). */
class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: DType,
    /** Elements, as the pickle declares them (already checked against the data for zip). */
    readonly numel: number,
    readonly bytes: () => Buffer,
  ) {}
}

/** Converts a pickled int that must be a count or offset; refuses anything that is not a safe non-negative integer. */
function nonNegative(value: PickleValue, what: string, file: string): number {
  if (typeof value !== 'bigint' || value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new CheckpointError(file, `is damaged or hostile: Expected a non-negative integer for ${what} but received ${describePickleValue(value)}`);
  }
  return Number(value);
}

function storageTypeOf(value: PickleValue, file: string): StorageType {
  if (!(value instanceof StorageType)) throw new CheckpointError(file, `is damaged: Expected a torch storage class in a persistent id but received ${describePickleValue(value)}`);
  return value;
}

/** Copies and swaps bytes of each element: zip checkpoints written on big-endian machines say so in `byteorder`. */
function swapToLittleEndian(data: Buffer, itemSize: number): Buffer {
  const out = Buffer.from(data);
  if (itemSize === 2) out.swap16();
  else if (itemSize === 4) out.swap32();
  else out.swap64();
  return out;
}

/** Tracks bytes allocated for copies (strided views, byte swaps), which may never exceed the file's own size. */
class AllocationBudget {
  private remaining: number;

  constructor(
    private readonly fileBytes: number,
    private readonly file: string,
  ) {
    this.remaining = fileBytes;
  }

  take(bytes: number, purpose: string): void {
    if (bytes > this.remaining) {
      throw new CheckpointError(
        this.file,
        `is refused: ${purpose} would need ${bytes} more bytes, more than the ${this.fileBytes}-byte file holds`,
      );
    }
    this.remaining -= bytes;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Zip format

function zipTopFolder(archive: ZipArchive, file: string): string {
  const folders = new Set<string>();
  for (const entry of archive.entries) {
    const slash = entry.name.indexOf('/');
    if (slash <= 0) throw new CheckpointError(file, `is not a torch.save archive: Expected every zip entry inside one folder but ${entry.name} is not`);
    folders.add(entry.name.slice(0, slash));
  }
  if (folders.size !== 1) {
    throw new CheckpointError(file, `is not a torch.save archive: Expected one top folder in its zip archive but received ${folders.size} (${[...folders].slice(0, 5).join(', ')})`);
  }
  const [folder] = folders;
  if (!archive.has(`${folder}/data.pkl`)) throw new CheckpointError(file, `is not a torch.save archive: Expected ${folder}/data.pkl in its zip archive but received none`);
  return folder;
}

function zipByteOrder(archive: ZipArchive, folder: string, file: string): 'little' | 'big' {
  const name = `${folder}/byteorder`;
  if (!archive.has(name)) return 'little';
  const order = archive.read(name).toString('latin1').trim();
  if (order !== 'little' && order !== 'big') throw new CheckpointError(file, `is damaged: Expected 'little' or 'big' in ${name} but received '${order.slice(0, 20)}'`);
  return order;
}

function readZipPth(bytes: Buffer, file: string, options: ZipReadOptions): PthReadResult {
  const archive = new ZipArchive(bytes, file, options);
  const folder = zipTopFolder(archive, file);
  const byteOrder = zipByteOrder(archive, folder, file);
  const budget = new AllocationBudget(bytes.length, file);
  const storages = new Map<string, StorageRef>();

  // ('storage', storage_type, key, location, numel): the data are the zip entry `<folder>/data/<key>`.
  const persistentLoad = (pid: PickleValue): StorageRef => {
    if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage' || pid.items.length !== 5) {
      throw new CheckpointError(file, `is not a state dict: Expected ('storage', type, key, location, numel) as a persistent id but received ${describePickleValue(pid)}${pid instanceof PyTuple ? ` starting with ${describePickleValue(pid.items[0])}` : ''}`);
    }
    const [, type, key, location, count] = pid.items;
    const dtype = storageTypeOf(type, file).dtype;
    if (typeof key !== 'string' || typeof location !== 'string') {
      throw new CheckpointError(file, `is damaged: Expected string key and location in a persistent id but received ${describePickleValue(key)} and ${describePickleValue(location)}`);
    }
    const numel = nonNegative(count, `the element count of storage ${key}`, file);
    const known = storages.get(key);
    if (known) {
      if (known.dtype !== dtype || known.numel !== numel) throw new CheckpointError(file, `is damaged: storage ${key} is declared twice with different types or sizes`);
      return known;
    }
    const entryName = `${folder}/data/${key}`;
    const entry = archive.entry(entryName);
    if (!entry) throw new CheckpointError(file, `is incomplete: Expected an entry ${entryName} in its zip archive but received none`);
    const itemSize = dtypeSize(dtype);
    if (entry.size !== numel * itemSize) {
      throw new CheckpointError(
        file,
        `is damaged or hostile: Expected ${numel} ${dtype} elements (${numel * itemSize} bytes) in ${entryName} but it holds ${entry.size} bytes`,
      );
    }
    let cached: Buffer | undefined;
    const ref = new StorageRef(key, dtype, numel, () => {
      if (!cached) {
        const data = archive.read(entryName);
        const needsSwap = byteOrder === 'big' && itemSize > 1;
        if (needsSwap) budget.take(data.length, `byte-swapping storage ${key}`);
        cached = needsSwap ? swapToLittleEndian(data, itemSize) : data;
      }
      return cached;
    });
    storages.set(key, ref);
    return ref;
  };

  const { value } = unpickle(archive.read(`${folder}/data.pkl`), { file, part: 'data.pkl', persistentLoad });
  return { ...stateDictFromPickle(value, file, budget), format: 'zip' };
}

// ---------------------------------------------------------------------------------------------------------------
// Legacy format

function expectLegacyHeader(value: PickleValue, expected: bigint, what: string, file: string): void {
  if (value !== expected) throw new CheckpointError(file, `is damaged: Expected ${what} ${expected} in its legacy header but received ${describePickleValue(value)}`);
}

function readLegacyPth(bytes: Buffer, file: string): PthReadResult {
  const magic = unpickle(bytes, { file, part: 'magic number' });
  expectLegacyHeader(magic.value, LEGACY_MAGIC_NUMBER, 'magic number', file);
  const protocol = unpickle(bytes, { file, part: 'protocol version' }, magic.end);
  expectLegacyHeader(protocol.value, LEGACY_PROTOCOL_VERSION, 'protocol version', file);
  // The system info says whether the writer was little-endian; torch >= 1.0 writes legacy storages little-endian
  // regardless, and torch.load ignores it, so do we.
  const systemInfo = unpickle(bytes, { file, part: 'system info' }, protocol.end);

  const storages = new Map<string, { dtype: DType; numel: number; data?: Buffer }>();
  // ('storage', storage_type, root_key, location, numel, view_metadata); view_metadata = (view_key, offset, size) or None.
  const persistentLoad = (pid: PickleValue): StorageRef => {
    if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage' || pid.items.length !== 6) {
      const kind = pid instanceof PyTuple ? describePickleValue(pid.items[0]) : describePickleValue(pid);
      throw new CheckpointError(file, `is not a state dict: Expected a storage as a persistent id but received ${kind} (whole pickled modules are not supported)`);
    }
    const [, type, rootKey, , count, view] = pid.items;
    const dtype = storageTypeOf(type, file).dtype;
    if (typeof rootKey !== 'string') throw new CheckpointError(file, `is damaged: Expected a string storage key but received ${describePickleValue(rootKey)}`);
    const numel = nonNegative(count, `the element count of storage ${rootKey}`, file);
    const root = storages.get(rootKey);
    if (root && (root.dtype !== dtype || root.numel !== numel)) throw new CheckpointError(file, `is damaged: storage ${rootKey} is declared twice with different types or sizes`);
    if (!root) storages.set(rootKey, { dtype, numel });

    let viewOffset = 0;
    let viewNumel = numel;
    if (view !== null) {
      if (!(view instanceof PyTuple) || view.items.length !== 3) throw new CheckpointError(file, `is damaged: Expected (key, offset, size) as storage view metadata but received ${describePickleValue(view)}`);
      viewOffset = nonNegative(view.items[1], `the offset of a view of storage ${rootKey}`, file);
      viewNumel = nonNegative(view.items[2], `the size of a view of storage ${rootKey}`, file);
      if (viewOffset + viewNumel > numel) {
        throw new CheckpointError(file, `is damaged or hostile: a view of elements ${viewOffset}..${viewOffset + viewNumel} exceeds storage ${rootKey} of ${numel} elements`);
      }
    }
    const itemSize = dtypeSize(dtype);
    return new StorageRef(rootKey, dtype, viewNumel, () => {
      const data = storages.get(rootKey)?.data;
      if (!data) throw new CheckpointError(file, `is incomplete: storage ${rootKey} is used but its data is not in the file`);
      return data.subarray(viewOffset * itemSize, (viewOffset + viewNumel) * itemSize);
    });
  };
  const object = unpickle(bytes, { file, part: 'state dict pickle', persistentLoad }, systemInfo.end);
  const keys = unpickle(bytes, { file, part: 'storage key list' }, object.end);
  if (!Array.isArray(keys.value) || !keys.value.every((key) => typeof key === 'string')) {
    throw new CheckpointError(file, `is damaged: Expected a list of storage keys after its state dict but received ${describePickleValue(keys.value)}`);
  }

  let cursor = keys.end;
  for (const key of keys.value as string[]) {
    const storage = storages.get(key);
    if (!storage) throw new CheckpointError(file, `is damaged: its storage list names ${key}, which its state dict never uses`);
    if (cursor + LEGACY_COUNT_SIZE > bytes.length) throw new CheckpointError(file, `is truncated: Expected the size of storage ${key} at byte ${cursor} but the file ends at ${bytes.length}`);
    const count = bytes.readBigInt64LE(cursor);
    if (count !== BigInt(storage.numel)) {
      throw new CheckpointError(file, `is damaged or hostile: Expected ${storage.numel} elements for storage ${key} but its data says ${count}`);
    }
    const start = cursor + LEGACY_COUNT_SIZE;
    const end = start + storage.numel * dtypeSize(storage.dtype);
    if (end > bytes.length) throw new CheckpointError(file, `is truncated: storage ${key} needs bytes ${start}..${end} but the file ends at ${bytes.length}`);
    storage.data = bytes.subarray(start, end);
    cursor = end;
  }
  const budget = new AllocationBudget(bytes.length, file);
  return { ...stateDictFromPickle(object.value, file, budget), format: 'legacy' };
}

// ---------------------------------------------------------------------------------------------------------------
// From the unpickled dict to RawTensors

function stateDictFromPickle(value: PickleValue, file: string, budget: AllocationBudget): Omit<PthReadResult, 'format'> {
  if (!(value instanceof PyDict)) {
    throw new CheckpointError(file, `is not a state dict: Expected a dict of name -> tensor but received ${describePickleValue(value)}`);
  }
  const tensors: RawStateDict = new Map();
  const notes: string[] = [];
  for (const [key, entry] of value.entries) {
    if (typeof key !== 'string') {
      notes.push(`skipped an entry whose key is ${describePickleValue(key)}, not a name`);
    } else if (entry instanceof TensorRecord) {
      tensors.set(key, materialize(key, entry, file, budget));
    } else {
      notes.push(`skipped '${key}': ${describePickleValue(entry)}, not a tensor`);
    }
  }
  if (tensors.size === 0 && value.entries.size > 0) {
    throw new CheckpointError(
      file,
      `is not a state dict: Expected a dict of name -> tensor but its ${value.entries.size} entries hold no tensor (${notes.slice(0, 4).join('; ')}); ` +
        'a checkpoint that wraps its state dict must be unwrapped first',
    );
  }
  return { tensors, moduleVersions: moduleVersionsOf(value), notes };
}

/** `_metadata` maps module prefixes to {'version': n}; anything else in it is ignored (it is only informative). */
function moduleVersionsOf(dict: PyDict): Record<string, number> {
  const versions: Record<string, number> = {};
  const metadata = dict.attributes.get('_metadata');
  if (!(metadata instanceof PyDict)) return versions;
  for (const [prefix, info] of metadata.entries) {
    if (typeof prefix !== 'string' || !(info instanceof PyDict)) continue;
    const version = info.entries.get('version');
    if (typeof version === 'bigint' && version >= 0n && version <= BigInt(Number.MAX_SAFE_INTEGER)) versions[prefix] = Number(version);
  }
  return versions;
}

/** Checks the view against its storage (before reading any byte), then returns contiguous little-endian bytes. */
function materialize(name: string, record: TensorRecord, file: string, budget: AllocationBudget): RawTensor {
  const storage = record.storage instanceof PersistentObject ? record.storage.value : undefined;
  if (!(storage instanceof StorageRef)) {
    throw new CheckpointError(file, `is damaged: Expected tensor '${name}' to be backed by a storage but received ${describePickleValue(record.storage)}`);
  }
  const describeView = `size [${record.shape.join(', ')}], stride [${record.stride.join(', ')}], offset ${record.storageOffset}`;
  const hostile = (problem: string): CheckpointError => new CheckpointError(file, `is damaged or hostile: tensor '${name}' (${describeView}) ${problem}`);
  if (record.shape.length !== record.stride.length) throw hostile(`has ${record.shape.length} sizes but ${record.stride.length} strides`);
  if (record.shape.length > MAX_DIMENSIONS) throw hostile(`has more than ${MAX_DIMENSIONS} dimensions`);
  if (record.storageOffset < 0n || record.shape.some((size) => size < 0n) || record.stride.some((stride) => stride < 0n)) {
    throw hostile('has a negative size, stride or offset');
  }
  let count = 1n;
  let lastIndex = record.storageOffset;
  for (let dim = 0; dim < record.shape.length; dim++) {
    count *= record.shape[dim];
    if (record.shape[dim] > 0n) lastIndex += (record.shape[dim] - 1n) * record.stride[dim];
  }
  const largest = BigInt(Number.MAX_SAFE_INTEGER);
  if (count > largest || record.shape.some((size) => size > largest)) throw hostile('has more elements than any file can hold');
  const storageNumel = BigInt(storage.numel);
  if (count === 0n ? record.storageOffset > storageNumel : lastIndex >= storageNumel) {
    throw hostile(`reaches element ${count === 0n ? record.storageOffset : lastIndex} of storage ${storage.key}, which has ${storage.numel}`);
  }
  // Sizes, count and (for a non-empty tensor) offset and strides are now safe integers.
  const shape = record.shape.map(Number);
  const itemSize = dtypeSize(storage.dtype);
  if (count === 0n) return { dtype: storage.dtype, shape, data: Buffer.alloc(0) };
  const offset = Number(record.storageOffset);
  // A size-1 dimension's stride never moves the index (and a hostile file may make it huge): treat it as 0.
  const strides = record.stride.map((stride, dim) => (shape[dim] === 1 ? 0 : Number(stride)));
  const storageBytes = storage.bytes();
  const elementCount = Number(count);
  if (isContiguous(shape, strides)) {
    return { dtype: storage.dtype, shape, data: storageBytes.subarray(offset * itemSize, (offset + elementCount) * itemSize) };
  }
  budget.take(elementCount * itemSize, `copying the strided tensor '${name}'`);
  return { dtype: storage.dtype, shape, data: gatherStrided(storageBytes, itemSize, offset, shape, strides, elementCount) };
}

/** Row-major contiguity, ignoring dimensions of size 1 (whose stride never matters). */
function isContiguous(shape: number[], strides: number[]): boolean {
  let expected = 1;
  for (let dim = shape.length - 1; dim >= 0; dim--) {
    if (shape[dim] === 1) continue;
    if (strides[dim] !== expected) return false;
    expected *= shape[dim];
  }
  return true;
}

/** Copies a strided view into row-major order, a run of the innermost dimension at a time. */
function gatherStrided(source: Buffer, itemSize: number, offset: number, shape: number[], strides: number[], elementCount: number): Buffer {
  const out = Buffer.allocUnsafe(elementCount * itemSize);
  const rank = shape.length;
  const innerSize = shape[rank - 1];
  const innerStride = strides[rank - 1];
  const index = new Array<number>(rank).fill(0);
  let written = 0;
  for (let start = offset; written < out.length; ) {
    if (innerStride === 1) {
      source.copy(out, written, start * itemSize, (start + innerSize) * itemSize);
      written += innerSize * itemSize;
    } else {
      for (let i = 0; i < innerSize; i++) {
        const at = (start + i * innerStride) * itemSize;
        source.copy(out, written, at, at + itemSize);
        written += itemSize;
      }
    }
    // Advance the outer index like an odometer, keeping `start` = offset + Σ index[d] * stride[d].
    for (let dim = rank - 2; dim >= 0; dim--) {
      index[dim]++;
      start += strides[dim];
      if (index[dim] < shape[dim]) break;
      start -= strides[dim] * shape[dim];
      index[dim] = 0;
    }
  }
  return out;
}

/** Reads a `.pth` state dict in either torch.save format (see the file comment). */
export function readPthRaw(source: string | Buffer, options: { label?: string } & ZipReadOptions = {}): PthReadResult {
  const file = options.label ?? (typeof source === 'string' ? source : BUFFER_LABEL);
  const bytes = typeof source === 'string' ? readCheckpointFile(source) : source;
  const format = sniffCheckpointFormat(bytes, file);
  if (format === 'safetensors') throw new CheckpointError(file, 'is a safetensors file, not a .pth: read it with readSafetensorsRaw');
  return format === 'zip' ? readZipPth(bytes, file, options) : readLegacyPth(bytes, file);
}

// ---------------------------------------------------------------------------------------------------------------
// Writing: the pickle torch 1.13 writes for an OrderedDict of contiguous tensors, opcode for opcode

const OP_PROTO = 0x80;
const OP_BINPUT = 0x71;
const OP_LONG_BINPUT = 0x72;
const OP_BINGET = 0x68;
const OP_LONG_BINGET = 0x6a;
const OP_EMPTY_TUPLE = 0x29;
const OP_REDUCE = 0x52;
const OP_MARK = 0x28;
const OP_TUPLE = 0x74;
const OP_TUPLE_N = [0x29, 0x85, 0x86, 0x87]; // EMPTY_TUPLE, TUPLE1..3
const OP_SETITEM = 0x73;
const OP_SETITEMS = 0x75;
const OP_BINUNICODE = 0x58;
const OP_BININT1 = 0x4b;
const OP_BININT2 = 0x4d;
const OP_BININT = 0x4a;
const OP_LONG1 = 0x8a;
const OP_BINPERSID = 0x51;
const OP_NEWFALSE = 0x89;
const OP_STOP = 0x2e;

/**
 * Emits pickle bytes and mirrors Python's memo: every object Python would memoize gets the next index, and objects
 * Python would see twice (the same class, function or interned string) are fetched back with BINGET.
 */
class TorchPickleWriter {
  private readonly parts: Buffer[] = [];
  private memoCount = 0;
  private readonly shared = new Map<string, number>();

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }

  op(...codes: number[]): void {
    this.parts.push(Buffer.from(codes));
  }

  memoize(): void {
    const index = this.memoCount++;
    this.writeMemoOp(index, OP_BINPUT, OP_LONG_BINPUT);
  }

  private writeMemoOp(index: number, short: number, long: number): void {
    if (index < 256) this.op(short, index);
    else {
      const b = Buffer.alloc(5);
      b[0] = long;
      b.writeUInt32LE(index, 1);
      this.parts.push(b);
    }
  }

  /** An object Python pickles once and refers to afterwards (a global, an interned string). */
  sharedObject(identity: string, writeFirst: () => void): void {
    const index = this.shared.get(identity);
    if (index !== undefined) return this.writeMemoOp(index, OP_BINGET, OP_LONG_BINGET);
    writeFirst();
    this.shared.set(identity, this.memoCount);
    this.memoize();
  }

  global(module: string, name: string): void {
    this.sharedObject(`global:${module}.${name}`, () => this.parts.push(Buffer.from(`c${module}\n${name}\n`, 'utf8')));
  }

  sharedString(text: string): void {
    this.sharedObject(`str:${text}`, () => this.rawString(text));
  }

  /** A fresh str object: written and memoized. */
  string(text: string): void {
    this.rawString(text);
    this.memoize();
  }

  private rawString(text: string): void {
    const encoded = Buffer.from(text, 'utf8');
    const header = Buffer.alloc(5);
    header[0] = OP_BINUNICODE;
    header.writeUInt32LE(encoded.length, 1);
    this.parts.push(header, encoded);
  }

  /** Python's save_long for protocol 2. */
  int(value: number): void {
    if (value >= 0 && value <= 0xff) return this.op(OP_BININT1, value);
    if (value >= 0 && value <= 0xffff) return this.op(OP_BININT2, value & 0xff, value >> 8);
    if (value >= -0x80000000 && value <= 0x7fffffff) {
      const b = Buffer.alloc(5);
      b[0] = OP_BININT;
      b.writeInt32LE(value, 1);
      this.parts.push(b);
      return;
    }
    // LONG1: minimal little-endian two's complement (these values are positive sizes).
    let rest = BigInt(value);
    const encoded: number[] = [];
    while (rest > 0n) {
      encoded.push(Number(rest & 0xffn));
      rest >>= 8n;
    }
    if (encoded[encoded.length - 1] & 0x80) encoded.push(0);
    this.op(OP_LONG1, encoded.length, ...encoded);
  }

  /** A fresh tuple of ints: TUPLE1..3 for short ones, MARK ... TUPLE otherwise; () is not memoized. */
  intTuple(values: number[]): void {
    if (values.length === 0) return this.op(OP_EMPTY_TUPLE);
    if (values.length > 3) this.op(OP_MARK);
    for (const value of values) this.int(value);
    this.op(values.length > 3 ? OP_TUPLE : OP_TUPLE_N[values.length]);
    this.memoize();
  }
}

/** Where a tensor's bytes are written: its storage's key and element count, and its offset into it. */
interface StorageSlot {
  key: string;
  numel: number;
  offset: number;
}

function writeTensorValue(pickle: TorchPickleWriter, tensor: RawTensor, slot: StorageSlot): void {
  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())
  pickle.global('torch._utils', '_rebuild_tensor_v2');
  pickle.op(OP_MARK);
  // persistent id ('storage', torch.<X>Storage, key, 'cpu', numel)
  pickle.op(OP_MARK);
  pickle.sharedString('storage');
  pickle.global('torch', storageClassName(tensor.dtype));
  // one str object per storage in torch's id_map: a storage viewed twice is fetched back from the memo
  pickle.sharedString(slot.key);
  pickle.sharedString('cpu');
  pickle.int(slot.numel);
  pickle.op(OP_TUPLE);
  pickle.memoize();
  pickle.op(OP_BINPERSID);
  pickle.int(slot.offset);
  pickle.intTuple(tensor.shape);
  pickle.intTuple(contiguousStrides(tensor.shape));
  pickle.op(OP_NEWFALSE);
  pickle.global('collections', 'OrderedDict');
  pickle.op(OP_EMPTY_TUPLE, OP_REDUCE);
  pickle.memoize();
  pickle.op(OP_TUPLE);
  pickle.memoize();
  pickle.op(OP_REDUCE);
  pickle.memoize();
}

function encodeStateDictPickle(entries: Array<[string, RawTensor]>, slots: StorageSlot[]): Buffer {
  const pickle = new TorchPickleWriter();
  pickle.op(OP_PROTO, 2);
  pickle.global('collections', 'OrderedDict');
  pickle.op(OP_EMPTY_TUPLE, OP_REDUCE);
  pickle.memoize();
  for (let start = 0; start < entries.length; start += PICKLE_BATCH_SIZE) {
    const batch = entries.slice(start, start + PICKLE_BATCH_SIZE);
    if (batch.length > 1) pickle.op(OP_MARK);
    batch.forEach(([name, tensor], i) => {
      pickle.string(name);
      writeTensorValue(pickle, tensor, slots[start + i]);
    });
    pickle.op(batch.length > 1 ? OP_SETITEMS : OP_SETITEM);
  }
  pickle.op(OP_STOP);
  return pickle.bytes();
}

/** The archive folder torch derives from a path: the base name up to its last dot ('archive' if that is empty). */
export function torchArchiveName(filePath: string): string {
  const base = path.basename(filePath);
  const dot = base.lastIndexOf('.');
  const stem = dot >= 0 ? base.slice(0, dot) : base;
  return stem || 'archive';
}

/** The bytes of a torch 1.13 zip checkpoint of `tensors`, as chunks to write in order (tensor data is not copied). */
export function encodePth(tensors: RawStateDictInput, options: PthWriteOptions & { file?: string } = {}): Buffer[] {
  const file = options.file ?? BUFFER_LABEL;
  const entries = stateDictEntries(tensors, file);
  for (const [name, tensor] of entries) assertValidRawTensor(name, tensor, file);
  const folder = options.archiveName ?? (options.file ? torchArchiveName(options.file) : 'archive');
  // tensors viewing the same memory share one storage, written once (keys in order of first use, as torch's)
  const groups = groupSharedStorages(entries, file);
  const slots = new Array<StorageSlot>(entries.length);
  groups.forEach((group, key) => {
    for (const member of group.members) slots[member.index] = { key: String(key), numel: group.data.length / dtypeSize(group.dtype), offset: member.offset };
  });
  // torch writes the storages sorted by key as strings: data/0, data/1, data/10, data/11, ..., data/2
  const storageKeys = groups.map((_, i) => String(i)).sort();
  return encodeStoredZip([
    { name: `${folder}/data.pkl`, data: encodeStateDictPickle(entries, slots) },
    ...storageKeys.map((key) => ({ name: `${folder}/data/${key}`, data: groups[Number(key)].data })),
    { name: `${folder}/version`, data: Buffer.from(ZIP_FORMAT_VERSION, 'latin1') },
  ]);
}

/** Writes `tensors` as torch 1.13's `torch.save(OrderedDict)` would, atomically. */
export function writePthRaw(filePath: string, tensors: RawStateDictInput, options: PthWriteOptions = {}): void {
  writeFileAtomic(filePath, encodePth(tensors, { ...options, file: filePath }));
}

export async function writePthRawAsync(filePath: string, tensors: RawStateDictInput, options: PthWriteOptions = {}): Promise<void> {
  await writeFileAtomicAsync(filePath, encodePth(tensors, { ...options, file: filePath }));
}
