// CUT end to end: parseOptions' CUT / FastCUT defaults, `img2img train --model cut` for two iterations on real
// unpaired facades images (checkpoints *_net_G/F/D.pth with CUT's keys), `img2img test --model cut` without
// architecture flags, and loadGenerator on that run and on a generator as CUT's own code writes it.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadGenerator, parseOptions } from '../../src';
import { readSafetensorsRaw, readStateDictRaw } from '../../src/checkpoint';
import { noGrad, Tensor } from '../../src/tensor';
import { REPO_ROOT, SHARED } from '../helpers/paths';
import { assertClose } from '../helpers/compare';

const CLI = path.join(REPO_ROOT, 'bin/img2img.js');

function run(args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, IMG2IMG_THREADS: '2' } });
  return { status: r.status, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

function unpairedSubset(root: string, n: number): string {
  for (const split of ['trainA', 'trainB', 'testA', 'testB']) {
    fs.mkdirSync(path.join(root, split), { recursive: true });
    const files = fs.readdirSync(path.join(SHARED, 'datasets/cyclegan_facades', split)).sort().slice(0, n);
    for (const f of files) fs.copyFileSync(path.join(SHARED, 'datasets/cyclegan_facades', split, f), path.join(root, split, f));
  }
  return root;
}

describe('CUT options (cut_model.py modify_commandline_options)', () => {
  it('CUT_mode CUT: identity NCE, lambda_NCE 1, CUT\'s base defaults (xavier, lsgan, no dropout, no pool)', () => {
    const o = parseOptions(['--dataroot', 'x', '--model', 'cut']);
    assert.deepStrictEqual([o.CUT_mode, o.nce_idt, o.lambda_NCE, o.flip_equivariance, o.n_epochs, o.n_epochs_decay], ['CUT', true, 1, false, 100, 100]);
    assert.deepStrictEqual([o.init_type, o.gan_mode, o.no_dropout, o.pool_size, o.normG, o.normD, o.netF, o.netF_nc, o.num_patches, o.nce_T, o.nce_layers],
      ['xavier', 'lsgan', true, 0, 'instance', 'instance', 'mlp_sample', 256, 256, 0.07, '0,4,8,12,16']);
  });
  it('CUT_mode FastCUT: lambda_NCE 10, flip equivariance, no identity NCE, 150 + 50 epochs; str2bool flags', () => {
    const o = parseOptions(['--dataroot', 'x', '--model', 'cut', '--CUT_mode', 'FastCUT']);
    assert.deepStrictEqual([o.nce_idt, o.lambda_NCE, o.flip_equivariance, o.n_epochs, o.n_epochs_decay], [false, 10, true, 150, 50]);
    const p = parseOptions(['--dataroot', 'x', '--model', 'cut', '--CUT_mode', 'fastcut', '--nce_idt', '--flip_equivariance', 'False', '--lambda_NCE', '2']);
    assert.deepStrictEqual([p.nce_idt, p.flip_equivariance, p.lambda_NCE], [true, false, 2]);
    assert.throws(() => parseOptions(['--dataroot', 'x', '--model', 'cut', '--CUT_mode', 'slowcut']), /Expected one of CUT, cut, FastCUT, fastcut for --CUT_mode/);
    assert.throws(() => parseOptions(['--dataroot', 'x', '--model', 'cut', '--nce_idt=maybe']), /Expected a boolean .* for --nce_idt/);
  });
});

describe('img2img train / test --model cut (CLI, real unpaired facades)', function () {
  this.timeout(300000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-cut-'));
  const data = unpairedSubset(path.join(tmp, 'facades'), 2);
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const run_dir = path.join(tmp, 'checkpoints/cut_tiny');

  it('trains two iterations and writes *_net_G/F/D.pth with CUT\'s state-dict keys', () => {
    const r = run(['train', '--dataroot', data, '--name', 'cut_tiny', '--model', 'cut', '--netG', 'resnet_6blocks', '--ngf', '8', '--ndf', '8',
      '--netF_nc', '16', '--num_patches', '8', '--load_size', '64', '--crop_size', '64', '--num_threads', '0',
      '--n_epochs', '1', '--n_epochs_decay', '0', '--print_freq', '1', '--display_freq', '100', '--seed', '1'], tmp);
    assert.strictEqual(r.status, 0, r.out);
    assert.match(r.out, /NCE: \d+\.\d{3}, NCE_Y: \d+\.\d{3}/);
    const g = readStateDictRaw(path.join(run_dir, 'latest_net_G.pth')).tensors;
    const f = readStateDictRaw(path.join(run_dir, 'latest_net_F.pth')).tensors;
    const d = readStateDictRaw(path.join(run_dir, 'latest_net_D.pth')).tensors;
    assert.ok(g.has('model.7.filt') && g.has('model.18.filt') && g.has('model.1.weight'), [...g.keys()].join(' '));
    assert.deepStrictEqual([...f.keys()].slice(0, 4), ['mlp_0.0.weight', 'mlp_0.0.bias', 'mlp_0.2.weight', 'mlp_0.2.bias']);
    assert.deepStrictEqual(f.get('mlp_1.0.weight')!.shape, [16, 16]); // nce layer 4: the ngf*2 conv
    assert.ok(d.has('model.2.filt') && d.has('model.14.weight'));
  });

  it('--continue_train resumes the CUT run from its training state (F rebuilt from the saved shapes)', () => {
    const r = run(['train', '--dataroot', data, '--name', 'cut_tiny', '--model', 'cut', '--continue_train', '--netF_nc', '16', '--num_patches', '8',
      '--load_size', '64', '--crop_size', '64', '--num_threads', '0', '--n_epochs', '2', '--n_epochs_decay', '0', '--print_freq', '1',
      '--display_freq', '100', '--seed', '1'], tmp);
    assert.strictEqual(r.status, 0, r.out);
    assert.match(r.out, /resuming from .*latest_state\.safetensors: epoch 2/);
    assert.match(r.out, /\(epoch: 2, iters: \d+/);
  });

  it('img2img test --model cut reads the architecture from the checkpoint', () => {
    const r = run(['test', '--dataroot', data, '--name', 'cut_tiny', '--model', 'cut', '--load_size', '64', '--crop_size', '64', '--num_test', '2'], tmp);
    assert.strictEqual(r.status, 0, r.out);
    assert.match(r.out, /from latest_net_G\.pth: netG=resnet_6blocks, ngf=8/);
    const imgs = fs.readdirSync(path.join(tmp, 'results/cut_tiny/test_latest/images')).sort();
    assert.ok(imgs.some((f) => f.endsWith('_fake_B.png')), imgs.join(' '));
  });

  it('loadGenerator translates with the trained run', async () => {
    const g = await loadGenerator(run_dir);
    try {
      assert.strictEqual(g.description.antialias, true);
      const png = await g.translate(path.join(data, 'testA', fs.readdirSync(path.join(data, 'testA'))[0]));
      assert.ok(Buffer.isBuffer(png) && png.length > 100);
    } finally {
      await g.dispose();
    }
  });

  it('loadGenerator loads a generator with CUT\'s own keys (no sidecar) and reproduces CUT\'s output', async () => {
    const dir = path.join(SHARED, 'fixtures/parity/cut/networks/resnet9_antialias_basicD');
    const file = path.join(tmp, 'cut_native_G.safetensors');
    fs.copyFileSync(path.join(dir, 'weights_G.safetensors'), file);
    const g = await loadGenerator(file);
    try {
      assert.deepStrictEqual([g.description.arch, g.description.antialias, g.description.antialiasUp, g.description.norm, g.description.width],
        ['resnet_9blocks', true, true, 'instance', 8]);
      const io = readSafetensorsRaw(path.join(dir, 'io.safetensors')).tensors;
      const x = io.get('input')!;
      noGrad(() => {
        const out = g.network.forward(Tensor.fromBytes(x.data, x.dtype, x.shape));
        const ref = io.get('output_eval')!;
        assertClose(out.toFloat32Array(), new Float32Array(ref.data.buffer.slice(ref.data.byteOffset, ref.data.byteOffset + ref.data.byteLength)), 1e-4, 'G(input)');
      });
    } finally {
      await g.dispose();
    }
  });
});
