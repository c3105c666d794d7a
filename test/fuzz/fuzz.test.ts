/**
 * Issue 15, deliverable 7: a short fuzzing run in the suite (20 s; IMG2IMG_FUZZ_SECONDS changes it) over the image
 * decoders, checkpoint readers and archive reader, failing on any crash, hang or unclean error; the harness's own
 * detection of those, on a target made to misbehave; and every input kept under test/fuzz/regressions/ replayed.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT } from '../helpers/paths';
import { fuzz, replay } from './harness';
import { loadSeeds } from './seeds';
import { FUZZ_TARGETS, TargetName } from './targets';

const SECONDS = Number(process.env.IMG2IMG_FUZZ_SECONDS ?? 20);
const REGRESSIONS = path.join(REPO_ROOT, 'test/fuzz/regressions');

describe('fuzzing (issue 15)', function () {
  this.timeout(SECONDS * 1000 + 90000);
  let out: string;
  before(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-fuzz-'));
  });
  after(() => fs.rmSync(out, { recursive: true, force: true }));

  it('the harness saves hangs, crashes, memory blow-ups and unclean errors, and never waits past its deadline', async () => {
    const seeds = { selftest: ['HANG', 'CRASH', 'THROW', 'GREED', 'fine'].map((word) => ({ name: word, data: Buffer.from(`${word} input`) })) };
    const started = Date.now();
    const report = await fuzz({ seconds: 4, perInputMs: 1500, maxRssMb: 300, outDir: path.join(out, 'selftest'), seeds, seed: 7 });
    const took = (Date.now() - started) / 1000;
    assert.ok(took < 4 + 4, `the run took ${took} s`);
    const kinds = new Set(report.findings.map((f) => f.kind));
    assert.deepStrictEqual([...kinds].sort(), ['crash', 'hang', 'memory', 'unclean']);
    for (const finding of report.findings) {
      assert.ok(fs.existsSync(finding.file), finding.file);
      assert.match(fs.readFileSync(finding.file.replace(/\.bin$/, '.txt'), 'utf8'), new RegExp(`^${finding.kind} in target selftest`));
    }
    assert.match(report.findings.find((f) => f.kind === 'unclean')!.detail, /TypeError: an unclean error/);
    assert.ok(report.byTarget.selftest.ok > 0, 'the harmless seed runs');
  });

  it(`${SECONDS} s of mutated inputs end in clean errors only: no crash, hang or unclean error`, async () => {
    const report = await fuzz({ seconds: SECONDS, outDir: path.join(out, 'suite'), seeds: loadSeeds() });
    const findings = report.findings.map((f) => `${f.kind} in ${f.target}: ${f.detail} (${f.file})`);
    assert.deepStrictEqual(findings, [], `seed ${report.seed}; replay with npm run fuzz -- --seed ${report.seed}`);
    for (const target of FUZZ_TARGETS) assert.ok(report.byTarget[target].inputs >= 50, `${target}: ${report.byTarget[target].inputs} inputs`);
  });

  it('every input kept in test/fuzz/regressions/<target>/ ends cleanly (or is accepted)', async () => {
    const targets = fs.readdirSync(REGRESSIONS).filter((f) => fs.statSync(path.join(REGRESSIONS, f)).isDirectory());
    let replayed = 0;
    for (const target of targets) {
      assert.ok((FUZZ_TARGETS as readonly string[]).includes(target), `unknown target folder ${target}`);
      const files = fs.readdirSync(path.join(REGRESSIONS, target)).filter((f) => f.endsWith('.bin')).sort();
      const outcomes = await replay(target as TargetName, files.map((f) => fs.readFileSync(path.join(REGRESSIONS, target, f))));
      outcomes.forEach((outcome, i) => assert.ok(outcome.kind === 'ok' || outcome.kind === 'clean', `${target}/${files[i]}: ${JSON.stringify(outcome)}`));
      replayed += files.length;
    }
    // none kept yet: the folder's README must say so, so an empty folder is a statement, not an accident
    if (replayed === 0) assert.match(fs.readFileSync(path.join(REGRESSIONS, 'README.md'), 'utf8'), /None yet: the runs so far/);
  });
});
