// examples/worker.ts and examples/train.ts run for real (issue 16): a folder translated by a pool of generators,
// and a tiny pix2pix run trained through train() with progress, visuals and an abort.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { translateFolder } from '../../examples/worker';
import { trainWithProgress } from '../../examples/train';
import { defineG, manualSeed, saveNetworkCheckpoint } from '../../src';
import { decodeImage } from '../../src/data/image_io';
import { SHARED } from '../helpers/paths';

describe('examples/worker.ts and examples/train.ts', function () {
  this.timeout(300000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-examples-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('worker.ts: a pool of 2 generators translates a folder, refuses a broken image by name, and stops on a signal', async () => {
    manualSeed(3);
    const g = defineG({ netG: 'resnet_6blocks', ngf: 4, norm: 'instance' });
    const checkpoint = path.join(tmp, 'latest_net_G.pth');
    saveNetworkCheckpoint(g, checkpoint);
    g.dispose();
    const input = path.join(tmp, 'in');
    fs.mkdirSync(input);
    for (const f of ['1.jpg', '2.jpg', '3.jpg']) fs.copyFileSync(path.join(SHARED, 'datasets/facades/test', f), path.join(input, f));
    fs.copyFileSync(path.join(SHARED, 'fixtures/bad_inputs/truncated.jpg'), path.join(input, 'broken.jpg'));
    const r = await translateFolder(checkpoint, input, path.join(tmp, 'out'), { pool: 2, timeoutMs: 60000 });
    assert.deepStrictEqual(r.written.map((f) => path.basename(f)).sort(), ['1.png', '2.png', '3.png']);
    for (const f of r.written) {
      const img = decodeImage(fs.readFileSync(f), { name: f });
      assert.deepStrictEqual([img.width, img.height], [512, 256]);
    }
    assert.strictEqual(r.refused.length, 1);
    assert.strictEqual(r.refused[0].file, 'broken.jpg');
    assert.match(r.refused[0].message, /broken\.jpg/);
    const stopped = await translateFolder(checkpoint, input, path.join(tmp, 'out2'), { signal: AbortSignal.abort() });
    assert.deepStrictEqual([stopped.written, stopped.stopped.sort()], [[], ['1.jpg', '2.jpg', '3.jpg', 'broken.jpg']]);
  });

  it('train.ts: progress lines, a loss history and PPM visuals from train() callbacks; an abort saves latest', async () => {
    const ck = path.join(tmp, 'checkpoints');
    const argv = ['--dataroot', path.join(SHARED, 'datasets/facades'), '--name', 'example', '--checkpoints_dir', ck, '--model', 'pix2pix',
      '--netG', 'unet_128', '--ngf', '4', '--ndf', '4', '--load_size', '128', '--crop_size', '128', '--max_dataset_size', '20',
      '--n_epochs', '1', '--n_epochs_decay', '0', '--num_threads', '0', '--device', 'cpu', '--seed', '1', '--print_freq', '1',
      '--display_freq', '1', '--no_html', '--threads', '1'];
    const ac = new AbortController();
    const lines: string[] = [];
    const visualsDir = path.join(tmp, 'visuals');
    const r = await trainWithProgress(argv, { visualsDir, signal: ac.signal, log: (l) => { lines.push(l); if (/^epoch 1, 3\/20/.test(l)) ac.abort(); } });
    assert.strictEqual(r.result.interrupted, true);
    assert.ok(r.history.length >= 3 && r.history.every((h) => Number.isFinite(h.losses.G_L1)), JSON.stringify(r.history));
    assert.match(lines[0], /^training pix2pix \(unet_128\) on 20 images, epochs 1-1$/);
    assert.ok(lines.some((l) => /^epoch 1, 1\/20: G_GAN \d/.test(l)), lines.join('\n'));
    assert.match(lines[lines.length - 1], /^stopped at \d+ images; latest saved$/);
    assert.deepStrictEqual(r.visuals.map((f) => path.basename(f)).sort(), ['fake_B.ppm', 'real_A.ppm', 'real_B.ppm']);
    const ppm = fs.readFileSync(r.visuals[0]);
    assert.strictEqual(ppm.subarray(0, 15).toString('latin1'), 'P6\n128 128\n255\n');
    assert.strictEqual(ppm.length, 15 + 128 * 128 * 3);
    assert.ok(fs.existsSync(path.join(ck, 'example', 'latest_net_G.pth')) && fs.existsSync(path.join(ck, 'example', 'latest_state.safetensors')));
  });
});
