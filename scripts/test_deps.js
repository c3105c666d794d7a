#!/usr/bin/env node
'use strict';
// `pretest`: the system packages the test suite needs beyond the build (interop tests against the reference's
// Python stack, browser tests in Chromium). Same convention as the libtorch install: as root on Debian/Ubuntu the
// missing ones are installed with apt (IMG2IMG_NO_APT=1 turns that off); otherwise it lists what to install and
// exits non-zero, before any test runs. This is the one list of test-only packages (.ci/run relies on it).
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { aptAllowed, aptInstall } = require('./apt');

const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => fs.existsSync(p)); // as test/helpers/run_python.ts
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'; // as test/browser/browser.ts

/** What the tests import or run → the Debian package that provides it. */
const NEEDS = [
  { what: 'python3', debian: 'python3', present: () => !!PYTHON },
  ...[['torch', 'python3-torch'], ['PIL', 'python3-pil'], ['numpy', 'python3-numpy'], ['skimage', 'python3-skimage'],
    ['scipy', 'python3-scipy']].map(([mod, debian]) => ({
    what: `Python module ${mod}`, debian,
    present: () => !!PYTHON && spawnSync(PYTHON, ['-c', `import ${mod}`], { stdio: 'ignore' }).status === 0,
  })),
  { what: `Chromium at ${CHROMIUM}`, debian: 'chromium', present: () => fs.existsSync(CHROMIUM) },
];

const log = (msg) => process.stdout.write(`[img2img test deps] ${msg}\n`);

/** The addon must have been built with Gloo for the distributed tests; that is a build step, not a test package. */
function addonProblem() {
  const root = path.resolve(__dirname, '..');
  const addon = path.join(root, 'build', 'Release', 'img2img.node');
  if (!fs.existsSync(addon)) return `the native addon ${addon} is not built: run \`npm install\` first`;
  const r = spawnSync(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(addon)}).distributedBackends()))`],
    { encoding: 'utf8' });
  if (r.status !== 0) return `the native addon does not load: ${(r.stderr || '').split('\n')[0]}`;
  if (!JSON.parse(r.stdout).gloo) {
    return 'the native addon was built without c10d Gloo (the distributed tests need it): apt-get install libgloo-dev, then npm run build';
  }
  return null;
}

let missing = NEEDS.filter((n) => !n.present());
if (missing.length && aptAllowed()) {
  aptInstall([...new Set(missing.map((n) => n.debian))], { log, quiet: true });
  missing = missing.filter((n) => !n.present());
}
const problems = missing.map((n) => `${n.what} (Debian/Ubuntu package ${n.debian})`);
const addon = addonProblem();
if (addon) problems.push(addon);
if (problems.length) {
  process.stderr.write('[img2img test deps] the test suite needs, and this machine lacks:\n' +
    problems.map((p) => `  - ${p}`).join('\n') + '\n' +
    (missing.length ? `Install them: sudo apt-get install ${[...new Set(missing.map((n) => n.debian))].join(' ')}\n` : ''));
  process.exit(1);
}
