// Reproduces shared/fixtures/parity/train (three optimize_parameters steps of the reference on Debian torch 1.13)
// through the public API: createModel(parseOptions(command_line)), loadStateDict per network, manualSeed(3),
// then setInput + optimizeParameters per step; checks losses per step, last visuals and final weights within
// the case's tolerances.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { createModel, parseOptions, Tensor } from '../../src';
import { readSafetensorsRaw } from '../../src/checkpoint';
import { SHARED } from '../helpers/paths';
import { loadInitialWeights, runStepsAndCheck, TrainTolerance } from '../helpers/train_parity';

const CASES = path.join(SHARED, 'fixtures/parity/train');

interface TrainCase {
  command_line: string[];
  steps: number;
  losses: Array<Record<string, number>>;
  tolerance: TrainTolerance;
}

describe('parity: training steps (shared/fixtures/parity/train)', function () {
  this.timeout(300000);
  const names = fs.readdirSync(CASES).filter((n) => fs.existsSync(path.join(CASES, n, 'case.json'))).sort();
  it('has fixture cases', () => assert.ok(names.length >= 2));

  for (const name of names) {
    it(`${name}: losses per step, visuals and final weights`, () => {
      const dir = path.join(CASES, name);
      const c: TrainCase = JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8'));
      const opt = parseOptions([...c.command_line, '--checkpoints_dir', path.join(require('os').tmpdir(), 'img2img-parity'), '--device', 'cpu']);
      const model = createModel(opt);
      try {
        loadInitialWeights(model, readSafetensorsRaw(path.join(dir, 'initial_weights.safetensors')).tensors);
        const steps = readSafetensorsRaw(path.join(dir, 'steps.safetensors')).tensors;
        runStepsAndCheck(model, dir, steps, c);
      } finally {
        model.dispose();
      }
    });
  }
});

export type { Tensor };
