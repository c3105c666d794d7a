/**
 * State dicts on disk, whatever the format: reading sniffs the file's magic bytes (so a misnamed file still
 * works), writing picks the format from the extension (`.safetensors`, anything else = torch's zip `.pth`).
 */
import * as path from 'path';
import { readPthRaw, writePthRaw, writePthRawAsync } from './pth';
import { BUFFER_LABEL, RawStateDict, RawStateDictInput, readCheckpointFile } from './raw_tensor';
import { readSafetensorsRaw, writeSafetensorsRaw, writeSafetensorsRawAsync } from './safetensors';
import { CheckpointFormat, sniffCheckpointFormat } from './sniff';

export interface StateDictReadResult {
  tensors: RawStateDict;
  format: CheckpointFormat;
  /** A safetensors file's `__metadata__`; {} for .pth. */
  metadata: Record<string, string>;
  /** A .pth OrderedDict's `_metadata` module versions (BatchNorm: 2); {} for safetensors. */
  moduleVersions: Record<string, number>;
  /** Non-tensor entries of a .pth dict that were skipped. */
  notes: string[];
}

/** Reads a state dict from a .pth (zip or legacy) or .safetensors file, or from its bytes. */
export function readStateDictRaw(source: string | Buffer, options: { label?: string } = {}): StateDictReadResult {
  const label = options.label ?? (typeof source === 'string' ? source : BUFFER_LABEL);
  const bytes = typeof source === 'string' ? readCheckpointFile(source) : source;
  const format = sniffCheckpointFormat(bytes, label);
  if (format === 'safetensors') {
    const { tensors, metadata } = readSafetensorsRaw(bytes, { label });
    return { tensors, format, metadata, moduleVersions: {}, notes: [] };
  }
  const { tensors, moduleVersions, notes } = readPthRaw(bytes, { label });
  return { tensors, format, metadata: {}, moduleVersions, notes };
}

export function isSafetensorsPath(filePath: string): boolean {
  return path.extname(filePath).toLowerCase() === '.safetensors';
}

/**
 * Writes a state dict atomically: safetensors for a `.safetensors` path (with `metadata` in its header), otherwise
 * a torch 1.13 zip `.pth` (which has no place for `metadata`; it is not written there).
 */
export function writeStateDictRaw(filePath: string, tensors: RawStateDictInput, metadata?: Record<string, string>): void {
  if (isSafetensorsPath(filePath)) writeSafetensorsRaw(filePath, tensors, metadata);
  else writePthRaw(filePath, tensors);
}

export async function writeStateDictRawAsync(filePath: string, tensors: RawStateDictInput, metadata?: Record<string, string>): Promise<void> {
  if (isSafetensorsPath(filePath)) await writeSafetensorsRawAsync(filePath, tensors, metadata);
  else await writePthRawAsync(filePath, tensors);
}

export { CheckpointError, contiguousStrides, dtypeSize, DTYPES, isDType, numel } from './raw_tensor';
export type { DType, RawStateDict, RawStateDictInput, RawTensor } from './raw_tensor';
export type { CheckpointFormat } from './sniff';
export { sniffCheckpointFormat } from './sniff';
export { readPthRaw, writePthRaw, writePthRawAsync, encodePth } from './pth';
export type { PthReadResult, PthWriteOptions } from './pth';
export { readSafetensorsRaw, writeSafetensorsRaw, writeSafetensorsRawAsync, encodeSafetensors } from './safetensors';
export type { SafetensorsReadResult } from './safetensors';
