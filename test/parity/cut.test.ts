// Reproduces shared/fixtures/parity/cut (CUT, taesungp/contrastive-unpaired-translation b3ac297, on Debian torch
// 1.13) through the public API. networks/: seeded define_G + define_D (xavier), eval forward of G and D,
// encode_only features at nce_layers, PatchSampleF with the recorded patch ids and PatchNCE per layer (max_abs 1e-4,
// patchnce_rel 1e-4). train/: createModel(parseOptions(command_line)), dataDependentInitialize(step0), the initial
// weights, manualSeed(3), then three optimizeParameters with CUT's numpy draws replayed (model.draws); losses per
// step (tolerance_by_step where given), last visuals and final weights within each case's tolerance.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createModel, manualSeed, parseOptions, replayDraws, CUTModel } from '../../src';
import { defineCutD, defineCutF, defineCutG, parseNceLayers, patchNceLoss, CutNetworkOptions } from '../../src/models/cut_model';
import { readSafetensorsRaw, RawTensor } from '../../src/checkpoint';
import { noGrad, Tensor } from '../../src/tensor';
import { SHARED } from '../helpers/paths';
import { assertClose } from '../helpers/compare';
import { floats, loadInitialWeights, runStepsAndCheck, stepBatch, TrainTolerance } from '../helpers/train_parity';

const ROOT = path.join(SHARED, 'fixtures/parity/cut');

function ints(t: RawTensor): number[] {
  return Array.from(new BigInt64Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength)), Number);
}
function tensorOf(t: RawTensor): Tensor { return Tensor.fromBytes(t.data, t.dtype, t.shape); }

describe('parity: CUT networks (shared/fixtures/parity/cut/networks)', function () {
  this.timeout(120000);
  const dir = path.join(ROOT, 'networks/resnet9_antialias_basicD');
  const c = JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8'));
  const g = c.define_G_args, d = c.define_D_args;
  const opts: CutNetworkOptions = {
    input_nc: g.input_nc, output_nc: g.output_nc, ngf: g.ngf, ndf: d.ndf, netG: g.netG, netD: d.netD, n_layers_D: d.n_layers_D,
    normG: g.norm, normD: d.norm, no_dropout: !g.use_dropout, init_type: g.init_type, init_gain: g.init_gain,
    netF: c.netF, netF_nc: c.netF_nc,
  };
  const io = readSafetensorsRaw(path.join(dir, 'io.safetensors')).tensors;
  const tol = c.tolerance.max_abs;

  function checkWeights(net: { stateDict(): Map<string, Tensor> }, file: string, what: string): void {
    const ref = readSafetensorsRaw(path.join(dir, file)).tensors;
    const mine = net.stateDict();
    assert.deepStrictEqual([...mine.keys()], [...ref.keys()], `${what} state_dict keys and order`);
    for (const [k, t] of mine) { assertClose(t.toFloat32Array(), floats(ref.get(k)!), 0, `${what} ${k}`); t.dispose(); }
  }

  it('builds G, D (seed 0) and F (seed 4) bit-exactly with CUT\'s keys; G, D, encode_only, PatchSampleF and PatchNCE match', () => {
    manualSeed(0);
    const G = defineCutG(opts), D = defineCutD(opts);
    let F: ReturnType<typeof defineCutF> | null = null;
    try {
      checkWeights(G, 'weights_G.safetensors', 'G');
      checkWeights(D, 'weights_D.safetensors', 'D');
      G.eval(); D.eval();
      noGrad(() => {
        const x = tensorOf(io.get('input')!), x2 = tensorOf(io.get('input2')!);
        const out = G.forward(x);
        assertClose(out.toFloat32Array(), floats(io.get('output_eval')!), tol, 'G(input)');
        assertClose(D.forward(out).toFloat32Array(), floats(io.get('D_of_output')!), tol, 'D(G(input))');
        const layers: number[] = c.nce_layers;
        const feats = G.encode(x, layers), feats2 = G.encode(x2, layers);
        feats.forEach((f, i) => {
          assert.deepStrictEqual(f.shape, io.get(`features.${i}`)!.shape, `features.${i} shape`);
          assertClose(f.toFloat32Array(), floats(io.get(`features.${i}`)!), tol, `features.${i}`);
          assertClose(feats2[i].toFloat32Array(), floats(io.get(`features2.${i}`)!), tol, `features2.${i}`);
        });
        manualSeed(4);
        F = defineCutF(feats.map((f) => f.shape[1]), opts);
        checkWeights(F, 'weights_F.safetensors', 'F');
        const ids = feats.map((_, i) => tensorOf(io.get(`F.patch_ids.${i}`)!));
        const outK = F.samplePatches(feats, ids), outQ = F.samplePatches(feats2, ids);
        const nce = floats(io.get('patchnce_per_layer')!);
        outK.forEach((k, i) => {
          assertClose(k.toFloat32Array(), floats(io.get(`F.out_k.${i}`)!), tol, `F.out_k.${i}`);
          assertClose(outQ[i].toFloat32Array(), floats(io.get(`F.out_q.${i}`)!), tol, `F.out_q.${i}`);
          const loss = patchNceLoss(outQ[i], k, { batchSize: c.batch_size, nceT: c.nce_T, allNegativesFromMinibatch: c.nce_includes_all_negatives_from_minibatch }).mean().item();
          const rel = Math.abs(loss - nce[i]) / Math.abs(nce[i]);
          assert.ok(rel <= c.tolerance.patchnce_rel, `PatchNCE layer ${i}: got ${loss}, reference ${nce[i]} (relative ${rel.toExponential(2)})`);
        });
      });
      assert.deepStrictEqual(parseNceLayers('0,4,8,12,16'), c.nce_layers);
    } finally {
      G.dispose(); D.dispose(); (F as { dispose(): void } | null)?.dispose();
    }
  });
});

interface CutTrainCase {
  command_line: string[];
  steps: number;
  draws: Record<string, { patch_id_permutations: number; flips: boolean[] }>;
  losses: Array<Record<string, number>>;
  tolerance: TrainTolerance;
}

describe('parity: CUT / FastCUT training steps (shared/fixtures/parity/cut/train)', function () {
  this.timeout(300000);
  const cases = path.join(ROOT, 'train');
  const names = fs.readdirSync(cases).filter((n) => fs.existsSync(path.join(cases, n, 'case.json'))).sort();
  it('has both fixture cases', () => assert.deepStrictEqual(names, ['cut_resnet6_default', 'fastcut_resnet6']));

  for (const name of names) {
    it(`${name}: losses per step, visuals and final weights`, () => {
      const dir = path.join(cases, name);
      const c: CutTrainCase = JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8'));
      const steps = readSafetensorsRaw(path.join(dir, 'steps.safetensors')).tensors;
      const opt = parseOptions([...c.command_line, '--checkpoints_dir', path.join(os.tmpdir(), 'img2img-cut-parity'), '--device', 'cpu']);
      const model = createModel(opt) as CUTModel;
      try {
        // CUT's numpy draws, in call order: init, then each step.
        const phases = ['init', ...Array.from({ length: c.steps }, (_, s) => `step${s}`)];
        model.draws = replayDraws({
          permutations: phases.flatMap((p) => Array.from({ length: c.draws[p].patch_id_permutations }, (_, k) => ints(steps.get(`draws.${p}.patch_ids.${k}`)!))),
          flips: phases.flatMap((p) => c.draws[p].flips),
        });
        model.dataDependentInitialize(stepBatch(steps, 0));
        assert.deepStrictEqual(model.modelNames, ['G', 'F', 'D']);
        loadInitialWeights(model, readSafetensorsRaw(path.join(dir, 'initial_weights.safetensors')).tensors);
        runStepsAndCheck(model, dir, steps, c);
      } finally {
        model.dispose();
      }
    });
  }
});
