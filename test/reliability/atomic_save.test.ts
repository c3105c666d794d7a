// Issue 7, atomic saves: a kill -9 in the middle of a save leaves the previous checkpoint and training state complete
// and loadable, the unfinished temporary is never taken for a checkpoint, and the next run cleans it up.
// The kill lands inside the save for sure: IMG2IMG_FAULT_SAVE_DELAY_MS holds every write between "temporary file
// complete" and "rename" (see src/util/atomic_write.ts), and the test kills once the second save's first temporary
// exists.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { loadGenerator } from '../../src';
import { readStateDictRaw } from '../../src/checkpoint';
import { readTrainingStateMeta } from '../../src/train/training_state';
import { CliProcess, QUIET, TINY, facadesDataset, pollFor, runCli, sha256, temporaries, tmpdir } from './helpers';

describe('reliability: atomic checkpoints survive kill -9 in the middle of a save', function () {
  this.timeout(300000);
  const tmp = tmpdir('atomic');
  const data = facadesDataset(path.join(tmp, 'facades'), 4);
  const checkpoints = path.join(tmp, 'checkpoints');
  const dir = path.join(checkpoints, 'run');
  const G = path.join(dir, 'latest_net_G.pth');
  const STATE = path.join(dir, 'latest_state.safetensors');
  const args = ['train', '--dataroot', data, '--name', 'run', '--checkpoints_dir', checkpoints, '--model', 'pix2pix', '--direction', 'BtoA',
    ...TINY, ...QUIET, '--n_epochs', '2', '--n_epochs_decay', '0', '--save_latest_freq', '2', '--print_freq', '1', '--seed', '3'];
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  let firstG = '', firstState = '', leftover = '';

  it('SIGKILL while the second save is being written keeps latest_net_G.pth and latest_state.safetensors from the first', async () => {
    const child = new CliProcess(args, { env: { IMG2IMG_FAULT_SAVE_DELAY_MS: '1000' } });
    try {
      // The state file is the last one a save writes: once it exists, the first save (total_iters 2) is complete.
      await pollFor(() => fs.existsSync(STATE), 'the first save to complete');
      firstG = sha256(G);
      firstState = sha256(STATE);
      assert.strictEqual(readTrainingStateMeta(STATE).totalIters, 2);
      // The second save (total_iters 4) starts with the generator: kill while its temporary is written but not renamed.
      leftover = await pollFor(() => temporaries(dir).find((f) => f.startsWith('latest_net_G.pth.tmp-')), 'the second save to start');
      child.kill('SIGKILL');
    } finally {
      if (child.running) child.child.kill('SIGKILL');
    }
    const r = await child.exited;
    assert.strictEqual(r.signal, 'SIGKILL', r.out);
    assert.match(r.out, /saving the latest model \(epoch 1, total_iters 4\)/, 'the kill landed in the second save');

    assert.ok(fs.existsSync(path.join(dir, leftover)), 'the unfinished temporary is still there (nothing renamed it)');
    assert.strictEqual(sha256(G), firstG, 'latest_net_G.pth is the first save, byte for byte');
    assert.strictEqual(sha256(STATE), firstState, 'latest_state.safetensors is the first save, byte for byte');
    const g = readStateDictRaw(G);
    assert.ok(g.tensors.has('model.model.0.weight'), 'the previous generator loads');
    const meta = readTrainingStateMeta(STATE);
    assert.deepStrictEqual([meta.epoch, meta.epochIter, meta.totalIters, meta.epochComplete], [1, 2, 2, false]);
  });

  it('the temporary is never mistaken for a checkpoint: loadGenerator on the run folder reads latest_net_G.pth', async () => {
    const gen = await loadGenerator(dir);
    try {
      assert.strictEqual(gen.checkpoint, G);
      assert.strictEqual(gen.description.arch, 'unet_128');
    } finally {
      gen.dispose();
    }
  });

  it('--continue_train resumes from the first save, removes the stale temporary and finishes', async () => {
    const r = await runCli([...args, '--continue_train']);
    assert.strictEqual(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`removed 1 unfinished save\\(s\\) of an interrupted run: ${leftover.replace(/\./g, '\\.')}`));
    assert.match(r.out, /resuming from \S+latest_state\.safetensors: epoch 1 \(after 2 images\), total_iters 2,/);
    assert.deepStrictEqual(temporaries(dir), []);
    const meta = readTrainingStateMeta(STATE);
    assert.deepStrictEqual([meta.epoch, meta.totalIters, meta.epochComplete], [2, 8, true]);
  });
});
