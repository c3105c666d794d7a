/** --val_freq / --val_metric / --save_best during training, and that validation measures what img2img eval would. */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runTest } from '../../../src/inference/test_runner';
import { evaluateResults } from '../../../src/metrics/evaluate';
import { MetricError } from '../../../src/metrics/metric_errors';
import { runTrainingLoop } from '../../../src/train/trainer';
import type { ValidationInfo } from '../../../src/train/validation';
import { writePthRaw } from '../../../src/checkpoint';
import { FID_WEIGHTS_FILE } from '../../../src/metrics/fid_weights_location';
import { formulaStateDict } from './fid_weights';
import { facadesSubset } from './metrics_helpers';

const TINY = ['--netG', 'unet_128', '--ngf', '8', '--ndf', '8', '--load_size', '128', '--crop_size', '128', '--num_threads', '0', '--seed', '3'];

describe('metrics/validation during training', () => {
  let tmp: string;
  let data: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-val-'));
    data = facadesSubset(path.join(tmp, 'facades'), 3, { train: 'train', test: 'val' });
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('validates every epoch into loss_log.txt and callbacks, keeps best_net_* with metric and epoch, equals img2img eval', async () => {
    const ck = path.join(tmp, 'checkpoints');
    const common = ['--dataroot', data, '--model', 'pix2pix', '--direction', 'BtoA', '--checkpoints_dir', ck, ...TINY];
    const seen: ValidationInfo[] = [];
    await runTrainingLoop([...common, '--name', 'val', '--n_epochs', '2', '--n_epochs_decay', '1', '--val_freq', '1', '--val_metric', 'psnr', '--save_best', '--print_freq', '100'],
      { log: () => undefined, onValidation: (v) => { seen.push(v); } });
    assert.deepStrictEqual(seen.map((v) => v.epoch), [1, 2, 3]);
    const best = seen.reduce((a, b) => (b.value > a.value ? b : a));
    assert.deepStrictEqual(seen[2].best, { value: best.value, epoch: best.epoch });
    const dir = path.join(ck, 'val');
    const log = fs.readFileSync(path.join(dir, 'loss_log.txt'), 'utf8');
    assert.strictEqual(log.match(/validation psnr: [\d.]+ on 3 images/g)!.length, 3);
    for (const name of ['G', 'D']) assert.ok(fs.existsSync(path.join(dir, `best_net_${name}.pth`)), `best_net_${name}.pth`);
    const sidecar = JSON.parse(fs.readFileSync(path.join(dir, 'best_net_G.json'), 'utf8'));
    assert.strictEqual(sidecar.context.val_metric, 'psnr');
    assert.strictEqual(sidecar.context.val_value, best.value);
    assert.strictEqual(sidecar.context.val_epoch, best.epoch);
    assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => /\.tmp|\.partial/.test(f)), []);

    // The last validation is what `img2img test --eval` + `img2img eval` measure with the final weights.
    const r = await runTest([...common, '--name', 'val', '--phase', 'val', '--eval', '--results_dir', path.join(tmp, 'results')], () => undefined);
    const evaluated = await evaluateResults(r.webDir, { metrics: ['psnr'] });
    assert.strictEqual(evaluated.psnr, seen[2].value);
  });

  it('--val_metric fid: a resumed run keeps the best of the earlier one', async () => {
    const weights = path.join(tmp, FID_WEIGHTS_FILE);
    writePthRaw(weights, formulaStateDict());
    const ck = path.join(tmp, 'checkpoints');
    const common = ['--dataroot', data, '--model', 'pix2pix', '--direction', 'BtoA', '--checkpoints_dir', ck, ...TINY, '--name', 'fid'];
    const flags = ['--val_freq', '1', '--val_metric', 'fid', '--fid_weights', weights, '--save_best', '--n_epochs_decay', '0'];
    const seen: ValidationInfo[] = [];
    const callbacks = { log: () => undefined, onValidation: (v: ValidationInfo) => { seen.push(v); } };
    await runTrainingLoop([...common, ...flags, '--n_epochs', '1'], callbacks);
    assert.ok(Number.isFinite(seen[0].value) && seen[0].value > 0, `FID ${seen[0].value}`);
    await runTrainingLoop([...common, ...flags, '--n_epochs', '2', '--continue_train'], callbacks);
    assert.deepStrictEqual(seen.map((v) => v.epoch), [1, 2]);
    const best = seen[1].value < seen[0].value ? seen[1] : seen[0];
    assert.deepStrictEqual(seen[1].best, { value: best.value, epoch: best.epoch });
  });

  it('refuses a paired metric for cycle_gan, a missing split and --save_best alone before training', async () => {
    const ck = path.join(tmp, 'checkpoints');
    await assert.rejects(runTrainingLoop(['--dataroot', data, '--model', 'pix2pix', '--checkpoints_dir', ck, ...TINY, '--name', 'x', '--val_freq', '1', '--val_phase', 'nope'], { log: () => undefined }),
      (e: unknown) => e instanceof MetricError && /nope/.test(e.message));
    await assert.rejects(runTrainingLoop(['--dataroot', data, '--model', 'pix2pix', '--checkpoints_dir', ck, ...TINY, '--name', 'x', '--save_best'], { log: () => undefined }),
      (e: unknown) => e instanceof MetricError && /^Expected --val_freq N > 0 .* for --save_best but received --val_freq 0$/.test(e.message));
    const unaligned = facadesSubset(path.join(tmp, 'unaligned'), 2, { train: 'trainA', test: 'trainB' });
    fs.mkdirSync(path.join(unaligned, 'valA')); fs.mkdirSync(path.join(unaligned, 'valB'));
    await assert.rejects(runTrainingLoop(['--dataroot', unaligned, '--model', 'cycle_gan', '--checkpoints_dir', ck, ...TINY, '--netG', 'resnet_6blocks', '--name', 'y', '--val_freq', '1'], { log: () => undefined }),
      (e: unknown) => e instanceof MetricError && e.code === 'ERR_IMG2IMG_METRIC_BAD_OPTION' && /^Expected fid .* for --val_metric with --model cycle_gan but received 'l1'/.test(e.message));
  });
});
