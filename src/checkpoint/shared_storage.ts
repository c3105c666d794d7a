/**
 * Tensors that share memory, found before writing: a state dict read from a .pth whose tensors view one storage
 * (tied weights, or 2,000 views of one 1 MB storage in a hostile file) holds Buffers into the same bytes.
 * Writing each tensor's bytes separately would multiply the file (2,000 x 1 MB); instead the .pth writer writes
 * each shared region once as one storage, as torch.save does, and the safetensors writer refuses, as Python's
 * safetensors does (the format has no way to say that two tensors share bytes).
 */
import { CheckpointError, DType, dtypeSize, RawTensor } from './raw_tensor';

/** One storage to write: a region of memory and the tensors that view it. */
export interface StorageGroup {
  dtype: DType;
  /** The region's bytes (a view, not a copy). */
  data: Buffer;
  /** Indices into the entries, with each one's offset into the storage in elements. */
  members: Array<{ index: number; offset: number }>;
}

/**
 * Groups tensors by overlapping memory, in order of first appearance. Tensors that only touch (end = start) are
 * separate; empty tensors each get their own empty storage. Refuses overlaps that no storage can describe:
 * different dtypes, or an offset that is not a whole number of elements.
 */
export function groupSharedStorages(entries: ReadonlyArray<readonly [string, RawTensor]>, file: string): StorageGroup[] {
  type Span = { index: number; start: number; end: number };
  const byBuffer = new Map<ArrayBufferLike, Span[]>();
  const groupOf = new Array<number>(entries.length).fill(-1);
  const spans: Array<{ start: number; end: number; members: number[] }> = [];
  entries.forEach(([, tensor], index) => {
    const data = tensor.data;
    if (data.length === 0) return;
    const list = byBuffer.get(data.buffer) ?? [];
    list.push({ index, start: data.byteOffset, end: data.byteOffset + data.length });
    byBuffer.set(data.buffer, list);
  });
  for (const list of byBuffer.values()) {
    list.sort((a, b) => a.start - b.start || a.index - b.index);
    let current: { start: number; end: number; members: number[] } | null = null;
    for (const span of list) {
      if (current && span.start < current.end) {
        current.end = Math.max(current.end, span.end);
        current.members.push(span.index);
      } else {
        current = { start: span.start, end: span.end, members: [span.index] };
        spans.push(current);
      }
      groupOf[span.index] = spans.length - 1;
    }
  }
  const groups: StorageGroup[] = [];
  const emitted = new Map<number, number>();
  entries.forEach(([name, tensor], index) => {
    if (groupOf[index] < 0) {
      groups.push({ dtype: tensor.dtype, data: tensor.data, members: [{ index, offset: 0 }] });
      return;
    }
    if (emitted.has(groupOf[index])) return;
    const span = spans[groupOf[index]];
    emitted.set(groupOf[index], groups.length);
    const itemSize = dtypeSize(tensor.dtype);
    const region = Buffer.from(tensor.data.buffer, span.start, span.end - span.start);
    const members = span.members
      .slice()
      .sort((a, b) => a - b)
      .map((member) => {
        const [otherName, other] = entries[member];
        if (other.dtype !== tensor.dtype) {
          throw new CheckpointError(file, `cannot be written: Expected one dtype for tensors '${name}' and '${otherName}', which share memory, but received ${tensor.dtype} and ${other.dtype}`);
        }
        const offsetBytes = other.data.byteOffset - span.start;
        if (offsetBytes % itemSize !== 0 || (span.end - span.start) % itemSize !== 0) {
          throw new CheckpointError(file, `cannot be written: Expected tensor '${otherName}' to start on a ${tensor.dtype} element of the memory it shares with '${name}' but it starts at byte ${offsetBytes}`);
        }
        return { index: member, offset: offsetBytes / itemSize };
      });
    groups.push({ dtype: tensor.dtype, data: region, members });
  });
  return groups;
}

/** Refuses tensors that share memory (what safetensors cannot represent), naming the first pair. */
export function assertNoSharedMemory(entries: ReadonlyArray<readonly [string, RawTensor]>, file: string): void {
  const shared = groupSharedStorages(entries, file).find((group) => group.members.length > 1);
  if (!shared) return;
  const names = shared.members.map((member) => `'${entries[member.index][0]}'`);
  throw new CheckpointError(
    file,
    `cannot be written: Expected tensors with memory of their own for a safetensors file but received ${names.length} that share one ` +
      `${shared.data.length}-byte storage (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''}); ` +
      'safetensors cannot say that tensors share bytes, and writing each copy would multiply the file: write a .pth instead',
  );
}
