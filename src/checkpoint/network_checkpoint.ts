// Network checkpoints as users see them: the reference's file names and .pth format, plus what makes ours
// self-describing (the network's options in safetensors metadata, or a sidecar JSON next to a .pth).
import * as fs from 'fs';
import * as path from 'path';
import type { NetworkDescription } from '../architectures';
import type { Network } from '../networks';
import { networkFromDescription } from '../networks';
import { Tensor } from '../tensor';
import { writeFileAtomic } from '../util/atomic_write';
import { isSafetensorsPath, readStateDictRaw, writeSafetensorsRaw, writeStateDictRaw } from './index';
import { readSafetensorsMetadata } from './safetensors';
import { sniffCheckpointFormat } from './sniff';
import type { CheckpointFormat } from './sniff';
import type { RawStateDict, RawTensor } from './raw_tensor';

/** Stored next to every network we write: enough to rebuild it without repeating flags. */
export interface CheckpointInfo {
  format: 'torch-img2img';
  version: 1;
  network: NetworkDescription;
  /** Extra context: model, direction, name, epoch… (strings). */
  context?: Record<string, string | number | boolean>;
}

export const METADATA_KEY = 'img2img';

/** The sidecar of a .pth: same path with .json instead of .pth. */
export function sidecarPath(checkpoint: string): string {
  const ext = path.extname(checkpoint);
  return (ext ? checkpoint.slice(0, -ext.length) : checkpoint) + '.json';
}

/** The state dict of a network as raw bytes (CPU copies), in its order. */
export function networkToRaw(net: Network): RawStateDict {
  const out: RawStateDict = new Map();
  for (const [k, t] of net.stateDict()) {
    out.set(k, { dtype: t.dtype as RawTensor['dtype'], shape: t.shape, data: t.toBytes() });
    t.dispose();
  }
  return out;
}

/** Writes a network atomically: .safetensors with its description in the header, or .pth plus sidecar JSON. */
export function saveNetworkCheckpoint(net: Network, file: string, context?: CheckpointInfo['context']): void {
  const info: CheckpointInfo = { format: 'torch-img2img', version: 1, network: net.description, context };
  const raw = networkToRaw(net);
  if (isSafetensorsPath(file)) {
    writeStateDictRaw(file, raw, { [METADATA_KEY]: JSON.stringify(info) });
  } else {
    writeStateDictRaw(file, raw);
    writeFileAtomic(sidecarPath(file), JSON.stringify(info, null, 2) + '\n');
  }
}

/** A checkpoint file as loadCheckpoint reads it: its format, raw tensors and our sidecar description, if any. */
export interface LoadedCheckpoint {
  file: string;
  format: CheckpointFormat;
  tensors: RawStateDict;
  /** Our description of the network, when the checkpoint has one. */
  info: CheckpointInfo | null;
  /** The file's string metadata (safetensors header; empty for .pth). */
  metadata: Record<string, string>;
}

/** The description stored for one checkpoint file (its format told by content), or null. */
export function readCheckpointInfo(file: string): CheckpointInfo | null {
  const format = sniffCheckpointFormat(file);
  return infoOf(file, format, format === 'safetensors' ? readSafetensorsMetadata(file) : {});
}

/** The description in a safetensors header, or in the sidecar of a .pth. */
function infoOf(file: string, format: CheckpointFormat, metadata: Record<string, string>): CheckpointInfo | null {
  if (format === 'safetensors') return metadata[METADATA_KEY] ? parseInfo(metadata[METADATA_KEY], `in ${file}`) : null;
  const side = sidecarPath(file);
  return side !== file && fs.existsSync(side) ? parseInfo(fs.readFileSync(side, 'utf8'), side) : null;
}

function parseInfo(text: string, where: string): CheckpointInfo | null {
  try {
    const v = JSON.parse(text);
    if (v && v.format === 'torch-img2img' && v.network && typeof v.network.arch === 'string') return v as CheckpointInfo;
  } catch {
    throw new Error(`checkpoint description ${where} is not valid JSON`);
  }
  return null;
}

/** Reads any checkpoint (.pth zip or legacy, .safetensors) by its content, with its description if any. */
export function loadCheckpoint(file: string): LoadedCheckpoint {
  const r = readStateDictRaw(file);
  return { file, format: r.format, tensors: r.tensors, info: infoOf(file, r.format, r.metadata), metadata: r.metadata };
}

/** Builds the network a self-describing checkpoint describes and loads it. */
export function networkFromCheckpoint(file: string, opts: { device?: string } = {}): Network {
  const ck = loadCheckpoint(file);
  if (!ck.info) {
    throw new Error(`checkpoint ${file} does not describe its network (no ${METADATA_KEY} metadata or sidecar ${path.basename(sidecarPath(file))}); ` +
      'pass the architecture options (netG, norm, ngf, …) explicitly');
  }
  const net = networkFromDescription(ck.info.network, opts);
  try {
    net.loadStateDict(ck.tensors, { what: `checkpoint ${file}` });
  } catch (e) {
    net.dispose();
    throw e;
  }
  return net;
}

/** Reads a .safetensors file into Tensors (public API). */
export function readSafetensors(file: string): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const r = readStateDictRaw(file);
  const tensors = new Map<string, Tensor>();
  for (const [k, v] of r.tensors) tensors.set(k, Tensor.fromBytes(v.data, v.dtype, v.shape));
  return { tensors, metadata: r.metadata };
}

/** Writes Tensors to a .safetensors file atomically (public API). */
export function writeSafetensors(file: string, tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>): void {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const raw: RawStateDict = new Map(entries.map(([k, t]) => [k, { dtype: t.dtype as RawTensor['dtype'], shape: t.shape, data: t.toBytes() }]));
  writeSafetensorsRaw(file, raw, metadata);
}

/** img2img convert: .pth <-> .safetensors, keeping our description (sidecar <-> metadata). */
export function convertCheckpoint(input: string, output: string): { tensors: number; format: CheckpointFormat } {
  const ck = loadCheckpoint(input);
  if (isSafetensorsPath(output)) {
    writeStateDictRaw(output, ck.tensors, ck.info ? { [METADATA_KEY]: JSON.stringify(ck.info) } : undefined);
  } else {
    writeStateDictRaw(output, ck.tensors);
    if (ck.info) writeFileAtomic(sidecarPath(output), JSON.stringify(ck.info, null, 2) + '\n');
  }
  return { tensors: ck.tensors.size, format: ck.format };
}
