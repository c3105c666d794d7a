// Issue 7, numerics: a NaN/Inf loss (or weight) stops training with the loss name and iteration and keeps the last
// good checkpoint byte for byte (--nan_policy stop, the default); --nan_policy skip rolls back to the last saved state
// and trains on. Divergence is provoked for real with absurd learning rates, and at an exact iteration with the
// IMG2IMG_FAULT_NAN_AT_ITER test hook (an all-NaN input batch; see src/train/trainer.ts).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { readTrainingStateMeta } from '../../src/train/training_state';
import { QUIET, TINY, epochLrs, facadesDataset, hashFiles, nonFiniteCount, runCli, temporaries, tmpdir } from './helpers';

const LOSS = /(?:loss (?:G_GAN|G_L1|D_real|D_fake) became (?:NaN|-?Infinity)|weight \S+ of network [GD] became non-finite \(NaN or Inf\)) at epoch (\d+), iteration (\d+): training stopped/;

describe('reliability: NaN / Inf guards (--nan_policy)', function () {
  this.timeout(300000);
  const tmp = tmpdir('nan');
  const data = path.join(tmp, 'facades');
  const small = path.join(tmp, 'facades2');
  const checkpoints = path.join(tmp, 'checkpoints');
  const common = ['--checkpoints_dir', checkpoints, '--model', 'pix2pix', '--direction', 'BtoA', ...TINY, ...QUIET, '--print_freq', '1'];
  before(() => {
    facadesDataset(data, 4);
    facadesDataset(small, 2);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  function assertFinite(file: string): void {
    const c = nonFiniteCount(file);
    assert.ok(c.values > 0 && c.nonFinite === 0, `${path.basename(file)} holds ${c.nonFinite} non-finite values of ${c.values}`);
  }

  describe('--nan_policy stop (default)', () => {
    const dir = path.join(checkpoints, 'stop');
    const args = ['train', '--dataroot', small, ...common, '--name', 'stop', '--n_epochs', '1', '--n_epochs_decay', '0', '--seed', '7'];
    let good: Record<string, string> = {};

    before(async () => {
      const r = await runCli(args);
      assert.strictEqual(r.code, 0, r.out);
      good = hashFiles(dir, /^latest_/);
      assert.ok(good['latest_state.safetensors'] && good['latest_net_G.pth'] && good['latest_net_D.pth'], JSON.stringify(good));
    });

    it('--lr 1e20 diverges at once: exit 1 naming the loss and iteration; the previous latest files are byte-identical', async () => {
      const r = await runCli([...args, '--lr', '1e20']);
      assert.strictEqual(r.code, 1, r.out);
      const m = LOSS.exec(r.out);
      assert.ok(m, r.out);
      assert.strictEqual(m[1], '1');
      assert.match(r.out, /img2img train: loss \w+ became \S+ at epoch 1, iteration 1: training stopped \(the last saved checkpoint is kept unchanged; lower --lr or use --nan_policy skip\)/);
      assert.deepStrictEqual(hashFiles(dir, /^latest_/), good);
      assert.deepStrictEqual(temporaries(dir), []);
    });

    it('a NaN at a known iteration after --continue_train (IMG2IMG_FAULT_NAN_AT_ITER=4): exit 1, "epoch 2, iteration 4", files byte-identical', async () => {
      const r = await runCli([...args, '--continue_train', '--n_epochs', '2'], { env: { IMG2IMG_FAULT_NAN_AT_ITER: '4' } });
      assert.strictEqual(r.code, 1, r.out);
      assert.match(r.out, /resuming from \S+: epoch 2, total_iters 2,/);
      assert.match(r.out, /img2img train: loss G_GAN became NaN at epoch 2, iteration 4: training stopped/);
      assert.deepStrictEqual(hashFiles(dir, /^latest_/), good);
    });

    it('--lr 1e6 diverges after some saves: the diverged step is never saved; the last checkpoint is finite and loadable', async () => {
      const name = 'diverge';
      const r = await runCli(['train', '--dataroot', data, ...common, '--name', name, '--n_epochs', '3', '--n_epochs_decay', '0',
        '--lr', '1e6', '--save_latest_freq', '1', '--seed', '2']);
      assert.strictEqual(r.code, 1, r.out);
      const m = LOSS.exec(r.out);
      assert.ok(m, r.out);
      const failedAt = Number(m[2]);
      const dirD = path.join(checkpoints, name);
      if (failedAt > 1) {
        // Saved every iteration: the state is the one just before the divergence, and every saved file is finite.
        assert.strictEqual(readTrainingStateMeta(path.join(dirD, 'latest_state.safetensors')).totalIters, failedAt - 1);
        for (const f of ['latest_state.safetensors', 'latest_net_G.pth', 'latest_net_D.pth']) assertFinite(path.join(dirD, f));
      } else {
        assert.ok(!fs.existsSync(path.join(dirD, 'latest_state.safetensors')), 'nothing saved before the first iteration diverged');
      }
    });
  });

  describe('--nan_policy skip', () => {
    it('a NaN batch at iteration 3 rolls back to the state saved at iteration 2, training goes on and exits 0', async () => {
      const name = 'skip';
      const dir = path.join(checkpoints, name);
      const r = await runCli(['train', '--dataroot', data, ...common, '--name', name, '--n_epochs', '2', '--n_epochs_decay', '0',
        '--save_latest_freq', '2', '--nan_policy', 'skip', '--seed', '8'], { env: { IMG2IMG_FAULT_NAN_AT_ITER: '3' } });
      assert.strictEqual(r.code, 0, r.out);
      assert.match(r.out, /warning: loss G_GAN became NaN at epoch 1, iteration 3; --nan_policy skip: restoring \S+latest_state\.safetensors and going on/);
      const lines = [...r.out.matchAll(/\[Rank 0\] \(epoch: (\d+), iters: (\d+),[^\n]*/g)];
      assert.strictEqual(lines.length, 8, 'every iteration ran');
      for (const l of lines.slice(3)) assert.doesNotMatch(l[0], /nan|inf/i, 'finite losses after the roll-back');
      assert.deepStrictEqual([...epochLrs(r.out).values()], ['0.0002000 -> 0.0002000', '0.0002000 -> 0.0000000']);
      const end = readTrainingStateMeta(path.join(dir, 'latest_state.safetensors'));
      assert.deepStrictEqual([end.epoch, end.totalIters, end.epochComplete], [2, 8, true]);
      for (const f of ['latest_state.safetensors', 'latest_net_G.pth', 'latest_net_D.pth']) assertFinite(path.join(dir, f));
    });

    it('--lr 1e6 keeps diverging: every diverged step is rolled back, the run ends with exit 0 and finite checkpoints', async () => {
      const name = 'skip_diverge';
      const dir = path.join(checkpoints, name);
      const r = await runCli(['train', '--dataroot', data, ...common, '--name', name, '--n_epochs', '2', '--n_epochs_decay', '0',
        '--lr', '1e6', '--save_latest_freq', '1', '--nan_policy', 'skip', '--seed', '2']);
      assert.strictEqual(r.code, 0, r.out);
      assert.match(r.out, /--nan_policy skip: restoring \S+latest_state\.safetensors and going on/);
      assert.strictEqual(readTrainingStateMeta(path.join(dir, 'latest_state.safetensors')).totalIters, 8);
      for (const f of ['latest_state.safetensors', 'latest_net_G.pth', 'latest_net_D.pth']) assertFinite(path.join(dir, f));
    });

    it('with no saved state to roll back to, a NaN at iteration 1 stops with exit 1 and says why', async () => {
      const r = await runCli(['train', '--dataroot', small, ...common, '--name', 'skip_early', '--n_epochs', '1', '--n_epochs_decay', '0',
        '--nan_policy', 'skip'], { env: { IMG2IMG_FAULT_NAN_AT_ITER: '1' } });
      assert.strictEqual(r.code, 1, r.out);
      assert.match(r.out, /loss G_GAN became NaN at epoch 1, iteration 1: training stopped \(--nan_policy skip has no saved training state to roll back to yet/);
    });
  });
});
