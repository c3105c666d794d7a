#!/usr/bin/env node
'use strict';
// Install step: find libtorch, build the native addon with cmake-js (Node-API mode, no header download),
// then compile the TypeScript. Plain JS on purpose: it runs before anything is compiled.
//
// libtorch is looked for in this order (the first that has TorchConfig.cmake wins):
//   1. LIBTORCH             a libtorch folder (…/libtorch) or any cmake prefix holding share/cmake/Torch
//   2. Torch_DIR / npm_config_cmake_Torch_DIR   the folder holding TorchConfig.cmake
//   3. the libtorch inside an installed Python torch (torch.utils.cmake_prefix_path) — how CUDA builds are found
//   4. a system install (Debian/Ubuntu: /usr/lib/<triplet>/cmake/Torch)
// If none is found and we are root on Debian/Ubuntu with apt, `apt-get install libtorch-dev libopenblas0-pthread`
// runs (IMG2IMG_NO_APT=1 turns that off).

const fs = require('fs');
const path = require('path');
const os = require('os');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const force = process.argv.includes('--force');
const tsOnly = process.argv.includes('--ts-only');

function log(msg) { process.stdout.write(`[img2img] ${msg}\n`); }
function warn(msg) { process.stderr.write(`[img2img] warning: ${msg}\n`); }

/** Folder holding TorchConfig.cmake under a prefix, or null. */
function torchDirUnder(prefix) {
  if (!prefix) return null;
  const candidates = [
    prefix,
    path.join(prefix, 'Torch'),
    path.join(prefix, 'share', 'cmake', 'Torch'),
    path.join(prefix, 'lib', 'cmake', 'Torch'),
  ];
  for (const c of candidates) if (fs.existsSync(path.join(c, 'TorchConfig.cmake'))) return c;
  return null;
}

function pythonTorchPrefixes() {
  const out = [];
  for (const py of ['python3', '/usr/bin/python3', 'python']) {
    const r = spawnSync(py, ['-c', 'import torch; print(torch.utils.cmake_prefix_path)'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) out.push({ py, prefix: r.stdout.trim() });
  }
  return out;
}

function systemTorchDirs() {
  const dirs = [];
  for (const lib of ['/usr/lib', '/usr/local/lib', '/usr/lib64']) {
    if (!fs.existsSync(lib)) continue;
    dirs.push(path.join(lib, 'cmake', 'Torch'));
    for (const e of fs.readdirSync(lib)) dirs.push(path.join(lib, e, 'cmake', 'Torch'));
  }
  return dirs;
}

/** Returns {torchDir, source, looked: [..]} */
function findTorch() {
  const looked = [];
  const tryDir = (label, prefix) => {
    const d = torchDirUnder(prefix);
    looked.push(`${label}: ${prefix || '(unset)'}${d ? '' : ' — no TorchConfig.cmake'}`);
    return d;
  };
  let d;
  if ((d = tryDir('LIBTORCH', process.env.LIBTORCH))) return { torchDir: d, source: 'LIBTORCH', looked };
  if ((d = tryDir('Torch_DIR', process.env.Torch_DIR))) return { torchDir: d, source: 'Torch_DIR', looked };
  if ((d = tryDir('npm_config_cmake_Torch_DIR', process.env.npm_config_cmake_Torch_DIR)))
    return { torchDir: d, source: 'npm_config_cmake_Torch_DIR', looked };
  const pys = pythonTorchPrefixes();
  if (pys.length === 0) looked.push('Python torch: `python3 -c "import torch"` failed (no Python torch)');
  for (const { py, prefix } of pys) {
    if ((d = tryDir(`Python torch (${py})`, prefix))) return { torchDir: d, source: `Python torch via ${py}`, looked };
  }
  for (const sd of systemTorchDirs()) {
    if (fs.existsSync(path.join(sd, 'TorchConfig.cmake'))) {
      looked.push(`system: ${sd}`);
      return { torchDir: sd, source: 'system install', looked };
    }
  }
  looked.push('system: /usr/lib/*/cmake/Torch, /usr/local/lib/*/cmake/Torch — none');
  return { torchDir: null, source: null, looked };
}

function isDebianLike() {
  try { return /ID(_LIKE)?=.*(debian|ubuntu)/.test(fs.readFileSync('/etc/os-release', 'utf8')); } catch { return false; }
}

function aptInstall() {
  log('no libtorch found; installing Debian packages: apt-get install -y libtorch-dev libopenblas0-pthread libgloo-dev');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
  if (r.status !== 0) return false;
  r = spawnSync('apt-get', ['install', '-y', 'libtorch-dev', 'libopenblas0-pthread', 'libgloo-dev'], { stdio: 'inherit', env });
  return r.status === 0;
}

function failNoTorch(looked) {
  const msg = [
    'torch-img2img needs libtorch (the C++ library of PyTorch) and could not find it.',
    'Looked in:',
    ...looked.map((l) => `  - ${l}`),
    'Possible solutions:',
    '  - Debian/Ubuntu (CPU): sudo apt-get install libtorch-dev libopenblas0-pthread, then npm install again',
    '  - an unpacked libtorch download: LIBTORCH=/path/to/libtorch npm install',
    '  - a CUDA PyTorch in Python: make sure `python3 -c "import torch"` works, then npm install again',
    '  - a cmake folder holding TorchConfig.cmake: Torch_DIR=/path/to/share/cmake/Torch npm install',
  ].join('\n');
  process.stderr.write(msg + '\n');
  process.exit(1);
}

function torchInfo(torchDir) {
  const prefix = path.resolve(torchDir, '..', '..', '..');
  let version = 'unknown';
  const ver = path.join(torchDir, 'TorchConfigVersion.cmake');
  if (fs.existsSync(ver)) {
    const m = /PACKAGE_VERSION\s+"([^"]+)"/.exec(fs.readFileSync(ver, 'utf8'));
    if (m) version = m[1];
  }
  const libDirs = [path.join(prefix, 'lib'), path.resolve(torchDir, '..', '..')];
  let cuda = false;
  for (const l of libDirs) {
    if (fs.existsSync(l) && fs.readdirSync(l).some((f) => f.startsWith('libtorch_cuda'))) cuda = true;
  }
  return { prefix, version, cuda };
}

function warnSlowBlas() {
  if (process.platform !== 'linux') return;
  const r = spawnSync('update-alternatives', ['--query', 'libblas.so.3-x86_64-linux-gnu'], { encoding: 'utf8' });
  if (r.status === 0) {
    const m = /^Value:\s*(.*)$/m.exec(r.stdout);
    if (m && /\/blas\/libblas/.test(m[1])) {
      warn(`the active BLAS is Debian's slow reference BLAS (${m[1]}); ConvTranspose2d runs ~10x slower. ` +
        'Install OpenBLAS: sudo apt-get install libopenblas0-pthread');
    }
  }
}

function buildNative() {
  let found = findTorch();
  if (!found.torchDir && process.platform === 'linux' && isDebianLike() && process.env.IMG2IMG_NO_APT !== '1' &&
      typeof process.getuid === 'function' && process.getuid() === 0 &&
      spawnSync('apt-get', ['--version']).status === 0) {
    if (aptInstall()) found = findTorch();
  }
  if (!found.torchDir) failNoTorch(found.looked);
  const info = torchInfo(found.torchDir);
  log(`using libtorch ${info.version} (${info.cuda ? 'CUDA' : 'CPU'}) from ${found.torchDir} [${found.source}]`);
  warnSlowBlas();

  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const jobs = String(Math.max(1, os.cpus().length));
  const args = [cmakeJs, 'compile', '--CDTorch_DIR=' + found.torchDir, '--parallel', jobs];
  if (process.env.IMG2IMG_DEBUG) args.push('--debug');
  const r = spawnSync(process.execPath, args, {
    cwd: root, stdio: 'inherit', env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: jobs },
  });
  if (r.status !== 0) {
    process.stderr.write('[img2img] building the native addon failed (see the compiler output above).\n');
    process.exit(r.status || 1);
  }
  fs.writeFileSync(path.join(root, 'build', 'libtorch.json'),
    JSON.stringify({ torchDir: found.torchDir, source: found.source, ...info }, null, 2));
}

function buildTs() {
  let tsc;
  try { tsc = require.resolve('typescript/bin/tsc', { paths: [root] }); } catch { tsc = null; }
  if (!tsc) {
    if (fs.existsSync(path.join(root, 'dist', 'src', 'index.js'))) return; // published package: already compiled
    process.stderr.write('[img2img] TypeScript is not installed and dist/ is missing: run `npm install` with dev dependencies.\n');
    process.exit(1);
  }
  log('compiling TypeScript');
  const r = spawnSync(process.execPath, [tsc, '-p', root], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status || 1);
}

const addon = path.join(root, 'build', 'Release', 'img2img.node');
if (!tsOnly) {
  if (force || !fs.existsSync(addon) || process.env.npm_command === 'install' || process.env.npm_command === 'ci') buildNative();
  else log(`native addon already built: ${addon}`);
}
buildTs();
