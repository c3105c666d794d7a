// The API reference (issue 16): docs/api is what TypeDoc generates from src/index.ts's typings with typedoc.json,
// and TypeDoc has nothing to warn about: every exported class, interface, type, constant, function and method has
// a doc comment, and every type the public API refers to is exported (or listed as internal plumbing in
// typedoc.json's intentionallyNotExported).
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT } from '../helpers/paths';

/** Every file under `dir`, relative, sorted. */
function listFiles(dir: string, prefix = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]).sort();
}

describe('API reference (docs/api)', function () {
  this.timeout(300000);

  it('is up to date with the typings, and TypeDoc reports no warnings for the public API', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-apidocs-'));
    try {
      // typedoc is an ES module: its command line is the simplest way in from this CommonJS test.
      const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'node_modules/typedoc/bin/typedoc'), '--out', out],
        { cwd: REPO_ROOT, encoding: 'utf8' });
      const report = (r.stdout + r.stderr).replace(/\x1b\[[0-9;]*m/g, ''); // eslint-disable-line no-control-regex
      assert.strictEqual(r.status, 0, report);
      assert.deepStrictEqual(report.split('\n').filter((l) => /^\[(warning|error)\]/.test(l)), [], report);
      const committed = path.join(REPO_ROOT, 'docs/api');
      const stale = 'docs/api is stale: run `npm run docs` and commit docs/api';
      const want = listFiles(out);
      assert.deepStrictEqual(fs.existsSync(committed) ? listFiles(committed) : [], want, stale);
      // TypeDoc numbers its reflections, private ones included, in pages' data-refl and in hierarchy.js: a change to a
      // private member renumbers them without changing what the pages say, so the numbers are left out.
      const content = (dir: string, f: string) => f === 'assets/hierarchy.js' ? ''
        : fs.readFileSync(path.join(dir, f), 'utf8').replace(/ data-refl="\d+"/g, '');
      const differing = want.filter((f) => content(out, f) !== content(committed, f));
      assert.deepStrictEqual(differing, [], stale);
    } finally { fs.rmSync(out, { recursive: true, force: true }); }
  });
});
