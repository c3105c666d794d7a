// ONNX export checked in ONNX Runtime (onnxruntime-node, CPU): every generator parity fixture, every
// architecture family and norm on small random weights with trained BatchNorm statistics, a facades image end to
// end against translate(), dynamic sizes, the metadata contract, the CLI, and the errors.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { readSafetensorsRaw } from '../../../src/checkpoint';
import { saveNetworkCheckpoint } from '../../../src/checkpoint/network_checkpoint';
import { readImageFile, toRGB8 } from '../../../src/data/image_io';
import { tensorToImage, toNormalizedTensor } from '../../../src/data/transforms';
import { OnnxExportError } from '../../../src/export/export_errors';
import { checkOnnxInputSize, readOnnxContract } from '../../../src/export/onnx_contract';
import { exportOnnx, exportOnnxBytes } from '../../../src/export/onnx_export';
import { OnnxGraph } from '../../../src/export/onnx_graph';
import { Generator, LoadGeneratorOptions, loadGenerator } from '../../../src/inference/generator';
import { cropCHW, reflectPadCHW, roundUp } from '../../../src/inference/padding';
import { sizeMultiple } from '../../../src/architectures';
import { defineG, GeneratorOptions } from '../../../src/networks';
import { manualSeed } from '../../../src/runtime';
import { noGrad, Tensor } from '../../../src/tensor';
import { main } from '../../../scripts/cli';
import { SHARED } from '../../helpers/paths';

const PARITY = path.join(SHARED, 'fixtures/parity/networks');
const CUT = path.join(SHARED, 'fixtures/parity/cut/networks');
const FACADES = path.join(SHARED, 'datasets/facades');
const TOL = 1e-4;

function floats(t: { data: Buffer }): Float32Array {
  return new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
}
function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.strictEqual(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
/** Standard deviation: guards against comparing two near-constant outputs. */
function spread(a: Float32Array): number {
  let m = 0;
  for (const v of a) m += v / a.length;
  let s = 0;
  for (const v of a) s += (v - m) ** 2 / a.length;
  return Math.sqrt(s);
}
async function session(model: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
}
async function runOrt(s: ort.InferenceSession, data: Float32Array, shape: number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const r = await s.run({ input: new ort.Tensor('float32', data, shape) });
  return { data: r.output.data as Float32Array, dims: r.output.dims };
}
/** Our network's eval forward (no grad) on the same input. */
function ourForward(g: Generator, data: Float32Array, shape: number[]): Float32Array {
  const x = Tensor.fromFloat32Array(data, shape);
  const y = noGrad(() => g.network.forward(x));
  try { return y.toFloat32Array(); } finally { x.dispose(); y.dispose(); }
}
function randomInput(shape: number[], seed: number): Float32Array {
  manualSeed(seed);
  const t = Tensor.rand(shape);
  try { return t.toFloat32Array().map((v) => v * 2 - 1); } finally { t.dispose(); }
}
function assertCode(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof OnnxExportError && e.code === code && message.test(e.message));
}

describe('ONNX export (onnxruntime-node)', function () {
  this.timeout(120_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-onnx-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** A self-describing checkpoint of a small random generator whose BatchNorm statistics moved off 0/1. */
  async function randomGenerator(name: string, opts: GeneratorOptions): Promise<Generator> {
    manualSeed(7);
    const net = defineG({ ngf: 4, initType: 'kaiming', ...opts }); // kaiming keeps activations O(1) through deep stacks
    const side = opts.netG?.startsWith('unet') ? sizeMultiple(opts.netG) : 32;
    if (opts.norm === 'batch') { // train-mode forwards update running_mean/var, so eval differs from identity stats
      net.train();
      for (let i = 0; i < 3; i++) {
        const x = Tensor.fromFloat32Array(randomInput([2, opts.inputNc ?? 3, side, side], 10 + i), [2, opts.inputNc ?? 3, side, side]);
        noGrad(() => net.forward(x)).dispose();
        x.dispose();
      }
    }
    const file = path.join(tmp, `${name}.safetensors`);
    saveNetworkCheckpoint(net, file, { model: 'pix2pix' });
    net.dispose();
    return loadGenerator(file, { device: 'cpu' });
  }

  describe('generator parity fixtures (shared/fixtures/parity/networks)', () => {
    const cases = fs.readdirSync(PARITY).filter((n) => fs.existsSync(path.join(PARITY, n, 'case.json')))
      .filter((n) => JSON.parse(fs.readFileSync(path.join(PARITY, n, 'case.json'), 'utf8')).network === 'G').sort();
    it('has generator cases', () => assert.ok(cases.length >= 2, `found ${cases.length} in ${PARITY}`));
    for (const name of cases) {
      it(`${name}: ONNX Runtime output equals our forward and the reference within ${TOL}`, async () => {
        const dir = path.join(PARITY, name);
        const a = JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8')).define_args;
        const g = await loadGenerator(path.join(dir, 'weights.safetensors'), { netG: a.netG, ngf: a.ngf, norm: a.norm, useDropout: a.use_dropout, device: 'cpu' });
        try {
          const io = readSafetensorsRaw(path.join(dir, 'io.safetensors')).tensors;
          const input = io.get('input')!;
          const s = await session(exportOnnxBytes(g).model);
          const y = await runOrt(s, floats(input), input.shape);
          const ours = maxAbs(y.data, ourForward(g, floats(input), input.shape));
          const ref = maxAbs(y.data, floats(io.get('output_eval')!));
          assert.ok(ours <= TOL, `max abs vs our forward ${ours}`);
          assert.ok(ref <= TOL, `max abs vs reference output_eval ${ref}`);
          console.log(`      ${name}: max abs ${ours.toExponential(2)} vs ours, ${ref.toExponential(2)} vs reference`);
          await s.release();
        } finally {
          g.dispose();
        }
      });
    }
  });

  describe('CUT generator fixtures (shared/fixtures/parity/cut/networks)', () => {
    // CUT's ResnetGenerator with anti-aliasing (blur-pool Downsample/Upsample layers, the architecture table's resnet_cut): recognised
    // from its keys, exported with the blur filters, and matching CUT's own output.
    const cases = fs.existsSync(CUT) ? fs.readdirSync(CUT).filter((n) => fs.existsSync(path.join(CUT, n, 'weights_G.safetensors'))) : [];
    for (const name of cases) {
      it(`${name}: exported (blur filters included) and matching CUT's own output`, async () => {
        const dir = path.join(CUT, name);
        const a = JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8')).define_G_args;
        const opts: LoadGeneratorOptions = { netG: a.netG, ngf: a.ngf, norm: a.norm, useDropout: a.use_dropout, device: 'cpu' };
        let g: Generator | null = null;
        try {
          g = await loadGenerator(path.join(dir, 'weights_G.safetensors'), opts);
        } catch (e) {
          assert.match((e as Error).message, /does not fit the .*(missing|unexpected|mis-shaped) keys/s);
          console.log(`      ${name}: not built here (CUT's anti-aliased ResnetGenerator): ${(e as Error).message.split('\n')[0]}`);
          return;
        }
        try {
          const io = readSafetensorsRaw(path.join(dir, 'io.safetensors')).tensors;
          const input = io.get('input')!;
          const s = await session(exportOnnxBytes(g).model);
          const y = await runOrt(s, floats(input), input.shape);
          assert.ok(maxAbs(y.data, floats(io.get('output_eval')!)) <= TOL);
        } finally {
          g.dispose();
        }
      });
    }
  });

  describe('every architecture family and norm (ngf 4, random weights)', () => {
    const variants: Array<[string, GeneratorOptions, number[]]> = [
      ['unet_128_batch', { netG: 'unet_128', norm: 'batch' }, [2, 3, 128, 128]],
      ['unet_256_instance', { netG: 'unet_256', norm: 'instance' }, [1, 3, 256, 256]],
      ['unet_6downs_none_dropout_1to3', { netG: 'unet_6downs', norm: 'none', useDropout: true, inputNc: 1 }, [1, 1, 64, 128]],
      ['resnet_6blocks_batch_dropout', { netG: 'resnet_6blocks', norm: 'batch', useDropout: true }, [2, 3, 32, 48]],
      ['resnet_9blocks_none', { netG: 'resnet_9blocks', norm: 'none' }, [1, 3, 36, 20]],
      ['resnet_2blocks_instance_replicate', { netG: 'resnet_2blocks', norm: 'instance', paddingType: 'replicate' }, [1, 3, 24, 24]],
      ['resnet_2blocks_batch_zero_3to1', { netG: 'resnet_2blocks', norm: 'batch', paddingType: 'zero', outputNc: 1 }, [1, 3, 24, 28]],
    ];
    for (const [name, opts, shape] of variants) {
      it(`${name}: max abs <= ${TOL} at [${shape.join(', ')}]`, async () => {
        const g = await randomGenerator(name, opts);
        try {
          const s = await session(exportOnnxBytes(g).model);
          const x = randomInput(shape, 3);
          const y = await runOrt(s, x, shape);
          const ours = ourForward(g, x, shape);
          assert.deepStrictEqual([...y.dims], [shape[0], g.outputChannels, shape[2], shape[3]]);
          const d = maxAbs(y.data, ours);
          assert.ok(d <= TOL, `max abs ${d}`);
          assert.ok(spread(ours) > 1e-3, `our output is nearly constant (spread ${spread(ours)}): the comparison would say little`);
          console.log(`      ${name}: max abs ${d.toExponential(2)}`);
          await s.release();
        } finally {
          g.dispose();
        }
      });
    }
  });

  it('dynamic batch, height and width: two sizes through one exported model', async () => {
    const g = await randomGenerator('dyn', { netG: 'resnet_6blocks', norm: 'instance' });
    try {
      const file = path.join(tmp, 'dyn.onnx');
      exportOnnx(g, file);
      const s = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
      for (const shape of [[1, 3, 32, 32], [3, 3, 64, 40]]) {
        const x = randomInput(shape, 5);
        const y = await runOrt(s, x, shape);
        assert.deepStrictEqual([...y.dims], shape);
        assert.ok(maxAbs(y.data, ourForward(g, x, shape)) <= TOL, `size ${shape.join('x')}`);
      }
      await s.release();
    } finally {
      g.dispose();
    }
  });

  it('a facades label image through a small checkpoint matches translate() (same pre/post as the contract)', async () => {
    const g = await randomGenerator('facades', { netG: 'unet_256', norm: 'batch' }); // pix2pix's facades generator
    try {
      const file = path.join(FACADES, 'test', '1.jpg');
      const img = toRGB8(readImageFile(file));
      const { width: w, height: h } = img;
      const contract = readOnnxContract(exportOnnxBytes(g).model);
      const h2 = roundUp(h, contract.sizeMultiple), w2 = roundUp(w, contract.sizeMultiple);
      const x = reflectPadCHW(toNormalizedTensor(img), 3, h, w, h2, w2);
      const s = await session(exportOnnxBytes(g).model);
      const y = cropCHW((await runOrt(s, x, [1, 3, h2, w2])).data, 3, h2, w2, h, w);
      const viaOnnx = tensorToImage(y, 3, h, w).data;
      const viaTranslate = (await g.translate(file, { output: 'raw' })).data;
      assert.strictEqual(viaOnnx.length, viaTranslate.length);
      assert.ok(new Set(viaTranslate).size > 32, 'the translation has structure (not a constant image)');
      let worst = 0, sum = 0;
      for (let i = 0; i < viaOnnx.length; i++) { const d = Math.abs(viaOnnx[i] - viaTranslate[i]); worst = Math.max(worst, d); sum += d; }
      assert.ok(worst <= 1, `largest pixel difference ${worst}/255 (float rounding can move a value across one step)`);
      console.log(`      facades test/1.jpg ${w}x${h}: mean abs ${(sum / viaOnnx.length).toFixed(5)}/255, max ${worst}/255`);
      await s.release();
    } finally {
      g.dispose();
    }
  });

  it('carries the pre/post contract in metadata_props and uses standard operators only', async () => {
    const g = await randomGenerator('meta', { netG: 'unet_128', norm: 'batch' });
    try {
      const { model } = exportOnnxBytes(g, { opset: 13 });
      const m = onnx.ModelProto.decode(model);
      const graph = m.graph!;
      const nodes = graph.node!;
      assert.strictEqual(Number(m.opsetImport[0].version), 13);
      assert.strictEqual(m.opsetImport[0].domain, '');
      const ops = new Set(nodes.map((n) => n.opType));
      const standard = ['Conv', 'ConvTranspose', 'BatchNormalization', 'InstanceNormalization', 'Pad', 'Concat', 'Add', 'Relu', 'LeakyRelu', 'Tanh'];
      for (const op of ops) assert.ok(standard.includes(op!), `unexpected operator ${op}`);
      assert.ok(nodes.every((n) => !n.domain));
      const meta = Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value]));
      assert.match(meta['img2img.input'], /NCHW float32 in \[-1, 1\]/);
      assert.strictEqual(meta['img2img.input_channels'], '3');
      assert.strictEqual(meta['img2img.size_multiple'], '128');
      const c = readOnnxContract(model);
      assert.deepStrictEqual(c.description, g.description);
      assert.strictEqual(c.checkpoint, 'meta.safetensors');
      assert.deepStrictEqual(c.context, { model: 'pix2pix' }); // what saveNetworkCheckpoint stored with it
      assert.strictEqual(c.fixedSize, null);
      const dims = graph.input![0].type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
      assert.deepStrictEqual(dims, ['batch', 3, 'height', 'width']);
      const s = await session(model); // opset 13 runs too
      assert.deepStrictEqual(s.inputNames, ['input']);
      await s.release();
    } finally {
      g.dispose();
    }
  });

  it('opsets 11 to 21 run in ONNX Runtime with the same output', async () => {
    const g = await randomGenerator('opsets', { netG: 'resnet_2blocks', norm: 'batch' });
    try {
      const shape = [1, 3, 16, 16];
      const x = randomInput(shape, 4);
      const ours = ourForward(g, x, shape);
      for (const opset of [11, 21]) {
        const { model } = exportOnnxBytes(g, { opset });
        assert.strictEqual(Number(onnx.ModelProto.decode(model).irVersion), opset <= 17 ? 8 : 10);
        const s = await session(model);
        assert.ok(maxAbs((await runOrt(s, x, shape)).data, ours) <= TOL, `opset ${opset}`);
        await s.release();
      }
    } finally {
      g.dispose();
    }
  });

  it('--size fixes height and width; a bad size is refused clearly, at export and at run time', async () => {
    const g = await randomGenerator('sized', { netG: 'unet_128', norm: 'instance' });
    try {
      assertCode(() => exportOnnxBytes(g, { size: [100, 128] }), 'ERR_IMG2IMG_ONNX_SIZE',
        /^Expected height and width multiples of 128 for size \(unet_128\) but received 100x128$/);
      const { model } = exportOnnxBytes(g, { size: [128, 256] });
      const c = readOnnxContract(model);
      assert.deepStrictEqual(c.fixedSize, [128, 256]);
      assertCode(() => checkOnnxInputSize(c, 128, 128), 'ERR_IMG2IMG_ONNX_INPUT_SIZE', /^Expected height x width 128x256 for the ONNX generator input but received 128x128/);
      const dynamic = readOnnxContract(exportOnnxBytes(g).model);
      assertCode(() => checkOnnxInputSize(dynamic, 100, 128), 'ERR_IMG2IMG_ONNX_INPUT_SIZE', /^Expected height and width multiples of 128 for the ONNX generator input but received 100x128/);
      checkOnnxInputSize(dynamic, 256, 128);
      // ONNX Runtime itself refuses what the contract refuses (its message is less direct, hence the check above)
      const s = await ort.InferenceSession.create(exportOnnxBytes(g).model, { logSeverityLevel: 4 });
      await assert.rejects(runOrt(s, new Float32Array(3 * 100 * 128), [1, 3, 100, 128]));
      await s.release();
    } finally {
      g.dispose();
    }
  });

  it('refuses train mode, bad opsets and disposed generators with the reason', async () => {
    const file = path.join(tmp, 'train_mode.safetensors');
    manualSeed(1);
    const net = defineG({ netG: 'resnet_6blocks', ngf: 4, norm: 'batch' });
    saveNetworkCheckpoint(net, file);
    net.dispose();
    const g = await loadGenerator(file, { mode: 'train', device: 'cpu' });
    assertCode(() => exportOnnxBytes(g), 'ERR_IMG2IMG_ONNX_TRAIN_MODE', /^Expected a generator in eval mode for exportOnnx but received mode 'train' \(.*running statistics/);
    g.dispose();
    const e = await loadGenerator(file, { device: 'cpu' });
    assertCode(() => exportOnnxBytes(e, { opset: 9 }), 'ERR_IMG2IMG_ONNX_OPSET', /^Expected an integer from 11 to 21 for opset but received 9$/);
    e.dispose();
    assertCode(() => exportOnnxBytes(e), 'ERR_IMG2IMG_ONNX_MODEL', /^Expected a live generator for exportOnnx/);
  });

  it('img2img export writes a model from a run folder; usage errors exit 2', async () => {
    manualSeed(2);
    const net = defineG({ netG: 'resnet_6blocks', ngf: 4, norm: 'instance' });
    const run = path.join(tmp, 'run');
    fs.mkdirSync(run);
    saveNetworkCheckpoint(net, path.join(run, 'latest_net_G.pth'));
    net.dispose();
    const out = path.join(tmp, 'cli', 'g.onnx');
    const rc = await main(['export', '--checkpoint', run, '--epoch', 'latest', '--format', 'onnx', '--output', out, '--opset', '15', '--size', '32x64']);
    assert.strictEqual(rc, 0);
    const c = readOnnxContract(fs.readFileSync(out));
    assert.deepStrictEqual(c.fixedSize, [32, 64]);
    assert.strictEqual(c.description.arch, 'resnet_6blocks');
    assert.strictEqual(await main(['export', '--checkpoint', run, '--output', out, '--format', 'tflite']), 2);
    assert.strictEqual(await main(['export', '--checkpoint', run, '--output', out, '--opset', '99']), 2);
    assert.strictEqual(await main(['export', '--checkpoint', run, '--output', out, '--size', '30x30']), 1);
  });

  it('img2img serve --onnx refuses a missing file and a file that is not an exported generator', async () => {
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => { stderr.push(String(chunk)); return true; }) as typeof process.stderr.write;
    const notOnnx = path.join(tmp, 'not.onnx');
    fs.writeFileSync(notOnnx, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
    const plain = path.join(tmp, 'plain.onnx');
    const g = new OnnxGraph('plain');
    g.node('Relu', [g.addInput('input', [1])], {}, 'output');
    g.addOutput('output', [1]);
    fs.writeFileSync(plain, g.encode({ opset: 13, producerName: 'test', producerVersion: '0', docString: '', metadata: {} }));
    let codes: number[];
    try {
      codes = [
        await main(['serve', '--onnx', path.join(tmp, 'missing.onnx'), '--port', '0']),
        await main(['serve', '--onnx', notOnnx, '--port', '0']),
        await main(['serve', '--onnx', plain, '--port', '0']),
      ];
    } finally {
      process.stderr.write = write;
    }
    assert.deepStrictEqual(codes, [1, 1, 1]);
    assert.match(stderr[0], /Expected an \.onnx file for --onnx but received '.*missing\.onnx' \(it does not exist\)/);
    assert.match(stderr[1], /Expected an ONNX model \(protobuf ModelProto\) for --onnx .*not\.onnx but received 5 bytes that do not decode as one/);
    assert.match(stderr[2], /Expected metadata img2img\.input_channels for --onnx .*plain\.onnx but received none \(export it with img2img export\)/);
  });
});
