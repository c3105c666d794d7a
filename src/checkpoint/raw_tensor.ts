/**
 * The vocabulary every checkpoint reader and writer shares: a tensor as plain bytes, its dtype, and the error
 * thrown for a file that cannot be read. No torch is involved; the native layer turns a RawTensor into a tensor.
 */
import * as fs from 'fs';

/** The element types a state dict of this project can hold (the dtypes PyTorch saves with a typed storage). */
export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

/**
 * A dense tensor as bytes. `data` is contiguous (row-major), little-endian and exactly `numel(shape) * dtypeSize(dtype)`
 * bytes long. Readers may return `data` as a view into the file they read, so copy it before mutating.
 */
export interface RawTensor {
  dtype: DType;
  shape: number[];
  data: Buffer;
}

/** A state dict: tensor name -> tensor, in the module's order (Map insertion order). */
export type RawStateDict = Map<string, RawTensor>;

/** What writers accept: a state dict, or name/tensor pairs in the order to write them. */
export type RawStateDictInput = Map<string, RawTensor> | ReadonlyArray<readonly [string, RawTensor]>;

const DTYPE_SIZES: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export const DTYPES: readonly DType[] = Object.keys(DTYPE_SIZES) as DType[];

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZES, value);
}

/** Bytes per element of `dtype`. */
export function dtypeSize(dtype: DType): number {
  const size = DTYPE_SIZES[dtype];
  if (size === undefined) throw new TypeError(`Expected one of ${DTYPES.join(', ')} for dtype but received '${dtype}'`);
  return size;
}

/** Number of elements of a tensor of this shape (1 for a scalar `[]`). Throws for a dimension that is not a size. */
export function numel(shape: readonly number[]): number {
  let count = 1;
  for (const size of shape) {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new RangeError(`Expected non-negative integer sizes for shape but received [${shape.join(', ')}]`);
    }
    count *= size;
  }
  if (!Number.isSafeInteger(count)) throw new RangeError(`Expected a shape of fewer than 2^53 elements but received [${shape.join(', ')}]`);
  return count;
}

/** Strides (in elements) of a contiguous tensor of this shape, computed the way PyTorch does (sizes of 0 count as 1). */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let dim = shape.length - 1; dim >= 0; dim--) {
    strides[dim] = stride;
    stride *= Math.max(shape[dim], 1);
  }
  return strides;
}

/** Normalises writer input to pairs, refusing duplicate names (a Map cannot have them, an array can). */
export function stateDictEntries(tensors: RawStateDictInput, file: string): Array<[string, RawTensor]> {
  const entries: Array<[string, RawTensor]> = tensors instanceof Map ? [...tensors.entries()] : tensors.map(([k, v]) => [k, v]);
  const seen = new Set<string>();
  for (const [name] of entries) {
    if (seen.has(name)) throw new CheckpointError(file, `cannot be written: the tensor name '${name}' appears twice`);
    seen.add(name);
  }
  return entries;
}

/** Checks that a tensor handed to a writer is self-consistent, so we never write a file we could not read back. */
export function assertValidRawTensor(name: string, tensor: RawTensor, file: string): void {
  if (!isDType(tensor.dtype)) {
    throw new CheckpointError(file, `cannot be written: Expected one of ${DTYPES.join(', ')} for the dtype of '${name}' but received '${String(tensor.dtype)}'`);
  }
  let count: number;
  try {
    count = numel(tensor.shape);
  } catch (err) {
    throw new CheckpointError(file, `cannot be written: ${(err as Error).message} (tensor '${name}')`);
  }
  const expectedBytes = count * dtypeSize(tensor.dtype);
  if (!Buffer.isBuffer(tensor.data) || tensor.data.length !== expectedBytes) {
    const received = Buffer.isBuffer(tensor.data) ? `${tensor.data.length} bytes` : typeof tensor.data;
    throw new CheckpointError(
      file,
      `cannot be written: Expected ${expectedBytes} bytes (${count} ${tensor.dtype}) for the data of '${name}' but received ${received}`,
    );
  }
}

/**
 * Thrown for a checkpoint that cannot be read or written. The message always names the file; `file` holds it
 * exactly as the caller passed it (or `<buffer>` for in-memory input).
 */
export class CheckpointError extends Error {
  readonly code = 'ERR_IMG2IMG_CHECKPOINT';
  readonly file: string;

  /** `problem` continues the sentence "checkpoint <file> …", e.g. "is truncated: …". */
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`checkpoint ${file} ${problem}`, options);
    this.name = 'CheckpointError';
    this.file = file;
  }

  /** For a file that is no checkpoint at all, where "checkpoint <file>" would read wrong. */
  static notACheckpoint(file: string, detail: string): CheckpointError {
    const error = new CheckpointError(file, '');
    error.message = `${file} is not a checkpoint: expected a PyTorch .pth (zip or legacy) or .safetensors file${detail ? ` (${detail})` : ''}`;
    return error;
  }
}

/** The label used in messages when a reader is given bytes instead of a path. */
export const BUFFER_LABEL = '<buffer>';

/** Reads a whole checkpoint file, turning a file-system failure into a CheckpointError that names the file. */
export function readCheckpointFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new CheckpointError(file, `could not be read: ${(err as Error).message}`, { cause: err });
  }
}
