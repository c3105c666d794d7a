// The pieces of data-parallel training that need no second process: the distributed sampler (which images each
// rank reads), the environment a worker reads, and the launcher's worker environment.
import * as assert from 'assert';
import { DistributedSampler } from '../../src/distributed/sampler';
import { readDistributedEnv, DEFAULT_DIST_TIMEOUT_MS } from '../../src/distributed/env';
import { workerEnv } from '../../src/distributed/launcher';

describe('distributed: DistributedSampler', () => {
  it('with --serial_batches rank r of W reads r, r+W, …: together the batches of one process with W times the batch', () => {
    const shards = [0, 1].map((r) => new DistributedSampler(r, 2, false, 7).indices(4));
    assert.deepStrictEqual(shards, [[0, 2], [1, 3]]);
    // Batch 1 per rank, step k: {shard0[k], shard1[k]} = the k-th batch of 2 in serial order.
    assert.deepStrictEqual([0, 1].map((k) => [shards[0][k], shards[1][k]]), [[0, 1], [2, 3]]);
  });

  it('pads to a multiple of the world size by repeating the start, as torch does (drop_last=False)', () => {
    const shards = [0, 1, 2].map((r) => new DistributedSampler(r, 3, false, 0).indices(4));
    assert.deepStrictEqual(shards, [[0, 3], [1, 0], [2, 1]]);
    for (const r of [0, 1, 2]) assert.strictEqual(new DistributedSampler(r, 3, false, 0).numSamples(4), 2);
    // More ranks than items: the order repeats as often as needed.
    assert.deepStrictEqual([0, 1, 2, 3].map((r) => new DistributedSampler(r, 4, false, 0).indices(1)), [[0], [0], [0], [0]]);
  });

  it('shuffles with seed + epoch: the same permutation on every rank, disjoint shards that cover the data, a new order each epoch', () => {
    const n = 10, world = 3;
    const epochOrder = (epoch: number) => {
      const samplers = Array.from({ length: world }, (_, r) => new DistributedSampler(r, world, true, 5));
      for (const s of samplers) s.setEpoch(epoch);
      return samplers.map((s) => s.indices(n));
    };
    const e1 = epochOrder(1);
    const all = e1.flat();
    assert.strictEqual(all.length, 12);
    assert.deepStrictEqual([...new Set(all)].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
    assert.deepStrictEqual(epochOrder(1), e1, 'deterministic');
    assert.notDeepStrictEqual(epochOrder(2), e1, 'set_epoch changes the order');
    assert.notDeepStrictEqual(e1.flat().slice(0, n), Array.from({ length: n }, (_, i) => i));
  });
});

describe('distributed: environment', () => {
  it('runs alone without WORLD_SIZE or with WORLD_SIZE=1', () => {
    assert.strictEqual(readDistributedEnv({}), null);
    assert.strictEqual(readDistributedEnv({ WORLD_SIZE: '1', RANK: '0' }), null);
  });

  it('reads torchrun\'s variables, with LOCAL_* and the timeout defaulted', () => {
    const env = readDistributedEnv({ WORLD_SIZE: '4', RANK: '3', MASTER_ADDR: 'node0', MASTER_PORT: '29500', LOCAL_WORLD_SIZE: '2' });
    assert.deepStrictEqual(env, {
      worldSize: 4, rank: 3, localRank: 1, localWorldSize: 2, masterAddr: 'node0', masterPort: 29500,
      timeoutMs: DEFAULT_DIST_TIMEOUT_MS, glooInterface: undefined,
    });
    assert.strictEqual(readDistributedEnv({ WORLD_SIZE: '2', RANK: '0', MASTER_ADDR: 'a', MASTER_PORT: '1', IMG2IMG_DIST_TIMEOUT_MS: '2500' })!.timeoutMs, 2500);
  });

  it('names the variable that is wrong', () => {
    assert.throws(() => readDistributedEnv({ WORLD_SIZE: '2', MASTER_ADDR: 'a', MASTER_PORT: '1' }), /Expected an integer >= 0 .* for RANK but received nothing/);
    assert.throws(() => readDistributedEnv({ WORLD_SIZE: '2', RANK: '2', MASTER_ADDR: 'a', MASTER_PORT: '1' }), /Expected an integer below WORLD_SIZE 2 for RANK but received '2'/);
    assert.throws(() => readDistributedEnv({ WORLD_SIZE: '2', RANK: '0', MASTER_PORT: '1' }), /for MASTER_ADDR but received nothing/);
    assert.throws(() => readDistributedEnv({ WORLD_SIZE: 'two' }), /Expected an integer >= 1 for WORLD_SIZE but received 'two'/);
    assert.throws(() => readDistributedEnv({ WORLD_SIZE: '2', RANK: '0', MASTER_ADDR: 'a', MASTER_PORT: '70000' }), /a port in 1..65535 for MASTER_PORT/);
  });

  it('the launcher gives each worker torchrun\'s variables and a share of the cores unless threads were chosen', () => {
    const env = workerEnv({ PATH: '/bin' }, 1, 2, '127.0.0.1', 1234);
    assert.strictEqual(env.WORLD_SIZE, '2');
    assert.strictEqual(env.RANK, '1');
    assert.strictEqual(env.LOCAL_RANK, '1');
    assert.strictEqual(env.LOCAL_WORLD_SIZE, '2');
    assert.strictEqual(env.MASTER_ADDR, '127.0.0.1');
    assert.strictEqual(env.MASTER_PORT, '1234');
    assert.ok(Number(env.OMP_NUM_THREADS) >= 1);
    assert.strictEqual(workerEnv({ IMG2IMG_THREADS: '3' }, 0, 2, 'h', 1).OMP_NUM_THREADS, undefined);
  });
});
