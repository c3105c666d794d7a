// Issue 15, item 14: kill -9 during any of the end-of-epoch writes never loses that epoch's snapshots. The files
// of the reference's cadence (<epoch>_net_G.pth, <epoch>_net_D.pth, latest_net_*.pth) are written before the state
// that says "epoch complete", so a kill during any of them — or during the state itself — leaves the previous
// state, and the resumed run finishes the epoch and writes them. IMG2IMG_FAULT_SAVE_DELAY_MS holds every write
// between "temporary complete" and "rename", and each test kills while the temporary of one of those files exists.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { readTrainingStateMeta } from '../../src/train/training_state';
import { CliProcess, QUIET, TINY, facadesDataset, pollFor, runCli, temporaries, tmpdir } from './helpers';

const IMAGES = 2;
const EPOCHS = 2;

describe('reliability: kill -9 during each end-of-epoch write, then --continue_train', function () {
  this.timeout(120000);
  const tmp = tmpdir('epoch-snapshots');
  const data = path.join(tmp, 'facades');
  const checkpoints = path.join(tmp, 'checkpoints');
  // a mid-epoch save at the epoch's last image (save_latest_freq = IMAGES), then the end-of-epoch writes
  const common = ['--dataroot', data, '--checkpoints_dir', checkpoints, '--model', 'pix2pix', '--direction', 'BtoA', ...TINY, ...QUIET,
    '--n_epochs', String(EPOCHS), '--n_epochs_decay', '0', '--save_latest_freq', String(IMAGES), '--save_epoch_freq', '1', '--print_freq', '1', '--seed', '9'];
  const env = { IMG2IMG_THREADS: '1' };
  before(() => facadesDataset(data, IMAGES));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const target of ['1_net_G.pth', '1_net_D.pth', 'latest_net_G.pth', 'latest_net_D.pth', 'latest_state.safetensors']) {
    it(`SIGKILL while ${target} is written at the end of epoch 1: the resume writes epoch 1's snapshots`, async () => {
      const name = `kill_${target.replace(/\W/g, '_')}`;
      const dir = path.join(checkpoints, name);
      const child = new CliProcess(['train', ...common, '--name', name], { env: { ...env, IMG2IMG_FAULT_SAVE_DELAY_MS: '250' } });
      try {
        await child.waitForOutput(/saving the model at the end of epoch 1,/);
        await pollFor(() => temporaries(dir).some((f) => f.startsWith(`${target}.tmp-`)), `the temporary of ${target}`, 60000, 2);
        child.kill('SIGKILL');
      } finally {
        if (child.running) child.child.kill('SIGKILL');
      }
      const killed = await child.exited;
      assert.strictEqual(killed.signal, 'SIGKILL', killed.out);
      // the state on disk is still the mid-epoch one: epoch 1 is not marked complete before its files exist
      const before = readTrainingStateMeta(path.join(dir, 'latest_state.safetensors'));
      assert.deepStrictEqual([before.epoch, before.epochIter, before.totalIters, before.epochComplete], [1, IMAGES, IMAGES, false]);

      const resumed = await runCli(['train', ...common, '--name', name, '--continue_train'], { env });
      assert.strictEqual(resumed.code, 0, resumed.out);
      assert.match(resumed.out, new RegExp(`resuming from \\S+latest_state\\.safetensors: epoch 1 \\(after ${IMAGES} images\\)`));
      for (const file of ['1_net_G.pth', '1_net_D.pth', '2_net_G.pth', '2_net_D.pth', 'latest_net_G.pth', 'latest_net_D.pth']) {
        assert.ok(fs.existsSync(path.join(dir, file)), `${file} exists after the resume`);
      }
      const end = readTrainingStateMeta(path.join(dir, 'latest_state.safetensors'));
      assert.deepStrictEqual([end.epoch, end.totalIters, end.epochComplete], [EPOCHS, EPOCHS * IMAGES, true]);
      assert.deepStrictEqual(temporaries(dir), []);
    });
  }
});
