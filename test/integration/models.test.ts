// A few real training iterations of every model on tiny facades images (issue 4), through the training loop (runTrainingLoop).
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runTrainingLoop } from '../../src/train/trainer';
import { createModel, parseOptions } from '../../src';
import { GANLoss, calGradientPenalty } from '../../src/models/gan_loss';
import { ImagePool } from '../../src/models/image_pool';
import { PythonRandom } from '../../src/util/python_random';
import { defineD, Tensor, tidy } from '../../src';
import { SHARED } from '../helpers/paths';

function copy(n: number, from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (let i = 1; i <= n; i++) fs.copyFileSync(path.join(from, `${i}.jpg`), path.join(to, `${i}.jpg`));
}

describe('models: a few real iterations each', function () {
  this.timeout(240000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-models-'));
  const aligned = path.join(tmp, 'aligned'), unaligned = path.join(tmp, 'unaligned'), color = path.join(tmp, 'color');
  before(() => {
    copy(3, path.join(SHARED, 'datasets/facades/train'), path.join(aligned, 'train'));
    for (const s of ['trainA', 'trainB']) copy(3, path.join(SHARED, 'datasets/cyclegan_facades', s), path.join(unaligned, s));
    copy(3, path.join(SHARED, 'datasets/cyclegan_facades/trainA'), path.join(color, 'train'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const common = (name: string) => ['--name', name, '--checkpoints_dir', path.join(tmp, 'ck'), '--n_epochs', '1', '--n_epochs_decay', '0',
    '--ngf', '4', '--ndf', '4', '--num_threads', '0', '--print_freq', '1', '--display_freq', '1', '--seed', '3'];

  const runs: Array<[string, string[], string[]]> = [
    ['pix2pix', ['--dataroot', aligned, '--model', 'pix2pix', '--netG', 'unet_128', '--load_size', '140', '--crop_size', '128'], ['G_GAN', 'G_L1', 'D_real', 'D_fake']],
    ['pix2pix lsgan + pixel D + instance norm', ['--dataroot', aligned, '--model', 'pix2pix', '--netG', 'resnet_6blocks', '--netD', 'pixel', '--norm', 'instance', '--gan_mode', 'lsgan', '--load_size', '64', '--crop_size', '64', '--batch_size', '2'], ['G_GAN', 'G_L1', 'D_real', 'D_fake']],
    ['cycle_gan', ['--dataroot', unaligned, '--model', 'cycle_gan', '--netG', 'resnet_6blocks', '--load_size', '72', '--crop_size', '64', '--pool_size', '2'], ['D_A', 'G_A', 'cycle_A', 'idt_A', 'D_B', 'G_B', 'cycle_B', 'idt_B']],
    ['cycle_gan wgangp n_layers', ['--dataroot', unaligned, '--model', 'cycle_gan', '--netG', 'resnet_6blocks', '--netD', 'n_layers', '--n_layers_D', '2', '--gan_mode', 'wgangp', '--lambda_identity', '0', '--load_size', '64', '--crop_size', '64', '--preprocess', 'crop'], ['D_A', 'G_A', 'cycle_A', 'idt_A', 'D_B', 'G_B', 'cycle_B', 'idt_B']],
    ['colorization', ['--dataroot', color, '--model', 'colorization', '--netG', 'unet_128', '--load_size', '128', '--crop_size', '128'], ['G_GAN', 'G_L1', 'D_real', 'D_fake']],
  ];
  for (const [label, args, lossNames] of runs) {
    it(`${label}: trains, logs its losses and saves its networks`, async () => {
      const name = label.replace(/\W+/g, '_');
      const seen: Array<Record<string, number>> = [];
      const r = await runTrainingLoop([...args, ...common(name)], { log: () => undefined, onIteration: (i) => { if (i.losses) seen.push(i.losses); } });
      assert.ok(r.totalIters >= 3, `trained ${r.totalIters} images`);
      assert.deepStrictEqual(Object.keys(seen[0]), lossNames);
      for (const l of seen) for (const v of Object.values(l)) assert.ok(Number.isFinite(v));
      assert.ok(fs.existsSync(path.join(tmp, 'ck', name, 'latest_net_G' + (label.startsWith('cycle') ? '_A' : '') + '.pth')));
      assert.ok(fs.readdirSync(path.join(tmp, 'ck', name, 'web/images')).length > 0);
    });
  }

  it('visual names and model names follow the reference (cycle_gan with identity adds idt_B / idt_A)', () => {
    const m = createModel(parseOptions(['--dataroot', unaligned, '--model', 'cycle_gan', '--ngf', '4', '--ndf', '4', '--netG', 'resnet_6blocks', '--checkpoints_dir', path.join(tmp, 'ck')]));
    assert.deepStrictEqual(m.visualNames, ['real_A', 'fake_B', 'rec_A', 'idt_B', 'real_B', 'fake_A', 'rec_B', 'idt_A']);
    assert.deepStrictEqual(m.modelNames, ['G_A', 'G_B', 'D_A', 'D_B']);
    m.dispose();
  });

  it('GANLoss modes and the WGAN-GP gradient penalty', () => {
    tidy(() => {
      const pred = Tensor.fromFloat32Array(new Float32Array([0.5, -1, 2, 0]), [1, 1, 2, 2]);
      assert.ok(Math.abs(new GANLoss('lsgan').compute(pred, true).item() - ((0.25 + 4 + 1 + 1) / 4)) < 1e-6);
      assert.ok(Math.abs(new GANLoss('wgangp').compute(pred, true).item() - (-1.5 / 4)) < 1e-6);
      const bce = (x: number, t: number) => Math.max(x, 0) - x * t + Math.log(1 + Math.exp(-Math.abs(x)));
      const expected = ([0.5, -1, 2, 0].map((x) => bce(x, 0)).reduce((a, b) => a + b)) / 4;
      assert.ok(Math.abs(new GANLoss('vanilla').compute(pred, false).item() - expected) < 1e-6);
      assert.throws(() => new GANLoss('hinge' as never), /Expected one of vanilla, lsgan, wgangp for gan_mode/);
      const d = defineD({ netD: 'pixel', inputNc: 3, ndf: 4, norm: 'none' });
      const [gp, grads] = calGradientPenalty(d, Tensor.rand([2, 3, 8, 8]), Tensor.rand([2, 3, 8, 8]));
      assert.ok(gp && Number.isFinite(gp.item()) && gp.item() >= 0);
      assert.deepStrictEqual(grads!.shape, [2, 192]);
      gp!.backward();
      d.dispose();
    });
  });

  it('ImagePool follows the reference algorithm with the seeded Python-compatible generator', () => {
    const rng = new PythonRandom(1), ref = new PythonRandom(1);
    const pool = new ImagePool(2, rng);
    const img = (v: number) => Tensor.full([1, 1, 1, 1], v);
    const got = [1, 2, 3, 4, 5, 6].map((v) => pool.query(img(v)).item());
    // Pool fills with 1, 2; then each query: p = uniform(0,1) > 0.5 -> swap with pool[randint(0,1)], else pass through.
    const mirror = [1, 2];
    const expected = [1, 2];
    for (const v of [3, 4, 5, 6]) {
      if (ref.uniform(0, 1) > 0.5) { const id = ref.randint(0, 1); expected.push(mirror[id]); mirror[id] = v; } else expected.push(v);
    }
    assert.deepStrictEqual(got, expected);
    pool.clear();
  });
});
