// The network API and its errors (issue 2): shapes, devices, state dict order, forward sync/async, memory, threads.
import * as assert from 'assert';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { defineD, defineG, info, manualSeed, noGrad, Tensor, tidy } from '../../../src';
import { REPO_ROOT } from '../../helpers/paths';

describe('networks: API, errors, memory and threads', function () {
  this.timeout(120000);

  it('counts parameters as the reference (unet_256 batch 54.414 M, resnet_9blocks instance 11.378 M, basic D 2.769 M)', () => {
    const cases: Array<[() => ReturnType<typeof defineG>, number]> = [
      [() => defineG({ netG: 'unet_256', ngf: 64, norm: 'batch', skipInit: true }), 54.414],
      [() => defineG({ netG: 'unet_128', ngf: 64, norm: 'batch', skipInit: true }), 41.829],
      [() => defineG({ netG: 'resnet_9blocks', ngf: 64, norm: 'instance', skipInit: true }), 11.378],
      [() => defineG({ netG: 'resnet_6blocks', ngf: 64, norm: 'instance', skipInit: true }), 7.838],
      [() => defineG({ netG: 'resnet_9blocks', ngf: 64, norm: 'batch', skipInit: true }), 11.383],
      [() => defineD({ netD: 'basic', inputNc: 6, ndf: 64, norm: 'batch', skipInit: true }), 2.769],
      [() => defineD({ netD: 'basic', inputNc: 3, ndf: 64, norm: 'instance', skipInit: true }), 2.765],
    ];
    for (const [make, millions] of cases) {
      const n = make();
      assert.strictEqual((n.numParameters() / 1e6).toFixed(3), millions.toFixed(3), n.describe());
      n.dispose();
    }
  });

  it('gives the reference output sizes: basic D 256->30x30 and 128->14x14, pixel D keeps HxW', () => {
    const d = defineD({ netD: 'basic', inputNc: 3, ndf: 4, norm: 'instance' });
    const p = defineD({ netD: 'pixel', inputNc: 3, ndf: 4, norm: 'instance' });
    tidy(() => {
      assert.deepStrictEqual(noGrad(() => d.forward(Tensor.zeros([1, 3, 256, 256]))).shape, [1, 1, 30, 30]);
      assert.deepStrictEqual(noGrad(() => d.forward(Tensor.zeros([1, 3, 128, 128]))).shape, [1, 1, 14, 14]);
      assert.deepStrictEqual(noGrad(() => p.forward(Tensor.zeros([2, 3, 20, 12]))).shape, [2, 1, 20, 12]);
    });
    d.dispose(); p.dispose();
  });

  it('refuses wrong input shapes with the network and its size rule, as JS errors without C++ backtraces', () => {
    const g = defineG({ netG: 'unet_256', ngf: 4, norm: 'batch' });
    const d = defineD({ netD: 'basic', inputNc: 6, ndf: 4, norm: 'batch' });
    assert.throws(() => g.forward(Tensor.zeros([1, 3, 100, 100])), (e: Error) =>
      /unet_256 generator .* needs height and width divisible by 256 but received 100x100/.test(e.message) && !/\.cpp|Exception raised|frame/i.test(e.message));
    assert.throws(() => d.forward(Tensor.zeros([1, 3, 64, 64])), /basic discriminator \(6 channels.*expects 6 input channels but received 3/);
    assert.throws(() => g.forward(Tensor.zeros([3, 256, 256])), /expects a 4-D input/);
    assert.throws(() => d.forward(Tensor.zeros([1, 6, 8, 8])), /needs a larger input/);
    assert.throws(() => defineG({ netG: 'unet_64' as never }), /Expected one of unet_256, unet_128, resnet_9blocks, resnet_6blocks for netG but received "unet_64"/);
    assert.throws(() => defineG({ norm: 'layer' as never }), /Expected one of instance, batch, none, syncbatch for norm/);
    assert.throws(() => defineG({ ngf: 0 }), /Expected an integer >= 1 for ngf/);
    g.dispose(); d.dispose();
  });

  it('never falls back to CPU silently: cuda devices without CUDA are clear errors', () => {
    if (info().cudaAvailable) return; // on a CUDA build this is checked by scripts/gpu-check.sh
    assert.throws(() => defineG({ netG: 'resnet_6blocks', ngf: 4, device: 'cuda:0' }), /CUDA is not available/);
    assert.throws(() => Tensor.zeros([1], 'cuda:1'), /CUDA is not available/);
    assert.throws(() => Tensor.zeros([1], 'gpu'), /Expected 'cpu', 'cuda' or 'cuda:N' for device but received 'gpu'/);
  });

  it('stateDict, loadStateDict (strict, with a guess of what a wrong checkpoint is), forwardAsync and train/eval', async () => {
    manualSeed(1);
    const a = defineG({ netG: 'resnet_6blocks', ngf: 4, norm: 'instance' });
    manualSeed(2);
    const b = defineG({ netG: 'resnet_6blocks', ngf: 4, norm: 'instance' });
    const x = Tensor.rand([1, 3, 16, 16]);
    b.loadStateDict(a.stateDict());
    const ya = noGrad(() => a.forward(x)).toFloat32Array();
    const yb = (await b.forwardAsync(x)).toFloat32Array();
    assert.deepStrictEqual(Array.from(ya), Array.from(yb));
    const u = defineG({ netG: 'unet_128', ngf: 4, norm: 'batch' });
    assert.throws(() => u.loadStateDict(a.stateDict(), { what: 'ckpt.pth' }),
      /ckpt\.pth does not fit the unet_128 generator[\s\S]*missing keys[\s\S]*unexpected keys[\s\S]*looks like resnet_6blocks, instance norm, ngf 4[\s\S]*you asked for unet_128, batch/);
    // InstanceNorm running stats of old checkpoints are dropped (the reference's patch).
    const sd = a.stateDict() as Map<string, Tensor>;
    sd.set('model.2.running_mean', Tensor.zeros([4]));
    sd.set('model.2.running_var', Tensor.zeros([4]));
    sd.set('model.2.num_batches_tracked', Tensor.zeros([]));
    b.loadStateDict(sd);
    assert.strictEqual(b.isTraining, true);
    b.eval(); assert.strictEqual(b.isTraining, false);
    for (const n of [a, b, u]) n.dispose();
    x.dispose();
  });

  it('2,000 forwards of a small network with disposal keep RSS flat (< 50 MB growth)', () => {
    const g = defineG({ netG: 'resnet_6blocks', ngf: 4, norm: 'instance' });
    const x = Tensor.rand([1, 3, 32, 32]);
    const step = () => tidy(() => { noGrad(() => g.forward(x)).toFloat32Array(); });
    for (let i = 0; i < 200; i++) step();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 2000; i++) step();
    const growth = process.memoryUsage().rss - before;
    assert.ok(growth < 50e6, `RSS grew by ${(growth / 1e6).toFixed(1)} MB`);
    x.dispose(); g.dispose();
  });

  it('loads and runs inside a worker_thread', async () => {
    const script = `
      const { parentPort, workerData } = require('worker_threads');
      const api = require(workerData.api);
      const g = api.defineG({ netG: 'resnet_6blocks', ngf: 4, norm: 'instance' });
      const y = api.noGrad(() => g.forward(api.Tensor.zeros([1, 3, 8, 8])));
      parentPort.postMessage(y.shape);`;
    const w = new Worker(script, { eval: true, workerData: { api: path.join(REPO_ROOT, 'dist/src/index.js') } });
    const shape = await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
    await w.terminate();
    assert.deepStrictEqual(shape, [1, 3, 8, 8]);
  });
});
