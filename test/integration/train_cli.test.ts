// The main job end to end through the CLI (issue 4 / 5): img2img train on real facades images, then img2img test,
// with the reference's file layout; and a resume that really resumes.
import * as assert from 'assert';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runTrainingLoop } from '../../src/train/trainer';
import { readTrainingStateMeta } from '../../src/train/training_state';
import { readStateDictRaw } from '../../src/checkpoint';
import { REPO_ROOT, SHARED } from '../helpers/paths';

const CLI = path.join(REPO_ROOT, 'bin/img2img.js');

export function makeFacadesSubset(root: string, n: number, splits: Record<string, string> = { train: 'train', test: 'test' }): string {
  for (const [src, dst] of Object.entries(splits)) {
    fs.mkdirSync(path.join(root, dst), { recursive: true });
    for (let i = 1; i <= n; i++) fs.copyFileSync(path.join(SHARED, 'datasets/facades', src, `${i}.jpg`), path.join(root, dst, `${i}.jpg`));
  }
  return root;
}

function run(args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, IMG2IMG_THREADS: '2' } });
  return { status: r.status, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

const TINY = ['--netG', 'unet_128', '--ngf', '8', '--ndf', '8', '--load_size', '128', '--crop_size', '128', '--num_threads', '0'];

describe('img2img train / test (CLI, real facades images)', function () {
  this.timeout(300000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-cli-'));
  const data = makeFacadesSubset(path.join(tmp, 'facades'), 4);
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('trains pix2pix and writes the reference layout (checkpoints, loss_log, opt.txt, web page)', () => {
    const r = run(['train', '--dataroot', data, '--name', 'facades_tiny', '--model', 'pix2pix', '--direction', 'BtoA', ...TINY,
      '--n_epochs', '1', '--n_epochs_decay', '1', '--print_freq', '2', '--display_freq', '2', '--save_epoch_freq', '1', '--seed', '5'], tmp);
    assert.strictEqual(r.status, 0, r.out);
    const dir = path.join(tmp, 'checkpoints/facades_tiny');
    for (const f of ['latest_net_G.pth', 'latest_net_D.pth', '1_net_G.pth', '2_net_D.pth', 'latest_net_G.json', 'loss_log.txt', 'train_opt.txt', 'web/index.html', 'latest_state.safetensors']) {
      assert.ok(fs.existsSync(path.join(dir, f)), `missing ${f}\n${r.out}`);
    }
    const log = fs.readFileSync(path.join(dir, 'loss_log.txt'), 'utf8');
    assert.match(log, /^================ Training Loss \(.+\) ================\n/);
    assert.match(log, /\[Rank 0\] \(epoch: 1, iters: 2, time: \d+\.\d{3}, data: \d+\.\d{3}\) , G_GAN: \d+\.\d{3}, G_L1: \d+\.\d{3}, D_real: \d+\.\d{3}, D_fake: \d+\.\d{3}\n\n/);
    const opt = fs.readFileSync(path.join(dir, 'train_opt.txt'), 'utf8');
    assert.match(opt, /\s+direction: BtoA\s+\t\[default: AtoB\]/);
    assert.match(opt, /\s+seed: 5/);
    assert.match(r.out, /seed: 5/);
    assert.match(r.out, /device: cpu/);
    const sd = readStateDictRaw(path.join(dir, 'latest_net_G.pth'));
    assert.strictEqual(sd.format, 'zip');
    assert.ok(sd.tensors.has('model.model.0.weight'));
    assert.ok(fs.readdirSync(path.join(dir, 'web/images')).includes('epoch002_fake_B.png'));
  });

  it('the .pth we write loads in Python torch (weights_only) with the reference keys', function () {
    const file = path.join(tmp, 'checkpoints/facades_tiny/latest_net_G.pth');
    const out = execFileSync('/usr/bin/python3', ['-c',
      'import sys, torch; sd = torch.load(sys.argv[1], weights_only=True); print(type(sd).__name__, len(sd), list(sd)[0], sd["model.model.0.weight"].shape)', file], { encoding: 'utf8' });
    assert.match(out, /^OrderedDict \d+ model\.model\.0\.weight torch\.Size\(\[8, 3, 4, 4\]\)/);
  });

  it('img2img test writes results/<name>/test_latest/index.html and images/<stem>_<label>.png, without architecture flags', () => {
    const r = run(['test', '--dataroot', data, '--name', 'facades_tiny', '--model', 'pix2pix', '--direction', 'BtoA',
      '--load_size', '128', '--crop_size', '128', '--eval', '--num_test', '3'], tmp);
    assert.strictEqual(r.status, 0, r.out);
    assert.match(r.out, /from latest_net_G\.pth: netG=unet_128, ngf=8/);
    const web = path.join(tmp, 'results/facades_tiny/test_latest');
    assert.ok(fs.existsSync(path.join(web, 'index.html')));
    const imgs = fs.readdirSync(path.join(web, 'images')).sort();
    assert.deepStrictEqual(imgs, ['1_fake_B.png', '1_real_A.png', '1_real_B.png', '2_fake_B.png', '2_real_A.png', '2_real_B.png', '3_fake_B.png', '3_real_A.png', '3_real_B.png']);
    const html = fs.readFileSync(path.join(web, 'index.html'), 'utf8');
    assert.match(html, /Experiment = facades_tiny, Phase = test, Epoch = latest/);
    assert.ok(fs.existsSync(path.join(tmp, 'checkpoints/facades_tiny/test_opt.txt')));
  });

  it('img2img test --model test --model_suffix loads one generator of a run', () => {
    const r = run(['test', '--dataroot', path.join(data, 'test'), '--name', 'facades_tiny', '--model', 'test', '--model_suffix', '',
      '--load_size', '128', '--crop_size', '128', '--num_test', '1', '--results_dir', path.join(tmp, 'res2')], tmp);
    assert.strictEqual(r.status, 0, r.out);
    assert.deepStrictEqual(fs.readdirSync(path.join(tmp, 'res2/facades_tiny/test_latest/images')).sort(), ['1_fake.png', '1_real.png']);
  });

  it('bad options fail at once with the allowed choices', () => {
    const r = run(['train', '--dataroot', data, '--netG', 'unet_999'], tmp);
    assert.strictEqual(r.status, 2);
    assert.match(r.out, /Expected one of .*unet_256.* for --netG but received 'unet_999'/);
    const missing = run(['test', '--dataroot', data, '--name', 'nothing_here', '--model', 'pix2pix'], tmp);
    assert.strictEqual(missing.status, 1);
    assert.match(missing.out, /latest_net_G\.pth does not exist/);
  });

  it('resume really resumes: 3 epochs in one go == a run stopped mid-epoch 2 + --continue_train (LR, counters, weights)', async () => {
    const common = ['--dataroot', data, '--model', 'pix2pix', '--direction', 'BtoA', ...TINY, '--serial_batches', '--no_flip',
      '--n_epochs', '1', '--n_epochs_decay', '2', '--seed', '11', '--checkpoints_dir', path.join(tmp, 'resume'), '--print_freq', '100', '--display_freq', '100'];
    const lrs: Record<string, number[]> = { once: [], split: [] };
    const quiet = (key: string) => ({ log: () => undefined, onEpoch: (e: { lr: number }) => { lrs[key].push(e.lr); } });
    await runTrainingLoop([...common, '--name', 'once'], quiet('once'));
    // Stop (as Ctrl-C does) right after the first iteration of epoch 2: `latest` is saved mid-epoch.
    let stopAfter = 1;
    await runTrainingLoop([...common, '--name', 'split'], { log: () => undefined, onEpoch: (e) => { lrs.split.push(e.lr); stopAfter--; }, shouldStop: () => stopAfter <= 0 });
    const metaMid = readTrainingStateMeta(path.join(tmp, 'resume/split/latest_state.safetensors'));
    assert.strictEqual(metaMid.epoch, 2, 'stopped during epoch 2 after one completed epoch');
    // The resume replays epoch 2's data order from its start, skips the image already trained on, and goes on.
    await runTrainingLoop([...common, '--name', 'split', '--continue_train'], { log: () => undefined, onEpoch: (e) => { lrs.split.push(e.lr); } });
    assert.deepStrictEqual(lrs.split.slice(-2), lrs.once.slice(-2));
    const a = readTrainingStateMeta(path.join(tmp, 'resume/once/latest_state.safetensors'));
    const b = readTrainingStateMeta(path.join(tmp, 'resume/split/latest_state.safetensors'));
    assert.strictEqual(b.totalIters, a.totalIters);
    assert.strictEqual(b.epoch, a.epoch);
    assert.deepStrictEqual(b.lrs, a.lrs);
    const wa = readStateDictRaw(path.join(tmp, 'resume/once/latest_net_G.pth')).tensors;
    const wb = readStateDictRaw(path.join(tmp, 'resume/split/latest_net_G.pth')).tensors;
    let worst = 0;
    for (const [k, t] of wa) {
      const fa = new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
      const u = wb.get(k)!.data;
      const fb = new Float32Array(u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength));
      if (t.dtype === 'float32') for (let i = 0; i < fa.length; i++) worst = Math.max(worst, Math.abs(fa[i] - fb[i]));
    }
    assert.ok(worst <= 1e-6, `weights differ by ${worst}`);
  });
});
