/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}` padded with spaces to a multiple
 * of 8, then the tensors' bytes back to back. Reading checks every field against the file as the reference
 * implementation does (in range, no overlap, no unclaimed bytes); tensors come back in the order of their data,
 * which is the writer's order. We write in state-dict order.
 */
import * as fs from 'fs';
import { writeFileAtomic, writeFileAtomicAsync } from '../util/atomic_write';
import {
  assertValidRawTensor,
  BUFFER_LABEL,
  CheckpointError,
  DType,
  dtypeSize,
  RawStateDict,
  RawStateDictInput,
  readCheckpointFile,
  stateDictEntries,
} from './raw_tensor';
import { assertNoSharedMemory } from './shared_storage';
import { SAFETENSORS_MAX_HEADER_SIZE } from './sniff';

const HEADER_LENGTH_SIZE = 8;
const HEADER_ALIGNMENT = 8;
const METADATA_KEY = '__metadata__';

const DTYPE_BY_CODE: Record<string, DType> = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};

const CODE_BY_DTYPE = Object.fromEntries(Object.entries(DTYPE_BY_CODE).map(([code, dtype]) => [dtype, code])) as Record<DType, string>;

export interface SafetensorsReadResult {
  tensors: RawStateDict;
  /** The header's `__metadata__` ({} when absent). */
  metadata: Record<string, string>;
}

interface HeaderTensor {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function brief(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function parseHeader(bytes: Buffer, file: string): { header: Record<string, unknown>; dataStart: number } {
  if (bytes.length < HEADER_LENGTH_SIZE) {
    throw new CheckpointError(file, `is truncated: Expected at least ${HEADER_LENGTH_SIZE} bytes for a safetensors file but received ${bytes.length}`);
  }
  const headerLength = bytes.readBigUInt64LE(0);
  if (headerLength > BigInt(SAFETENSORS_MAX_HEADER_SIZE)) {
    throw new CheckpointError(file, `is refused: Expected a safetensors header of at most ${SAFETENSORS_MAX_HEADER_SIZE} bytes but received ${headerLength}`);
  }
  const dataStart = HEADER_LENGTH_SIZE + Number(headerLength);
  if (dataStart > bytes.length) {
    throw new CheckpointError(file, `is truncated: Expected a ${headerLength}-byte safetensors header but the file has ${bytes.length} bytes`);
  }
  let header: unknown;
  try {
    header = JSON.parse(bytes.toString('utf8', HEADER_LENGTH_SIZE, dataStart));
  } catch (err) {
    throw new CheckpointError(file, `is damaged: its safetensors header is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(header)) throw new CheckpointError(file, `is damaged: Expected a JSON object for its safetensors header but received ${brief(header)}`);
  return { header, dataStart };
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) throw new CheckpointError(file, `is damaged: Expected an object of strings for __metadata__ but received ${brief(value)}`);
  const metadata: Record<string, string> = {};
  for (const [key, text] of Object.entries(value)) {
    if (typeof text !== 'string') throw new CheckpointError(file, `is damaged: Expected a string for __metadata__.${key} but received ${brief(text)}`);
    metadata[key] = text;
  }
  return metadata;
}

function parseTensorInfo(name: string, info: unknown, dataLength: number, file: string): HeaderTensor {
  const bad = (what: string, received: unknown): CheckpointError =>
    new CheckpointError(file, `is damaged: Expected ${what} for tensor '${name}' but received ${brief(received)}`);
  if (!isPlainObject(info)) throw bad('{dtype, shape, data_offsets}', info);
  const dtype = typeof info.dtype === 'string' ? DTYPE_BY_CODE[info.dtype] : undefined;
  if (!dtype || !Object.prototype.hasOwnProperty.call(DTYPE_BY_CODE, info.dtype as string)) {
    throw bad(`a dtype among ${Object.keys(DTYPE_BY_CODE).join(', ')}`, info.dtype);
  }
  const shape = info.shape;
  if (!Array.isArray(shape) || !shape.every((size) => Number.isSafeInteger(size) && size >= 0)) throw bad('a shape of non-negative integers', shape);
  const offsets = info.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((offset) => Number.isSafeInteger(offset))) {
    throw bad('data_offsets [begin, end]', offsets);
  }
  const [begin, end] = offsets as number[];
  if (begin < 0 || begin > end || end > dataLength) throw bad(`data_offsets within the ${dataLength} data bytes`, offsets);
  const expectedBytes = (shape as number[]).reduce((bytes, size) => bytes * BigInt(size), BigInt(dtypeSize(dtype)));
  if (expectedBytes !== BigInt(end - begin)) {
    throw bad(`${expectedBytes} bytes (shape [${(shape as number[]).join(', ')}] of ${dtype}) between data_offsets`, offsets);
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** The reference reader requires the tensors to tile the data exactly: no overlap, no hidden bytes. */
function assertTiled(tensors: HeaderTensor[], dataLength: number, file: string): void {
  let cursor = 0;
  let previous: HeaderTensor | undefined;
  for (const tensor of tensors) {
    if (tensor.begin < cursor) {
      throw new CheckpointError(file, `is damaged: tensors '${previous?.name}' and '${tensor.name}' overlap (bytes ${tensor.begin}..${cursor})`);
    }
    if (tensor.begin > cursor) throw new CheckpointError(file, `is damaged: data bytes ${cursor}..${tensor.begin} belong to no tensor`);
    cursor = tensor.end;
    previous = tensor;
  }
  if (cursor !== dataLength) throw new CheckpointError(file, `is damaged: data bytes ${cursor}..${dataLength} belong to no tensor`);
}

/**
 * Reads a safetensors file (or its bytes). Tensor data are views into the file's bytes. Throws a CheckpointError
 * naming the file for anything out of range, overlapping or of an unknown dtype.
 */
/** A safetensors file's `__metadata__`, reading only its header (the tensors stay on disk). */
export function readSafetensorsMetadata(file: string): Record<string, string> {
  const fd = fs.openSync(file, 'r');
  try {
    const size = Buffer.alloc(HEADER_LENGTH_SIZE);
    fs.readSync(fd, size, 0, HEADER_LENGTH_SIZE, 0);
    const length = size.readBigUInt64LE(0);
    // An oversized length is read as the 8 bytes alone, which parseHeader then refuses by name.
    const wanted = HEADER_LENGTH_SIZE + Number(length <= BigInt(SAFETENSORS_MAX_HEADER_SIZE) ? length : 0n);
    const head = Buffer.alloc(Math.min(wanted, fs.fstatSync(fd).size));
    fs.readSync(fd, head, 0, head.length, 0);
    return parseMetadata(parseHeader(head, file).header[METADATA_KEY], file);
  } finally {
    fs.closeSync(fd);
  }
}

export function readSafetensorsRaw(source: string | Buffer, options: { label?: string } = {}): SafetensorsReadResult {
  const file = options.label ?? (typeof source === 'string' ? source : BUFFER_LABEL);
  const bytes = typeof source === 'string' ? readCheckpointFile(source) : source;
  const { header, dataStart } = parseHeader(bytes, file);
  const dataLength = bytes.length - dataStart;

  let metadata: Record<string, string> = {};
  const infos: HeaderTensor[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === METADATA_KEY) metadata = parseMetadata(info, file);
    else infos.push(parseTensorInfo(name, info, dataLength, file));
  }
  // Array.prototype.sort is stable: zero-size tensors sharing an offset keep their header order.
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  assertTiled(infos, dataLength, file);

  const tensors: RawStateDict = new Map();
  for (const info of infos) {
    tensors.set(info.name, {
      dtype: info.dtype,
      shape: info.shape,
      data: bytes.subarray(dataStart + info.begin, dataStart + info.end),
    });
  }
  return { tensors, metadata };
}

/** The file's bytes as chunks to write in order (tensor data is not copied). */
export function encodeSafetensors(tensors: RawStateDictInput, metadata?: Record<string, string>, file = BUFFER_LABEL): Buffer[] {
  const entries = stateDictEntries(tensors, file);
  // Built by hand rather than with JSON.stringify(object): an object would move integer-like names ("0") first.
  const headerParts: string[] = [];
  if (metadata && Object.keys(metadata).length) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') {
        throw new CheckpointError(file, `cannot be written: Expected a string for metadata '${key}' but received ${brief(value)}`);
      }
    }
    headerParts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }
  for (const [name, tensor] of entries) assertValidRawTensor(name, tensor, file);
  assertNoSharedMemory(entries, file);
  let offset = 0;
  const data: Buffer[] = [];
  for (const [name, tensor] of entries) {
    if (name === METADATA_KEY) throw new CheckpointError(file, `cannot be written: '${METADATA_KEY}' is reserved and cannot name a tensor`);
    const info = { dtype: CODE_BY_DTYPE[tensor.dtype], shape: tensor.shape, data_offsets: [offset, offset + tensor.data.length] };
    headerParts.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset += tensor.data.length;
    data.push(tensor.data);
  }
  const json = Buffer.from(`{${headerParts.join(',')}}`, 'utf8');
  const padding = (HEADER_ALIGNMENT - (json.length % HEADER_ALIGNMENT)) % HEADER_ALIGNMENT;
  const header = Buffer.alloc(HEADER_LENGTH_SIZE + json.length + padding, ' ');
  header.writeBigUInt64LE(BigInt(json.length + padding), 0);
  json.copy(header, HEADER_LENGTH_SIZE);
  return [header, ...data.filter((chunk) => chunk.length > 0)];
}

/** Writes a safetensors file atomically, tensors in the given order. */
export function writeSafetensorsRaw(path: string, tensors: RawStateDictInput, metadata?: Record<string, string>): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata, path));
}

export async function writeSafetensorsRawAsync(path: string, tensors: RawStateDictInput, metadata?: Record<string, string>): Promise<void> {
  await writeFileAtomicAsync(path, encodeSafetensors(tensors, metadata, path));
}
