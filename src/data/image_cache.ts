/**
 * Decoded images kept in memory between epochs, least recently used first out, within a byte budget. What is
 * cached is a decoded image after the steps that never change between epochs (RGB conversion, A|B split,
 * grayscale, resize) and before the random ones (crop, flip), so later epochs neither read nor decode nor
 * resize a file while it fits; they only crop, flip and normalize.
 */
import { RawImage8 } from './image';

/** Default budget of decoded images, in bytes: facades' 400 train images take about 160 MB. */
export const DEFAULT_CACHE_BUDGET_BYTES = 2 * 1024 ** 3;

export class DecodedImageCache {
  private readonly entries = new Map<string, RawImage8>();
  private bytes = 0;

  constructor(readonly budgetBytes: number = DEFAULT_CACHE_BUDGET_BYTES) {
    if (!(budgetBytes >= 0)) {
      throw new Error(`Expected a byte count >= 0 for the decoded-image cache budget but received ${budgetBytes}`);
    }
  }

  get(key: string): RawImage8 | undefined {
    const img = this.entries.get(key);
    if (img) {
      // re-insert to mark it most recently used
      this.entries.delete(key);
      this.entries.set(key, img);
    }
    return img;
  }

  /** Stores an image unless it alone exceeds the budget; evicts the least recently used images to make room. */
  set(key: string, img: RawImage8): void {
    const size = img.data.byteLength;
    if (size > this.budgetBytes) return;
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.data.byteLength;
      this.entries.delete(key);
    }
    for (const [oldestKey, oldest] of this.entries) {
      if (this.bytes + size <= this.budgetBytes) break;
      this.entries.delete(oldestKey);
      this.bytes -= oldest.data.byteLength;
    }
    this.entries.set(key, img);
    this.bytes += size;
  }

  get size(): number {
    return this.entries.size;
  }

  get usedBytes(): number {
    return this.bytes;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}
