// ImagePool: a history of generated images, so D sees older fakes too (Shrivastava et al. 2017), which damps
// oscillation. The algorithm, including its random draws, is the reference's (util/image_pool.py).
import { cat, keep, Tensor, tidy } from '../tensor';
import type { PythonRandom } from '../util/python_random';

/** The reference's image pool: returns a mix of the new fakes and older ones to D. */
export class ImagePool {
  private images: Tensor[] = [];

  constructor(readonly poolSize: number, private readonly rng: PythonRandom) {}

  get size(): number { return this.images.length; }

  /**
   * Returns a batch of the same size: each image is either itself (pool not full, or with p = 0.5) or a stored one
   * that it replaces. The returned tensor is new (detached); the caller owns it.
   */
  query(images: Tensor): Tensor {
    if (this.poolSize === 0) return images.detach();
    return tidy(() => {
      const returned: Tensor[] = [];
      const n = images.shape[0];
      for (let i = 0; i < n; i++) {
        const image = images.slice(0, i, i + 1).detach();
        if (this.images.length < this.poolSize) {
          this.images.push(keepClone(image));
          returned.push(image);
        } else if (this.rng.uniform(0, 1) > 0.5) {
          const id = this.rng.randint(0, this.poolSize - 1);
          const old = this.images[id];
          returned.push(old.clone());
          this.images[id] = keepClone(image);
          old.dispose();
        } else {
          returned.push(image);
        }
      }
      return cat(returned, 0);
    });
  }

  /** Stored images (shared), for checkpointing the pool. */
  contents(): Tensor[] { return [...this.images]; }
  /** Replaces the contents with copies of `images`. */
  restore(images: Tensor[]): void {
    this.clear();
    for (const t of images.slice(0, this.poolSize)) this.images.push(keepClone(t));
  }
  /** Empties the pool and releases its images. */
  clear(): void {
    for (const t of this.images) t.dispose();
    this.images = [];
  }
}

// Stored images outlive the tidy() scope of the query that adds them.
function keepClone(t: Tensor): Tensor {
  return keep(t.detach().clone());
}
