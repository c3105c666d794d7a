/**
 * LR schedules (reference.md §3.6). Reproduces shared/fixtures/parity/schedulers/*.json (relative
 * tolerance 1e-15), the verified plateau and cosine behaviour, and PyTorch 1.13's get_lr formulas
 * evaluated by Python (exact match expected, except cos() rounding).
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { SHARED } from '../../helpers/paths';
import { PYTHON, runPythonJson } from '../../helpers/run_python';
import { parseTrainOptions } from '../../../src/plugins';
import { createScheduler, formatLrChange, LrScheduler, SchedulerOptions } from '../../../src/models/schedulers';

const SCHEDULER_FIXTURES = path.join(SHARED, 'fixtures', 'parity', 'schedulers');

function options(overrides: Partial<SchedulerOptions> = {}): SchedulerOptions {
  return { lr_policy: 'linear', epoch_count: 1, n_epochs: 100, n_epochs_decay: 100, lr_decay_iters: 50, ...overrides };
}

/** LR before the first step and after each of `steps` steps. */
function trace(scheduler: LrScheduler, steps: number, metric?: number): number[] {
  const lrs = [scheduler.lr];
  for (let i = 0; i < steps; i += 1) {
    scheduler.step(metric);
    lrs.push(scheduler.lr);
  }
  return lrs;
}

/** Fails with the worst element and its index when two LR sequences differ beyond `relTol`. */
function assertClose(actual: number[], expected: number[], relTol: number): void {
  assert.strictEqual(actual.length, expected.length, 'sequence length');
  let worst = -1;
  let worstError = 0;
  for (let i = 0; i < expected.length; i += 1) {
    const error = Math.abs(actual[i] - expected[i]) / Math.max(Math.abs(expected[i]), 1e-300);
    const bad = expected[i] === 0 ? actual[i] !== 0 && Math.abs(actual[i]) > 1e-20 : error > relTol;
    if (bad && error >= worstError) { worst = i; worstError = error; }
  }
  if (worst >= 0) assert.fail(`worst element ${worst}: ${actual[worst]} vs reference ${expected[worst]} (rel ${worstError})`);
}

describe('util/schedulers', () => {
  describe('fixtures (shared/fixtures/parity/schedulers)', () => {
    const files = fs.existsSync(SCHEDULER_FIXTURES) ? fs.readdirSync(SCHEDULER_FIXTURES).filter((f) => f.endsWith('.json')).sort() : [];
    it('has fixture files', function () {
      assert.ok(files.length > 0, 'no scheduler fixtures found');
    });
    for (const file of files) {
      it(`reproduces ${file}`, () => {
        const fixture = JSON.parse(fs.readFileSync(path.join(SCHEDULER_FIXTURES, file), 'utf8'));
        const { opt } = parseTrainOptions(fixture.command_line, { chooseSeed: () => 0 });
        const expected: number[] = fixture.lr_before_first_update_and_after_each;
        const scheduler = createScheduler(opt, opt.lr);
        const metric = opt.lr_policy === 'plateau' ? 1.0 : undefined; // the fixtures step plateau with 1.0
        assertClose(trace(scheduler, expected.length - 1, metric), expected, 1e-15);
      });
    }
  });

  it('linear: with end-of-epoch steps, epoch e trains at lr*(1 - max(0, e - n_epochs)/(n_epochs_decay + 1))', () => {
    for (const epochCount of [1, 5, 101]) {
      const scheduler = createScheduler(options({ epoch_count: epochCount }), 0.0002);
      for (let epoch = epochCount; epoch <= 200; epoch += 1) {
        const expected = 0.0002 * (1 - Math.max(0, epoch - 100) / 101);
        assert.ok(Math.abs(scheduler.lr - expected) <= 1e-18, `epoch ${epoch}: ${scheduler.lr} vs ${expected}`);
        scheduler.step();
      }
    }
  });

  it('step: ×0.1 every lr_decay_iters epochs', () => {
    const lrs = trace(createScheduler(options({ lr_policy: 'step', lr_decay_iters: 3 }), 1), 7);
    assertClose(lrs, [1, 1, 1, 0.1, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002], 0);
  });

  it('plateau with the reference metric 0: ×0.2 on the 7th step, then every 6, floor 2.56e-9', () => {
    const lrs = trace(createScheduler(options({ lr_policy: 'plateau' }), 0.0002), 60);
    const reductions = lrs.map((lr, i) => (i > 0 && lr < lrs[i - 1] ? i : -1)).filter((i) => i > 0);
    assert.deepStrictEqual(reductions, [7, 13, 19, 25, 31, 37, 43]);
    assert.ok(Math.abs(lrs[60] - 2.56e-9) < 1e-20, String(lrs[60]));
  });

  it('cosine: 0 at epoch 101, 9.69e-5 at epoch 150, 2.0e-4 at epoch 200 (the LR during epoch e is after e-1 steps)', () => {
    const lrs = trace(createScheduler(options({ lr_policy: 'cosine' }), 0.0002), 199);
    assert.strictEqual(lrs[100], 0);
    assert.ok(Math.abs(lrs[149] - 9.69e-5) < 0.005e-5, String(lrs[149]));
    assert.ok(Math.abs(lrs[199] - 2.0e-4) < 0.005e-4, String(lrs[199]));
    for (let e = 0; e <= 100; e += 1) {
      const closedForm = 0.0002 * (1 + Math.cos(Math.PI * e / 100)) / 2;
      assert.ok(Math.abs(lrs[e] - closedForm) <= 1e-12 * 0.0002, `step ${e}`);
    }
  });

  it("matches PyTorch 1.13's get_lr formulas evaluated in Python", function () {
    assert.ok(PYTHON, 'this test needs /usr/bin/python3 (.ci/run installs it)');
    const reference = runPythonJson<Record<string, number[]>>(String.raw`
import json, math
def linear(base, ec, n, nd, steps):
    rule = lambda e: 1.0 - max(0, e + ec - n) / float(nd + 1)
    return [base * rule(e) for e in range(steps + 1)]
def step(base, size, steps):
    lr, out = base, [base]
    for e in range(1, steps + 1):
        if not (e == 0 or e % size != 0):
            lr = lr * 0.1
        out.append(lr)
    return out
def cosine(base, t, steps, eta_min=0):
    lr, out = base, [base]
    for e in range(1, steps + 1):
        if (e - 1 - t) % (2 * t) == 0:
            lr = lr + (base - eta_min) * (1 - math.cos(math.pi / t)) / 2
        else:
            lr = (1 + math.cos(math.pi * e / t)) / (1 + math.cos(math.pi * (e - 1) / t)) * (lr - eta_min) + eta_min
        out.append(lr)
    return out
def plateau(base, metric, steps, factor=0.2, threshold=0.01, patience=5, eps=1e-8):
    lr, best, bad, out = base, math.inf, 0, [base]
    for e in range(1, steps + 1):
        if metric < best * (1. - threshold):
            best, bad = metric, 0
        else:
            bad += 1
        if bad > patience:
            new_lr = max(lr * factor, 0)
            if lr - new_lr > eps:
                lr = new_lr
            bad = 0
        out.append(lr)
    return out
print(json.dumps({
  'linear': linear(0.0002, 3, 10, 7, 20),
  'step': step(0.0002, 4, 30),
  'cosine': cosine(0.0002, 7, 40),
  'cosine100': cosine(0.0002, 100, 199),
  'plateau0': plateau(0.0002, 0.0, 60),
  'plateau1': plateau(0.0002, 1.0, 60),
}))
`);
    assertClose(trace(createScheduler(options({ epoch_count: 3, n_epochs: 10, n_epochs_decay: 7 }), 0.0002), 20), reference.linear, 0);
    assertClose(trace(createScheduler(options({ lr_policy: 'step', lr_decay_iters: 4 }), 0.0002), 30), reference.step, 0);
    assertClose(trace(createScheduler(options({ lr_policy: 'plateau' }), 0.0002), 60, 0), reference.plateau0, 0);
    assertClose(trace(createScheduler(options({ lr_policy: 'plateau' }), 0.0002), 60, 1.0), reference.plateau1, 0);
    // cos() of V8 and of the C library may differ in the last bit; the recursion carries that along.
    assertClose(trace(createScheduler(options({ lr_policy: 'cosine', n_epochs: 7 }), 0.0002), 40), reference.cosine, 1e-13);
    assertClose(trace(createScheduler(options({ lr_policy: 'cosine' }), 0.0002), 199), reference.cosine100, 1e-12);
  });

  it('stateDict / loadStateDict resume the schedule exactly (JSON round trip)', () => {
    for (const policy of ['linear', 'step', 'plateau', 'cosine']) {
      const full = trace(createScheduler(options({ lr_policy: policy, lr_decay_iters: 5 }), 0.0002), 40);
      const first = createScheduler(options({ lr_policy: policy, lr_decay_iters: 5 }), 0.0002);
      trace(first, 17);
      const resumed = createScheduler(options({ lr_policy: policy, lr_decay_iters: 5 }), 0.0002);
      resumed.loadStateDict(JSON.parse(JSON.stringify(first.stateDict())));
      assert.deepStrictEqual(trace(resumed, 23), full.slice(17), policy);
    }
    const linear = createScheduler(options(), 0.0002);
    assert.throws(() => linear.loadStateDict(createScheduler(options({ lr_policy: 'step' }), 1).stateDict()),
      { message: "Expected a linear scheduler state for --lr_policy but received 'step'" });
  });

  it('rejects an unknown policy (the reference returns NotImplementedError instead of raising)', () => {
    assert.throws(() => createScheduler(options({ lr_policy: 'exponential' }), 0.0002),
      { name: 'OptionError', message: "Expected one of linear, step, plateau, cosine for --lr_policy but received 'exponential'" });
    assert.throws(() => createScheduler(options({ lr_policy: 'cosine', n_epochs: 0 }), 0.0002), /Expected an integer >= 1 for --n_epochs/);
  });

  it('formats the LR change line like update_learning_rate', () => {
    assert.strictEqual(formatLrChange(0.0002, 0.0002 * 100 / 101), 'learning rate 0.0002000 -> 0.0001980');
  });
});
