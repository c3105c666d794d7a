// Issue 7, disk full: ENOSPC in the middle of a save gives a clear error naming the file and leaves the previous
// checkpoint byte-identical, with no temporary behind. The full disk is a small tmpfs mounted for the test (needs
// root or CAP_SYS_ADMIN); where it cannot be mounted the test fails and says why rather than skipping.
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { defineG, manualSeed, saveNetworkCheckpoint } from '../../src';
import { readStateDictRaw } from '../../src/checkpoint';
import { readTrainingStateMeta } from '../../src/train/training_state';
import { AtomicWriteError } from '../../src/util/atomic_write';
import { QUIET, TINY, facadesDataset, hashFiles, runCli, temporaries, tmpdir } from './helpers';

const DISK_BYTES = 32 * 1024 * 1024;

/** Fills the file system holding `dir` with `<dir>/filler` until ENOSPC, then frees `leaveFree` bytes of it. */
function fillDisk(dir: string, leaveFree: number): void {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  let size = 0;
  try {
    for (;;) {
      try {
        size += fs.writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw err;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.truncateSync(filler, Math.max(0, size - leaveFree));
}

describe('reliability: a full disk during a save keeps the previous checkpoint', function () {
  this.timeout(300000);
  const tmp = tmpdir('diskfull');
  const disk = path.join(tmp, 'disk');
  let mounted = false;
  let mountError = '';

  before(() => {
    fs.mkdirSync(disk, { recursive: true });
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_BYTES}`, 'tmpfs', disk], { stdio: 'pipe' });
      mounted = true;
    } catch (err) {
      mountError = `${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message}`;
    }
  });
  after(() => {
    if (mounted) {
      try { execFileSync('umount', [disk], { stdio: 'pipe' }); } catch { execFileSync('umount', ['-l', disk], { stdio: 'pipe' }); }
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function requireDisk(): void {
    if (!mounted) {
      assert.fail(`cannot run: mounting a ${DISK_BYTES >> 20} MB tmpfs at ${disk} failed (${mountError}). ` +
        'This test needs root or CAP_SYS_ADMIN (e.g. docker --cap-add SYS_ADMIN) to make a small full disk.');
    }
  }

  it('saveNetworkCheckpoint on a full disk throws AtomicWriteError naming the file and ENOSPC; the old file is intact', () => {
    requireDisk();
    const dir = path.join(disk, 'api');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'latest_net_G.pth');
    manualSeed(1);
    const g = defineG({ netG: 'unet_128', ngf: 8 });
    try {
      saveNetworkCheckpoint(g, file, { model: 'test' });
      const before = hashFiles(dir, /./);
      fillDisk(dir, 64 * 1024);
      manualSeed(2);
      g.initWeights();
      assert.throws(() => saveNetworkCheckpoint(g, file, { model: 'test' }), (err: unknown) => {
        assert.ok(err instanceof AtomicWriteError, String(err));
        assert.match(err.message, /^Could not write \S+latest_net_G\.pth: ENOSPC: no space left on device.*\(the previous file, if any, is unchanged\)$/);
        return true;
      });
      assert.deepStrictEqual(hashFiles(dir, /latest_net_G/), Object.fromEntries(Object.entries(before).filter(([f]) => /latest_net_G/.test(f))));
      assert.deepStrictEqual(temporaries(dir), []);
      assert.ok(readStateDictRaw(file).tensors.has('model.model.0.weight'));
    } finally {
      g.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('img2img train --continue_train on a full disk exits 1 naming the file and ENOSPC; every latest_* file is unchanged', async () => {
    requireDisk();
    const data = facadesDataset(path.join(tmp, 'facades'), 2);
    const checkpoints = path.join(disk, 'checkpoints');
    const dir = path.join(checkpoints, 'full');
    const args = ['train', '--dataroot', data, '--name', 'full', '--checkpoints_dir', checkpoints, '--model', 'pix2pix', '--direction', 'BtoA',
      ...TINY, ...QUIET, '--n_epochs', '1', '--n_epochs_decay', '0', '--seed', '4'];
    const first = await runCli(args);
    assert.strictEqual(first.code, 0, first.out);
    const before = hashFiles(dir, /^latest_/);
    assert.ok(before['latest_state.safetensors'] && before['latest_net_G.pth'], JSON.stringify(before));

    fillDisk(disk, 256 * 1024); // room for train_opt.txt and the loss log, not for a checkpoint
    const r = await runCli([...args, '--continue_train', '--n_epochs', '2']);
    assert.strictEqual(r.code, 1, r.out);
    assert.match(r.out, /img2img train: Could not write \S+\/full\/latest_\S+: ENOSPC: no space left on device/);
    assert.doesNotMatch(r.out, /\n\s+at /, 'no stack trace');
    assert.deepStrictEqual(hashFiles(dir, /^latest_/), before);
    assert.deepStrictEqual(temporaries(dir), []);
    assert.strictEqual(readTrainingStateMeta(path.join(dir, 'latest_state.safetensors')).totalIters, 2);
  });
});
