/** PythonRandom against CPython's `random` (same seeds → same draws, bit for bit). */
import * as assert from 'assert';
import { PYTHON, runPythonJson } from '../../helpers/run_python';
import { PythonRandom } from '../../../src/util/python_random';

// Seeds covering 0, small, negative (|seed| is used), one and several 32-bit words.
const SEEDS = ['0', '1', '5', '42', '-3', '4294967295', '4294967303', '1180591620717411303547'];

interface Draws {
  random: number[];
  randint049: number;
  bits: number[];
  bigBits: string;
  randint_big: number;
  randrange: number;
  uniform: number;
  shuffled: number[];
  choice: string;
  manyRandint: number[];
  stateTail: number[];
}

const PYTHON_DRAWS = String.raw`
import json, random, sys
out = {}
for text in json.load(sys.stdin):
    random.seed(int(text))
    d = {}
    d['random'] = [random.random() for _ in range(5)]
    d['randint049'] = random.randint(0, 49)
    d['bits'] = [random.getrandbits(k) for k in (0, 1, 7, 31, 32, 33, 52, 53)]
    d['bigBits'] = str(random.getrandbits(100))
    d['randint_big'] = random.randint(0, 2**40)
    d['randrange'] = random.randrange(3, 1000)
    d['uniform'] = random.uniform(2.5, 7.0)
    x = list(range(20)); random.shuffle(x); d['shuffled'] = x
    d['choice'] = random.choice(['a', 'b', 'c', 'd', 'e'])
    d['manyRandint'] = [random.randint(0, max(0, 286 - 256)) for _ in range(700)]
    state = random.getstate()
    d['stateTail'] = list(state[1][-3:])
    out[text] = d
print(json.dumps(out))
`;

function draw(seed: string): Draws {
  const rng = new PythonRandom(BigInt(seed));
  const random = Array.from({ length: 5 }, () => rng.random());
  const randint049 = rng.randint(0, 49);
  const bits = [0, 1, 7, 31, 32, 33, 52, 53].map((k) => rng.getrandbits(k));
  const bigBits = rng.getrandbitsBig(100).toString();
  const randint_big = rng.randint(0, 2 ** 40);
  const randrange = rng.randrange(3, 1000);
  const uniform = rng.uniform(2.5, 7.0);
  const shuffled = Array.from({ length: 20 }, (_, i) => i);
  rng.shuffle(shuffled);
  const choice = rng.choice(['a', 'b', 'c', 'd', 'e']);
  const manyRandint = Array.from({ length: 700 }, () => rng.randint(0, Math.max(0, 286 - 256)));
  const stateTail = rng.getState().internalState.slice(-3);
  return { random, randint049, bits, bigBits, randint_big, randrange, uniform, shuffled, choice, manyRandint, stateTail };
}

describe('util/python_random', () => {
  it('matches CPython draw for draw for several seeds', function () {
    assert.ok(PYTHON, 'this test needs /usr/bin/python3 (.ci/run installs it)');
    const reference = runPythonJson<Record<string, Draws>>(PYTHON_DRAWS, JSON.stringify(SEEDS));
    for (const seed of SEEDS) {
      const ours: Record<string, unknown> = { ...draw(seed) };
      for (const [key, value] of Object.entries(reference[seed])) {
        assert.deepStrictEqual(ours[key], value, `seed ${seed}, ${key}`);
      }
    }
  });

  it('matches the documented python one-liner for seed 5', function () {
    assert.ok(PYTHON, 'this test needs /usr/bin/python3 (.ci/run installs it)');
    const reference = runPythonJson<[number[], number]>(
      'import random, json; random.seed(5); print(json.dumps([[random.random() for _ in range(5)], random.randint(0, 49)]))');
    const rng = new PythonRandom(5);
    assert.deepStrictEqual([Array.from({ length: 5 }, () => rng.random()), rng.randint(0, 49)], reference);
  });

  it('getState / setState round-trip through JSON and match Python getstate()', function () {
    const rng = new PythonRandom(123);
    for (let i = 0; i < 1000; i += 1) rng.random();
    const saved = JSON.parse(JSON.stringify(rng.getState()));
    const next = Array.from({ length: 10 }, () => rng.random());
    const other = new PythonRandom(7);
    other.setState(saved);
    assert.deepStrictEqual(Array.from({ length: 10 }, () => other.random()), next);
    assert.strictEqual(saved.internalState.length, 625);
    if (!PYTHON) return;
    const pythonState = runPythonJson<number[]>(
      'import random, json; random.seed(123); [random.random() for _ in range(1000)]; print(json.dumps(list(random.getstate()[1])))');
    assert.deepStrictEqual(saved.internalState, pythonState);
  });

  it('same seed → same sequence; seed() restarts it', () => {
    const a = new PythonRandom(99);
    const first = [a.random(), a.randint(1, 6)];
    a.seed(99);
    assert.deepStrictEqual([a.random(), a.randint(1, 6)], first);
  });

  it('reports misuse clearly', () => {
    const rng = new PythonRandom(1);
    assert.throws(() => rng.randint(5, 4), /empty range for randrange\(\) \(5, 5, 0\)/);
    assert.throws(() => rng.getrandbits(54), /Expected an integer in \[0, 53\] for getrandbits but received '54'/);
    assert.throws(() => new PythonRandom(1.5), /Expected an integer for the random seed but received '1.5'/);
    assert.throws(() => rng.setState({ version: 3, internalState: [1, 2], gaussNext: null }), /Expected a state from PythonRandom.getState/);
    assert.throws(() => rng.choice([]), /empty sequence/);
  });
});
