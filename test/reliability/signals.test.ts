// Issue 7, signals: SIGINT / SIGTERM to `img2img train` finish the current iteration, save `latest` and exit within
// seconds with the shell's status for the signal (130 / 143); the saved state resumes.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { readTrainingStateMeta } from '../../src/train/training_state';
import { CliProcess, QUIET, TINY, facadesDataset, runCli, temporaries, tmpdir } from './helpers';

const IMAGES = 3;
const EPOCHS = 4;
/** How long after the signal the process may take to save and exit. */
const PROMPT_MS = 10000;

describe('reliability: SIGINT / SIGTERM save latest and exit promptly', function () {
  this.timeout(300000);
  const tmp = tmpdir('signals');
  const data = path.join(tmp, 'facades');
  const checkpoints = path.join(tmp, 'checkpoints');
  const common = ['--dataroot', data, '--checkpoints_dir', checkpoints, '--model', 'pix2pix', '--direction', 'BtoA', ...TINY, ...QUIET,
    '--n_epochs', String(EPOCHS), '--n_epochs_decay', '0', '--print_freq', '1', '--seed', '6'];
  before(() => facadesDataset(data, IMAGES));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal}: saves latest, exits with ${status} in under ${PROMPT_MS / 1000} s, and the state resumes`, async () => {
      const name = signal.toLowerCase();
      const dir = path.join(checkpoints, name);
      const child = new CliProcess(['train', ...common, '--name', name]);
      let sentAt = 0;
      try {
        await child.waitForOutput(/\[Rank 0\] \(epoch: 1, iters: 2,/);
        sentAt = Date.now();
        child.kill(signal);
      } finally {
        if (!sentAt && child.running) child.child.kill('SIGKILL');
      }
      const r = await child.exited;
      const ms = Date.now() - sentAt;
      assert.strictEqual(r.code, status, r.out);
      assert.ok(ms < PROMPT_MS, `took ${ms} ms after ${signal} to exit`);
      assert.match(r.out, new RegExp(`${signal}: finishing the current iteration, then saving 'latest'`));
      const saved = new RegExp(`${signal}: saving the latest model \\(epoch (\\d+), total_iters (\\d+)\\)`).exec(r.out);
      assert.ok(saved, r.out);
      const meta = readTrainingStateMeta(path.join(dir, 'latest_state.safetensors'));
      assert.strictEqual(meta.totalIters, Number(saved[2]));
      assert.strictEqual(meta.epoch, Number(saved[1]));
      assert.ok(meta.totalIters >= 2 && meta.totalIters < IMAGES * EPOCHS, `stopped mid-run (total_iters ${meta.totalIters})`);
      assert.ok(fs.existsSync(path.join(dir, 'latest_net_G.pth')));
      assert.deepStrictEqual(temporaries(dir), []);

      const resumed = await runCli(['train', ...common, '--name', name, '--continue_train']);
      assert.strictEqual(resumed.code, 0, resumed.out);
      assert.match(resumed.out, new RegExp(`resuming from \\S+latest_state\\.safetensors: epoch ${meta.epochComplete ? meta.epoch + 1 : meta.epoch}\\b.*, total_iters ${meta.totalIters},`));
      const iterations = resumed.out.match(/\[Rank 0\] \(epoch: /g)?.length ?? 0;
      assert.strictEqual(iterations, IMAGES * EPOCHS - meta.totalIters, 'the resume trains exactly the rest');
      const end = readTrainingStateMeta(path.join(dir, 'latest_state.safetensors'));
      assert.deepStrictEqual([end.epoch, end.totalIters, end.epochComplete], [EPOCHS, IMAGES * EPOCHS, true]);
    });
  }
});
