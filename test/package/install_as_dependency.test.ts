/**
 * The package as a dependency (issue 14): a copy of this checkout is packed with `npm pack` (its `prepare` compiles
 * dist/), the tarball is installed into a new app that also depends on TypeScript (the order that used to break:
 * the app's hoisted tsc recompiled the package), the addon is built there, and the app compiles a strict-mode
 * TypeScript file against the typings and runs CommonJS and ESM scripts that translate an image with a tiny
 * generator. Then the same app is installed again from its lockfile with `npm ci`.
 *
 * This is the slowest test of the suite (two real native builds, ~1.5–2 min each on 2 cores): it is the only way to
 * prove that what users install works.
 */
import * as assert from 'assert';
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import { defineG, loadGenerator, manualSeed, saveNetworkCheckpoint } from '../../src';
import { REPO_ROOT } from '../helpers/paths';
import { examplesAsApp, readmeSnippets } from '../helpers/readme';

const PACKAGE = 'torch-img2img';

/** The environment of a user's shell: none of the variables the surrounding `npm test` exported to us. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD') env[k] = v;
  return env;
}

function sh(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env: userEnv(), encoding: 'utf8', maxBuffer: 64 << 20 });
  const out = `${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}${r.signal ? ` (${r.signal})` : ''}\n${r.stdout}\n${r.stderr}`;
  assert.strictEqual(r.status, 0, out.slice(-6000));
  return r;
}

/** Files git would commit (tracked, and untracked but not ignored): a clean checkout of this working tree. */
function copyCheckout(to: string): void {
  const files = sh('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], REPO_ROOT).stdout.split('\0').filter(Boolean);
  for (const f of files) {
    const from = path.join(REPO_ROOT, f);
    if (!fs.existsSync(from)) continue; // deleted in the working tree
    fs.mkdirSync(path.dirname(path.join(to, f)), { recursive: true });
    fs.copyFileSync(from, path.join(to, f));
  }
}

function versionOf(pkg: string): string {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
}

function du(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? du(p) : fs.lstatSync(p).size;
  }
  return total;
}

const CHECK_TS = `import { loadGenerator, Generator } from '${PACKAGE}';
import * as fs from 'fs';

async function main(checkpoint: string, image: string, out: string): Promise<void> {
  const g: Generator = await loadGenerator(checkpoint);
  const png: Buffer = await g.translate(fs.readFileSync(image));
  fs.writeFileSync(out, png);
  g.dispose();
}

main(process.argv[2], process.argv[3], process.argv[4]).catch((e: unknown) => { console.error(e); process.exitCode = 1; });
`;

const CHECK_CJS = `const { loadGenerator } = require('${PACKAGE}');
const { createHash } = require('crypto');
(async () => {
  const g = await loadGenerator(process.argv[2]);
  const raw = await g.translate(process.argv[3], { output: 'raw' });
  const sha256 = createHash('sha256').update(raw.data).digest('hex');
  console.log(JSON.stringify({ width: raw.width, height: raw.height, channels: raw.channels, sha256 }));
  g.dispose();
})().catch((e) => { console.error(e); process.exitCode = 1; });
`;

const CHECK_MJS = `import { loadGenerator } from '${PACKAGE}';
const g = await loadGenerator(process.argv[2]);
const png = await g.translate(process.argv[3]);
console.log(JSON.stringify({ png: png.subarray(1, 4).toString('latin1'), bytes: png.length }));
g.dispose();
`;

describe('package: npm pack, then installed as a dependency of an app that uses TypeScript', function () {
  this.timeout(15 * 60 * 1000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-pack-'));
  const app = path.join(tmp, 'app');
  const image = path.join(REPO_ROOT, 'demo/facades/test/1.jpg');
  let tarball = '';
  let packedFiles: string[] = [];
  let expected: { width: number; height: number; channels: number; sha256: string };
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  before(async () => {
    // A clean checkout of this tree, sharing this checkout's node_modules for its `prepare` (tsc).
    const checkout = path.join(tmp, 'checkout');
    copyCheckout(checkout);
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(checkout, 'node_modules'), 'dir');
    const packed = sh('npm', ['pack', '--json', '--pack-destination', tmp], checkout).stdout;
    // npm prints prepare's own output first, then the JSON listing.
    const info = JSON.parse(packed.slice(packed.search(/^\[\s*$/m)))[0] as { filename: string; files: Array<{ path: string }> };
    tarball = path.join(tmp, info.filename);
    packedFiles = info.files.map((f) => f.path);
    fs.mkdirSync(app);
    manualSeed(0);
    const g = defineG({ netG: 'resnet_6blocks', ngf: 4, norm: 'instance' });
    saveNetworkCheckpoint(g, path.join(app, 'latest_net_G.pth'), { model: 'test' });
    g.dispose();
    // What this checkout's own translate() makes of the image: the installed package must give the same pixels.
    const here = await loadGenerator(path.join(app, 'latest_net_G.pth'));
    const raw = await here.translate(image, { output: 'raw' });
    expected = { width: raw.width, height: raw.height, channels: raw.channels, sha256: createHash('sha256').update(raw.data).digest('hex') };
    here.dispose();
  });

  it('the tarball holds compiled JavaScript, typings, the C++ sources, LICENSE, README and docs; no tests, build output or .tsbuildinfo', () => {
    const files = packedFiles;
    for (const must of ['package.json', 'LICENSE', 'README.md', 'CMakeLists.txt', 'cpp/addon.cc', 'scripts/install.js',
      'scripts/package_layout.js', 'scripts/apt.js', 'bin/img2img.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/scripts/cli.js',
      'dist/binding/index.js']) {
      assert.ok(files.includes(must), `the tarball lacks ${must}`);
    }
    const unwanted = (f: string) => f.startsWith('build/') || f.startsWith('test/') || f.startsWith('dist/test/') ||
      /\.tsbuildinfo$|\.map$/.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('examples/'));
    assert.deepStrictEqual(files.filter(unwanted), [], 'files the tarball should not hold');
  });

  it('npm install <tarball> in an app that depends on typescript builds the addon without recompiling the package', () => {
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({
      name: 'img2img-consumer', version: '1.0.0', private: true,
      dependencies: { typescript: versionOf('typescript'), '@types/node': versionOf('@types/node') },
    }, null, 2));
    sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], app); // TypeScript first: the order that broke
    const r = sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', tarball], app);
    assert.match(r.stdout + r.stderr, /\[img2img\] using libtorch \S+ \((CPU|CUDA)\)/);
    assert.doesNotMatch(r.stdout + r.stderr, /compiling TypeScript/);
    const installed = path.join(app, 'node_modules', PACKAGE);
    // Only what runs is left: the addon and its libtorch record, no object files or precompiled headers.
    assert.deepStrictEqual(fs.readdirSync(path.join(installed, 'build')).sort(), ['Release', 'libtorch.json']);
    assert.deepStrictEqual(fs.readdirSync(path.join(installed, 'build', 'Release')), ['img2img.node']);
    const mb = du(installed) / 2 ** 20;
    assert.ok(mb < 20, `the installed package takes ${mb.toFixed(1)} MB`);
    console.log(`      installed package: ${mb.toFixed(1)} MB`);
  });

  it('a strict-mode TypeScript file, the README\'s snippets and the examples compile against the typings; the file translates an image', () => {
    fs.writeFileSync(path.join(app, 'check.ts'), CHECK_TS);
    // The README's snippets and examples/ as a user would paste them: compiled (strict), not run.
    const pasted = [...readmeSnippets().map((code, i): [string, string] => [`readme_${i}.ts`, code]),
      ...[...examplesAsApp(PACKAGE)].map(([f, code]): [string, string] => [`example_${f}`, code])];
    for (const [f, code] of pasted) fs.writeFileSync(path.join(app, f), code);
    fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, target: 'ES2022', module: 'commonjs', moduleResolution: 'node', types: ['node'], outDir: 'out' },
      files: ['check.ts', ...pasted.map(([f]) => f)],
    }));
    sh(process.execPath, [path.join(app, 'node_modules/typescript/bin/tsc'), '-p', app], app);
    sh(process.execPath, ['out/check.js', 'latest_net_G.pth', image, 'out.png'], app);
    assert.deepStrictEqual([...fs.readFileSync(path.join(app, 'out.png')).subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  });

  it('CommonJS and ESM scripts load the package and translate', () => {
    fs.writeFileSync(path.join(app, 'check.cjs'), CHECK_CJS);
    fs.writeFileSync(path.join(app, 'check.mjs'), CHECK_MJS);
    const cjs = JSON.parse(sh(process.execPath, ['check.cjs', 'latest_net_G.pth', image], app).stdout);
    assert.deepStrictEqual(cjs, expected);
    const esm = JSON.parse(sh(process.execPath, ['check.mjs', 'latest_net_G.pth', image], app).stdout);
    assert.strictEqual(esm.png, 'PNG');
  });

  it('npm ci from the app\'s lockfile builds it again and it still runs', () => {
    fs.rmSync(path.join(app, 'node_modules'), { recursive: true, force: true });
    sh('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], app);
    const cjs = JSON.parse(sh(process.execPath, ['check.cjs', 'latest_net_G.pth', image], app).stdout);
    assert.deepStrictEqual(cjs, expected);
    const version = sh(process.execPath, [path.join(app, 'node_modules/.bin/img2img'), 'info'], app).stdout;
    assert.match(version, /libtorch/i);
  });
});
