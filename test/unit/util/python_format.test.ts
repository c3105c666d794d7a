/** Python-identical number printing: repr(float), '%.Nf' (half-even on exact ties), str(), str.format. */
import * as assert from 'assert';
import { PYTHON, runPythonJson } from '../../helpers/run_python';
import { pythonEquals, pythonFixed, pythonFloatRepr, pythonFormat, pythonStr } from '../../../src/util/python_format';

/** Deterministic spread of magnitudes and awkward values. */
function sampleFloats(): number[] {
  const values = [0.0002, 100.0, 0.5, 10.0, 0.02, 1e-5, 1e-4, 0.0001234, 1e16, 1e15, 123456789012345678, 1.5e-7, 2.56e-9,
    0.1 + 0.2, 1 / 3, 2 / 3, 0.125, 0.0625, 2.5, 1.0005, 2.675, 1e22, 5e-324, 1.7976931348623157e308, -0.0002, -1e-5, 35.884, 1.129];
  let x = 0.7;
  for (let i = 0; i < 300; i += 1) {
    x = (x * 9301 + 49297) % 233280 / 233280; // simple LCG in [0, 1)
    values.push((x - 0.5) * 10 ** ((i % 30) - 12));
  }
  return values;
}

describe('util/python_format', () => {
  it('pythonFloatRepr and pythonFixed(3/7) match Python for many values', function () {
    assert.ok(PYTHON, 'this test needs /usr/bin/python3 (.ci/run installs it)');
    const values = sampleFloats();
    const reference = runPythonJson<{ repr: string[]; f3: string[]; f7: string[]; f0: string[] }>(String.raw`
import json, sys
xs = [float(x) for x in json.load(sys.stdin)]
print(json.dumps({'repr': [repr(x) for x in xs], 'f3': ['%.3f' % x for x in xs], 'f7': ['{:.7f}'.format(x) for x in xs], 'f0': ['%.0f' % x for x in xs]}))
`, JSON.stringify(values));
    values.forEach((x, i) => {
      assert.strictEqual(pythonFloatRepr(x), reference.repr[i], `repr(${x})`);
      assert.strictEqual(pythonFixed(x, 3), reference.f3[i], `%.3f of ${x}`);
      assert.strictEqual(pythonFixed(x, 7), reference.f7[i], `%.7f of ${x}`);
      assert.strictEqual(pythonFixed(x, 0), reference.f0[i], `%.0f of ${x}`);
    });
  });

  it('prints the reference option values literally', () => {
    assert.deepStrictEqual(
      [0.0002, 100, 0.5, 10, 1e-5, Infinity, -Infinity, NaN, 0].map((x) => pythonFloatRepr(x)),
      ['0.0002', '100.0', '0.5', '10.0', '1e-05', 'inf', '-inf', 'nan', '0.0'],
    );
    assert.strictEqual(pythonFixed(0.125, 2), '0.12'); // exact tie → even (JavaScript's toFixed says 0.13)
    assert.strictEqual(pythonFixed(0.0625, 3), '0.062');
    assert.strictEqual(pythonFixed(-0.0001, 3), '-0.000');
    assert.deepStrictEqual(
      [pythonStr(true), pythonStr(false), pythonStr(null), pythonStr(3, 'int'), pythonStr(3), pythonStr(Infinity, 'int'), pythonStr('x'), pythonStr([1, 2], 'int'), pythonStr(['a'])],
      ['True', 'False', 'None', '3', '3.0', 'inf', 'x', '[1, 2]', "['a']"],
    );
  });

  it("pythonEquals follows Python's != for option values", () => {
    assert.ok(pythonEquals(1, 1.0));
    assert.ok(pythonEquals(true, 1));
    assert.ok(!pythonEquals(0, '0')); // the load_iter quirk
    assert.ok(pythonEquals(null, undefined));
    assert.ok(!pythonEquals(NaN, NaN));
    assert.ok(pythonEquals(Infinity, Infinity));
  });

  it('pythonFormat fills named fields like str.format', function () {
    const values = { model: 'pix2pix', load_size: 286, lr: 0.0002, isTrain: true, lambda_L1: 100, name: 'x' };
    const kinds = { load_size: 'int', lambda_L1: 'float' } as const;
    const templates = ['{model}_{load_size}', 'lr{lr}', '{isTrain}', '{lambda_L1}', '{load_size:05d}', '{lr:.5f}', '{{literal}}_{name:>4}',
      '{lambda_L1:e}', '{model!r}', '{load_size:<6}|', '{lr:10.3f}|'];
    const ours = templates.map((t) => pythonFormat(t, values, kinds));
    assert.deepStrictEqual(ours.slice(0, 4), ['pix2pix_286', 'lr0.0002', 'True', '100.0']);
    if (!PYTHON) return;
    const reference = runPythonJson<string[]>(String.raw`
import json, sys
ts = json.load(sys.stdin)
v = dict(model='pix2pix', load_size=286, lr=0.0002, isTrain=True, lambda_L1=100.0, name='x')
print(json.dumps([t.format(**v) for t in ts]))
`, JSON.stringify(templates));
    assert.deepStrictEqual(ours, reference);
    assert.throws(() => pythonFormat('{missing}', values, kinds, '--suffix'), /for --suffix but received '\{missing\}'/);
    assert.throws(() => pythonFormat('{model', values, kinds, '--suffix'), /Expected a closing '\}' for --suffix/);
  });
});
