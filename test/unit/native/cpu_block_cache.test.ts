// The large-block CPU cache (cpp/cpu_block_cache.cc): reuse while held, nothing kept once released, values intact.
import * as assert from 'assert';
import * as os from 'os';
import { native } from '../../../src/native';
import { manualSeed, Tensor } from '../../../src';
import { createModel } from '../../../src/models';
import { parseOptions } from '../../../src/plugins';

describe('cpu block cache', () => {
  it('reuses a freed large block while held and unmaps it on the last release', () => {
    const n = native();
    const before = n.cpuBlockCacheStats();
    n.retainCpuBlockCache();
    try {
      const big = [1 << 20, 2]; // 8 MiB of floats
      const a = Tensor.randn(big);
      a.dispose();
      const held = n.cpuBlockCacheStats();
      assert.ok(held.cachedBytes >= 8 << 20, `cached ${held.cachedBytes}`);
      const b = Tensor.full(big, 3);
      const stats = n.cpuBlockCacheStats();
      assert.strictEqual(stats.hits, held.hits + 1);
      assert.deepStrictEqual([...b.toFloat32Array().subarray(0, 4)], [3, 3, 3, 3]); // a reused block holds new values
      b.dispose();
      Tensor.full([10], 1).dispose(); // small blocks never go through the cache
      assert.strictEqual(n.cpuBlockCacheStats().hits, stats.hits);
    } finally {
      n.releaseCpuBlockCache();
    }
    const after = n.cpuBlockCacheStats();
    assert.strictEqual(after.holders, before.holders);
    if (after.holders === 0) assert.strictEqual(after.cachedBytes, 0);
  });

  it('is held by a training model until it is disposed, and a released cache frees at once', () => {
    const n = native();
    manualSeed(0);
    const m = createModel(parseOptions(['--dataroot', 'unused', '--model', 'pix2pix', '--netG', 'unet_128', '--ngf', '8', '--ndf', '8',
      '--crop_size', '128', '--load_size', '128', '--checkpoints_dir', os.tmpdir(), '--seed', '0']));
    const base = n.cpuBlockCacheStats().holders;
    const img = () => ({ data: new Float32Array(3 * 128 * 128).fill(0.5), shape: [1, 3, 128, 128] });
    try {
      for (let i = 0; i < 2; i++) { m.setInput({ A: img(), B: img() }); m.optimizeParameters(); }
      assert.ok(base >= 1);
      assert.ok(n.cpuBlockCacheStats().hits > 0, 'the second step reused the first step\'s blocks');
    } finally {
      m.dispose();
    }
    assert.strictEqual(n.cpuBlockCacheStats().holders, base - 1);
    m.dispose(); // a second dispose drops no other holder's hold
    assert.strictEqual(n.cpuBlockCacheStats().holders, base - 1);
  });
});
