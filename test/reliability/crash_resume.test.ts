// Issue 7, crash-safe resume: `img2img train` killed with SIGKILL at a random moment, then `--continue_train`,
// continues from the last complete `latest` state: the counters go on from the state's, epochs are numbered as in an
// uninterrupted run, the LR of every resumed epoch equals the uninterrupted run's, and the run ends where it would have.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { runTrainingLoop } from '../../src/train/trainer';
import { readTrainingStateMeta, TrainingStateMeta } from '../../src/train/training_state';
import { CliProcess, CliResult, QUIET, TINY, epochLrs, facadesDataset, maxWeightDifference, runCli, temporaries, tmpdir } from './helpers';

const IMAGES = 4;
const EPOCHS = 6; // 1 at the initial LR, 5 decaying: every epoch has its own LR
const TOTAL = IMAGES * EPOCHS;

describe('reliability: kill -9 at a random moment, then --continue_train', function () {
  this.timeout(300000);
  const tmp = tmpdir('crash');
  const data = path.join(tmp, 'facades');
  const checkpoints = path.join(tmp, 'checkpoints');
  const common = ['--dataroot', data, '--checkpoints_dir', checkpoints, '--model', 'pix2pix', '--direction', 'BtoA', ...TINY, ...QUIET,
    '--n_epochs', '1', '--n_epochs_decay', String(EPOCHS - 1), '--save_latest_freq', '3', '--print_freq', '1', '--seed', '5'];
  let baseline: CliResult;
  let baselineMeta: TrainingStateMeta;
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  before(async () => {
    facadesDataset(data, IMAGES);
    baseline = await runCli(['train', ...common, '--name', 'once']);
    assert.strictEqual(baseline.code, 0, baseline.out);
    baselineMeta = readTrainingStateMeta(path.join(checkpoints, 'once/latest_state.safetensors'));
    assert.strictEqual(baselineMeta.totalIters, TOTAL);
    assert.strictEqual(epochLrs(baseline.out).size, EPOCHS);
  });

  // Kill after the k-th iteration line plus a random delay: anywhere in training, after the first save (iteration 3).
  const moments = [0, 1].map(() => ({ afterIteration: 4 + Math.floor(Math.random() * 12), delayMs: Math.floor(Math.random() * 300) }));

  /** Resumes run `name` with --continue_train and checks it against the uninterrupted run from the saved `meta` on. */
  async function checkResume(name: string, meta: TrainingStateMeta): Promise<void> {
    const dir = path.join(checkpoints, name);
    const startEpoch = meta.epochComplete ? meta.epoch + 1 : meta.epoch;
    const skipped = meta.epochComplete ? 0 : meta.epochIter;

    const r = await runCli(['train', ...common, '--name', name, '--continue_train']);
    assert.strictEqual(r.code, 0, r.out);
    const resumed = /resuming from \S+latest_state\.safetensors: epoch (\d+)(?: \(after (\d+) images\))?, total_iters (\d+), lr (\S+)/.exec(r.out);
    assert.ok(resumed, r.out);
    assert.strictEqual(Number(resumed[1]), startEpoch, 'resumed epoch');
    assert.strictEqual(Number(resumed[2] ?? 0), skipped, 'images of the epoch already trained on');
    assert.strictEqual(Number(resumed[3]), meta.totalIters, 'total_iters continues from the state');
    assert.strictEqual(Number(resumed[4]), meta.lrs[0], 'LR restored from the state');

    // Iterations carry on where the state left off: same epoch numbering, no iteration twice, none missing.
    const iterations = [...r.out.matchAll(/\[Rank 0\] \(epoch: (\d+), iters: (\d+),/g)].map((m) => [Number(m[1]), Number(m[2])]);
    // (A state saved at an epoch's last image but before its end-of-epoch save resumes that epoch with every image
    // already trained on: the resume only finishes the epoch, LR update included, and trains from the next one.)
    const expected: number[][] = [];
    for (let t = meta.totalIters + 1; t <= TOTAL; t++) expected.push([Math.ceil(t / IMAGES), ((t - 1) % IMAGES) + 1]);
    assert.deepStrictEqual(iterations[0], expected[0], 'first resumed iteration');
    assert.strictEqual(iterations.length, TOTAL - meta.totalIters, 'iterations trained after the resume');
    assert.deepStrictEqual(iterations, expected);

    // The LR of each resumed epoch is the uninterrupted run's.
    const once = epochLrs(baseline.out), split = epochLrs(r.out);
    assert.deepStrictEqual([...split.keys()], Array.from({ length: EPOCHS - startEpoch + 1 }, (_, i) => startEpoch + i));
    for (const [epoch, lr] of split) assert.strictEqual(lr, once.get(epoch), `LR of epoch ${epoch}`);

    const end = readTrainingStateMeta(path.join(dir, 'latest_state.safetensors'));
    assert.deepStrictEqual([end.epoch, end.totalIters, end.epochComplete], [EPOCHS, TOTAL, true]);
    assert.deepStrictEqual(end.lrs, baselineMeta.lrs);
    assert.deepStrictEqual(temporaries(dir), []);
    // Data order, dropout and Adam moments are restored too: the weights end where the uninterrupted run's do.
    const diff = maxWeightDifference(path.join(checkpoints, 'once/latest_net_G.pth'), path.join(dir, 'latest_net_G.pth'));
    assert.ok(diff <= 1e-5, `generator weights differ from the uninterrupted run's by ${diff}`);
  }

  moments.forEach((moment, run) => {
    it(`kill #${run + 1} (after iteration line ${moment.afterIteration} + ${moment.delayMs} ms): the resume continues the counters, epochs and LR of the last complete state`, async () => {
      const name = `killed${run}`;
      const dir = path.join(checkpoints, name);
      const child = new CliProcess(['train', ...common, '--name', name]);
      try {
        await child.waitForOutput(/\[Rank 0\] \(epoch: /, moment.afterIteration);
        await new Promise((r) => setTimeout(r, moment.delayMs));
        child.kill('SIGKILL');
      } finally {
        if (child.running) child.child.kill('SIGKILL');
      }
      const killed = await child.exited;
      assert.strictEqual(killed.signal, 'SIGKILL', `the run ended before the kill:\n${killed.out}`);
      const meta = readTrainingStateMeta(path.join(dir, 'latest_state.safetensors'));
      const savedAt = [...killed.out.matchAll(/saving the latest model \(epoch (\d+), total_iters (\d+)\)/g)].map((m) => Number(m[2]));
      assert.ok(savedAt.includes(meta.totalIters) || meta.epochComplete, `state at ${meta.totalIters} was announced (${savedAt})`);
      await checkResume(name, meta);
    });
  });

  it('stopped right after a save at the last image of an epoch, before its end-of-epoch save: the resume finishes that epoch (LR update included)', async () => {
    // The moment a kill can hit by chance (between the save at iteration 12 = 3 x 4 and epoch 3's own save), made
    // certain: the training loop in this process stops after iteration 12, saving exactly that mid-epoch state.
    const name = 'edge';
    let iters = 0;
    const r = await runTrainingLoop(['--name', name, ...common], { log: () => undefined, onIteration: (i) => { iters = i.totalIters; }, shouldStop: () => iters >= 12 });
    assert.ok(r.interrupted);
    const meta = readTrainingStateMeta(path.join(checkpoints, name, 'latest_state.safetensors'));
    assert.deepStrictEqual([meta.epoch, meta.epochIter, meta.totalIters, meta.epochComplete], [3, IMAGES, 12, false]);
    await checkResume(name, meta);
  });
});
