// Reproduces every case in shared/fixtures/parity/networks (reference: junyanz/pytorch-CycleGAN-and-pix2pix
// 2a7afba on Debian torch 1.13): seeded construction + init, eval forward, train forward with dropout masks,
// and BatchNorm running stats, within each case's max_abs tolerance (1e-4).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { defineD, defineG, Network } from '../../src/networks';
import type { InitType } from '../../src/architectures';
import { readSafetensorsRaw } from '../../src/checkpoint';
import { manualSeed } from '../../src/runtime';
import { noGrad, Tensor } from '../../src/tensor';
import { SHARED } from '../helpers/paths';
import { assertClose } from '../helpers/compare';

const CASES = path.join(SHARED, 'fixtures/parity/networks');

interface NetworkCase {
  network: 'G' | 'D';
  define_args: Record<string, unknown>;
  init_type: InitType;
  init_gain: number;
  state_dict_keys: string[];
  shapes: Record<string, number[]>;
  tolerance: { max_abs: number };
}

function build(c: NetworkCase): Network {
  const a = c.define_args as Record<string, never>;
  if (c.network === 'G') {
    return defineG({ netG: a.netG, inputNc: a.input_nc, outputNc: a.output_nc, ngf: a.ngf, norm: a.norm,
      useDropout: a.use_dropout, initType: c.init_type, initGain: c.init_gain });
  }
  return defineD({ netD: a.netD, inputNc: a.input_nc, ndf: a.ndf, nLayersD: a.n_layers_D, norm: a.norm,
    initType: c.init_type, initGain: c.init_gain });
}

function rawToFloats(t: { dtype: string; data: Buffer }): Float64Array {
  if (t.dtype === 'float32') {
    const f = new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
    return Float64Array.from(f);
  }
  if (t.dtype === 'int64') {
    const b = new BigInt64Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
    return Float64Array.from(b, (x) => Number(x));
  }
  throw new Error(`unexpected dtype ${t.dtype}`);
}

describe('parity: networks (shared/fixtures/parity/networks)', function () {
  const names = fs.readdirSync(CASES).filter((n) => fs.existsSync(path.join(CASES, n, 'case.json'))).sort();
  it('has fixture cases', () => assert.ok(names.length >= 4, `found ${names.length} cases in ${CASES}`));

  for (const name of names) {
    describe(name, () => {
      const dir = path.join(CASES, name);
      const c: NetworkCase = JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8'));
      const weights = () => readSafetensorsRaw(path.join(dir, 'weights.safetensors')).tensors;
      const io = () => readSafetensorsRaw(path.join(dir, 'io.safetensors')).tensors;

      it('has the reference state_dict keys, order, shapes and dtypes', () => {
        manualSeed(0);
        const net = build(c);
        const sd = net.stateDict();
        assert.deepStrictEqual([...sd.keys()], c.state_dict_keys);
        for (const [k, t] of sd) {
          assert.deepStrictEqual(t.shape, c.shapes[k], `shape of ${k}`);
          assert.strictEqual(t.dtype, k.endsWith('num_batches_tracked') ? 'int64' : 'float32', `dtype of ${k}`);
        }
        net.dispose();
      });

      it('manualSeed(0) + construction + init gives the reference weights bit-exactly', () => {
        manualSeed(0);
        const net = build(c);
        const ref = weights();
        for (const [k, t] of net.stateDict()) {
          const r = ref.get(k)!;
          assert.ok(r, `reference lacks ${k}`);
          assert.ok(t.toBytes().equals(r.data), `${k} differs from the reference init`);
        }
        net.dispose();
      });

      it('eval forward (no grad) and train forward after manualSeed(2) match, with BatchNorm stats', () => {
        const net = build(c);
        net.loadStateDict(weights(), { what: 'weights.safetensors' });
        const tensors = io();
        const inRaw = tensors.get('input')!;
        const x = Tensor.fromBytes(inRaw.data, 'float32', inRaw.shape);
        net.eval();
        const yEval = noGrad(() => net.forward(x));
        assertClose(yEval.toFloat32Array(), rawToFloats(tensors.get('output_eval')!), c.tolerance.max_abs, `${name} output_eval`);
        net.train();
        manualSeed(2);
        const yTrain = net.forward(x);
        assertClose(yTrain.toFloat32Array(), rawToFloats(tensors.get('output_train')!), c.tolerance.max_abs, `${name} output_train`);
        const sd = net.stateDict();
        let checked = 0;
        for (const [k, v] of tensors) {
          if (!k.startsWith('after_train_forward.')) continue;
          const key = k.slice('after_train_forward.'.length);
          const mine = sd.get(key);
          assert.ok(mine, `network lacks buffer ${key}`);
          assertClose(Float64Array.from(mine!.toFloat32Array()), rawToFloats(v), c.tolerance.max_abs, `${name} ${key}`);
          checked++;
        }
        if (c.state_dict_keys.some((k) => k.endsWith('running_mean'))) assert.ok(checked > 0, 'no BatchNorm stats were checked');
        for (const t of [x, yEval, yTrain, ...sd.values()]) t.dispose();
        net.dispose();
      });
    });
  }
});
