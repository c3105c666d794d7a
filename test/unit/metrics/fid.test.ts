/**
 * FID as pytorch-fid computes it, against shared/fixtures/fid (pytorch-fid's own outputs with the formula weights):
 * pool3 features, their float64 mean, and the Fréchet distance.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readSafetensorsRaw, writePthRaw } from '../../../src/checkpoint';
import { FidInception } from '../../../src/metrics/fid_inception';
import { FID_WEIGHTS_FILE } from '../../../src/metrics/fid_weights_location';
import { featureStatistics, frechetDistance } from '../../../src/metrics/frechet';
import { MetricError } from '../../../src/metrics/metric_errors';
import { getRngState } from '../../../src/runtime';
import { Tensor } from '../../../src/tensor';
import { runPython } from '../../helpers/run_python';
import { facadesHalf } from './metrics_helpers';
import { FID_CASE_DIR, formulaStateDict, readFidCase } from './fid_weights';

function f64(data: Buffer): Float64Array { return new Float64Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)); }
function f32(data: Buffer): Float32Array { return new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)); }

describe('metrics/fid', () => {
  const fidCase = readFidCase();
  const fixture = readSafetensorsRaw(path.join(FID_CASE_DIR, 'features.safetensors')).tensors;
  let dir: string;
  let weights: string;
  let inception: FidInception;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-fid-'));
    weights = path.join(dir, FID_WEIGHTS_FILE);
    writePthRaw(weights, formulaStateDict(fidCase));
    inception = FidInception.load(weights);
  });
  after(() => {
    inception?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loads a .pth with the real file\'s keys, order and shapes through the safe reader', () => {
    const own = [...inception.network.stateDict()];
    try {
      assert.deepStrictEqual(own.map(([k]) => k), fidCase.state_dict_keys);
      for (const [k, t] of own) assert.deepStrictEqual(t.shape, fidCase.shapes[k], k);
    } finally {
      for (const [, t] of own) t.dispose();
    }
  });

  it('loads the formula weights as Python torch saves them in the legacy (pre-1.6) format, bit for bit', () => {
    const legacy = path.join(dir, 'legacy.pth');
    runPython(String.raw`
import json, collections
import numpy as np, torch
c = json.load(open(${JSON.stringify(path.join(FID_CASE_DIR, 'case.json'))}))
M = np.uint64(0xFFFFFFFF)
sd = collections.OrderedDict()
for t, k in enumerate(c['state_dict_keys']):
    shape = c['shapes'][k]
    if k.endswith('num_batches_tracked'):
        sd[k] = torch.tensor(0); continue
    i = np.arange(int(np.prod(shape)), dtype=np.uint64)
    h = (i * np.uint64(0x9E3779B1) + np.uint64(t) * np.uint64(0x85EBCA77)) & M
    h ^= h >> np.uint64(16); h = (h * np.uint64(0x7FEB352D)) & M
    h ^= h >> np.uint64(15); h = (h * np.uint64(0x846CA68B)) & M
    h ^= h >> np.uint64(16)
    u = h.astype(np.float64) / 2**32 - 0.5
    if k.endswith('.bn.weight'): v = 1 + 0.2 * u
    elif k.endswith('.bn.bias'): v = 0.2 * u
    elif k.endswith('.bn.running_mean'): v = 0.1 * u
    elif k.endswith('.bn.running_var'): v = 1 + 0.5 * (u + 0.5)
    elif k.endswith('.weight'): v = u * np.sqrt(2 / np.prod(shape[1:])) / np.sqrt(1 / 12)
    else: v = 0.1 * u
    sd[k] = torch.from_numpy(v.astype(np.float32)).reshape(shape)
torch.save(sd, ${JSON.stringify(legacy)}, _use_new_zipfile_serialization=False)
`);
    const fromPython = FidInception.load(legacy);
    const ours = formulaStateDict(fidCase);
    const loaded = fromPython.network.stateDict();
    try {
      for (const [k, t] of loaded) assert.ok(t.toBytes().equals(ours.get(k)!.data), `${k} differs`);
    } finally {
      for (const t of loaded.values()) t.dispose();
      fromPython.dispose();
    }
  });

  it('leaves torch\'s random generator as it was (building it must not change a training run)', () => {
    const before = getRngState();
    FidInception.withDefaultInit().dispose();
    assert.deepStrictEqual(getRngState(), before);
  });

  it('pool3 features of facades test photos 1..8 equal pytorch-fid\'s', async () => {
    const images = Array.from({ length: 8 }, (_, i) => facadesHalf(i + 1, 'photo'));
    const t0 = Date.now();
    const features = await inception.features(images, { batchSize: 8 });
    const seconds = (Date.now() - t0) / 1000;
    try {
      assert.deepStrictEqual(features.shape, [8, 2048]);
      const ours = features.toFloat32Array();
      const ref = f32(fixture.get('pool3_test_1_to_8')!.data);
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ours[i] - ref[i]));
      console.log(`      max |ours - pytorch-fid| ${worst.toExponential(2)} (tolerance ${fidCase.tolerance.features_max_abs}); ${(seconds / 8).toFixed(2)} s/image`);
      assert.ok(worst <= fidCase.tolerance.features_max_abs, `features differ by ${worst}`);
    } finally {
      features.dispose();
    }
  });

  it('the float64 mean of pool3 over test photos 1..106 equals pytorch-fid\'s', async () => {
    const images = Array.from({ length: 106 }, (_, i) => facadesHalf(i + 1, 'photo'));
    const features = await inception.features(images, { batchSize: 16 });
    const stats = featureStatistics(features);
    try {
      const ours = f64(stats.mu.toBytes());
      const ref = f64(fixture.get('pool3_mean_test_1_to_106')!.data);
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ours[i] - ref[i]));
      console.log(`      max |mean - pytorch-fid| ${worst.toExponential(2)} (tolerance ${fidCase.tolerance.mean_max_abs})`);
      assert.ok(worst <= fidCase.tolerance.mean_max_abs, `means differ by ${worst}`);
    } finally {
      features.dispose(); stats.mu.dispose(); stats.sigma.dispose();
    }
  });

  it('the Fréchet distance of frechet_X and frechet_Y equals calculate_frechet_distance', () => {
    const x = fixture.get('frechet_X')!, y = fixture.get('frechet_Y')!;
    const tx = Tensor.fromBytes(x.data, 'float64', x.shape), ty = Tensor.fromBytes(y.data, 'float64', y.shape);
    const a = featureStatistics(tx), b = featureStatistics(ty);
    try {
      const d = frechetDistance(a, b);
      const rel = Math.abs(d - fidCase.frechet_distance_X_Y) / fidCase.frechet_distance_X_Y;
      console.log(`      ${d} vs ${fidCase.frechet_distance_X_Y} (relative ${rel.toExponential(2)})`);
      assert.ok(rel <= fidCase.tolerance.frechet_rel, `relative difference ${rel}`);
    } finally {
      for (const t of [tx, ty, a.mu, a.sigma, b.mu, b.sigma]) t.dispose();
    }
  });

  it('names the weights file when it is missing, and refuses a file with other keys', () => {
    assert.throws(() => FidInception.load(path.join(dir, 'nowhere', FID_WEIGHTS_FILE)),
      (e: unknown) => e instanceof MetricError && e.code === 'ERR_IMG2IMG_FID_WEIGHTS_MISSING' && e.message.includes(FID_WEIGHTS_FILE) && /^Expected /.test(e.message));
    const partial = formulaStateDict(fidCase);
    partial.delete('fc.bias');
    const bad = path.join(dir, 'partial.pth');
    writePthRaw(bad, partial);
    assert.throws(() => FidInception.load(bad), (e: unknown) => e instanceof MetricError && e.code === 'ERR_IMG2IMG_FID_WEIGHTS_MISMATCH' && /fc\.bias/.test(e.message));
  });
});
