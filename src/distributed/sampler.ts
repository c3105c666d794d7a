// torch.utils.data.DistributedSampler (drop_last=False): each rank reads a disjoint shard of every epoch.
import type { Sampler } from '../data/data_loader';
import { PythonRandom } from '../util/python_random';

export class DistributedSampler implements Sampler {
  private epoch = 0;

  /**
   * `shuffle` false (--serial_batches) keeps the serial order, so rank r of W reads items r, r+W, r+2W, …: the
   * batches of W ranks together are exactly the batches of one process with W times the batch size.
   */
  constructor(readonly rank: number, readonly worldSize: number, readonly shuffle: boolean, readonly seed: number) {}

  /** As set_epoch: the permutation of each epoch is seeded with seed + epoch, the same on every rank. */
  setEpoch(epoch: number): void { this.epoch = epoch; }

  /** ceil(n / world size): every rank gets as many items (and batches) as the others. */
  numSamples(datasetLength: number): number { return Math.ceil(datasetLength / this.worldSize); }

  indices(datasetLength: number): number[] {
    const order = Array.from({ length: datasetLength }, (_, i) => i);
    if (this.shuffle) {
      const rng = new PythonRandom(this.seed + this.epoch);
      for (let i = order.length - 1; i > 0; i--) {  // Python's random.shuffle
        const j = rng.randint(0, i);
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    // Pad to a multiple of the world size by repeating the start (as torch does), then take every world-size-th.
    const total = this.numSamples(datasetLength) * this.worldSize;
    const padded = order.slice();
    while (padded.length < total && order.length > 0) padded.push(...order.slice(0, total - padded.length));
    return padded.filter((_, i) => i % this.worldSize === this.rank);
  }
}
