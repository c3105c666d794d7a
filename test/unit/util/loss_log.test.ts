/** loss_log.txt in the 2025 reference format (reference.md §9). */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PYTHON, runPythonJson } from '../../helpers/run_python';
import { formatLossLine, lossLogHeader, LossLog, strftimeC } from '../../../src/util/loss_log';

describe('util/loss_log', () => {
  it('formats a record exactly like the reference example', () => {
    const line = formatLossLine(1, 4, { G_GAN: 1.129, G_L1: 35.884, D_real: 0.888, D_fake: 0.777 }, 1.933, 0.031);
    assert.strictEqual(line, '[Rank 0] (epoch: 1, iters: 4, time: 1.933, data: 0.031) , G_GAN: 1.129, G_L1: 35.884, D_real: 0.888, D_fake: 0.777');
  });

  it("rounds like Python's .3f and names the rank", () => {
    const line = formatLossLine(12, 400, { D_A: 0.0625, G_A: 2.0005, cycle_A: 1e-9 }, 0.12345, 0, 3);
    assert.strictEqual(line, '[Rank 3] (epoch: 12, iters: 400, time: 0.123, data: 0.000) , D_A: 0.062, G_A: 2.001, cycle_A: 0.000');
  });

  it("strftimeC matches Python's time.strftime('%c')", function () {
    const stamps = [0, 1700000000, 1793900000, 1801234567]; // includes a single-digit day
    const ours = stamps.map((s) => strftimeC(new Date(s * 1000)));
    assert.match(ours[0], /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/);
    if (!PYTHON) return;
    const reference = runPythonJson<string[]>(
      "import json, sys, time; print(json.dumps([time.strftime('%c', time.localtime(s)) for s in json.load(sys.stdin)]))",
      JSON.stringify(stamps));
    assert.deepStrictEqual(ours, reference);
  });

  it('appends a header per run and a blank line after each record', () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-loss-'));
    try {
      const when = new Date(2026, 10, 29, 17, 50, 44);
      const first = new LossLog(folder, 'exp', when);
      const printed = first.record(1, 4, { G_GAN: 1.129 }, 1.933, 0.031);
      new LossLog(folder, 'exp', when).append('[Rank 0] second');
      assert.strictEqual(first.file, path.join(folder, 'exp', 'loss_log.txt'));
      assert.strictEqual(lossLogHeader(when), '================ Training Loss (Sun Nov 29 17:50:44 2026) ================');
      assert.strictEqual(fs.readFileSync(first.file, 'utf8'),
        `${lossLogHeader(when)}\n${printed}\n\n${lossLogHeader(when)}\n[Rank 0] second\n\n`);
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});
