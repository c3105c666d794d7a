#!/usr/bin/env node
'use strict';
// Install step: find libtorch and build the native addon with cmake-js (Node-API mode, no header download).
// Plain JS on purpose: it runs before anything is compiled. It never runs the TypeScript compiler: a published
// package ships dist/ (built by `prepare` when packing), and a development checkout compiles it in `prepare` too,
// so whatever TypeScript a host app has installed is never involved.
//
// libtorch is looked for in this order (the first that has TorchConfig.cmake wins; a variable that is set but points
// at no libtorch is an error, never skipped):
//   1. LIBTORCH             a libtorch folder (…/libtorch) or any cmake prefix holding share/cmake/Torch
//   2. Torch_DIR / npm_config_cmake_Torch_DIR   the folder holding TorchConfig.cmake
//   3. the libtorch inside an installed Python torch (torch.utils.cmake_prefix_path) — how CUDA builds are found
//   4. a system install (Debian/Ubuntu: /usr/lib/<triplet>/cmake/Torch)
// If none is found and we are root on Debian/Ubuntu with apt, `apt-get install libtorch-dev libopenblas0-pthread
// libgloo-dev` runs (IMG2IMG_NO_APT=1 turns that off). In an app's node_modules the build's intermediate files are
// removed afterwards (IMG2IMG_KEEP_BUILD=1 keeps them).

const fs = require('fs');
const path = require('path');
const os = require('os');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const force = process.argv.includes('--force');
const { isInstalledDependency, rebuildCommand } = require('./package_layout');
const { aptAllowed, aptInstall, dpkgHas } = require('./apt');

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
  // A variable the user set is a promise: never fall back past it to another libtorch.
  for (const name of ['LIBTORCH', 'Torch_DIR', 'npm_config_cmake_Torch_DIR']) {
    const value = process.env[name];
    if (!value) continue;
    const d = torchDirUnder(value);
    if (!d) failExplicit(name, value);
    looked.push(`${name}: ${value}`);
    return { torchDir: d, source: name, looked };
  }
  let d;
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

/** What an explicitly set LIBTORCH/Torch_DIR holds instead of a libtorch, for the error message. */
function describeFolder(value) {
  if (!fs.existsSync(value)) return 'that path does not exist';
  if (!fs.statSync(value).isDirectory()) return 'that path is a file, not a folder';
  const entries = fs.readdirSync(value).slice(0, 8);
  return entries.length ? `that folder holds ${entries.join(', ')}${entries.length === 8 ? ', …' : ''} but no TorchConfig.cmake`
    : 'that folder is empty';
}

function failExplicit(name, value) {
  process.stderr.write([
    `[img2img] Expected a libtorch for ${name} but received '${value}': ${describeFolder(value)}.`,
    `  ${name === 'LIBTORCH' ? 'LIBTORCH is an unpacked libtorch folder (…/libtorch) or a cmake prefix holding share/cmake/Torch'
      : `${name} is the folder holding TorchConfig.cmake (…/share/cmake/Torch)`}.`,
    `  Fix the path, or unset ${name} to use the libtorch found automatically.`,
  ].join('\n') + '\n');
  process.exit(1);
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
  if (!found.torchDir && aptAllowed()) {
    if (aptInstall(['libtorch-dev', 'libopenblas0-pthread', 'libgloo-dev'], { log })) found = findTorch();
  }
  if (!found.torchDir) failNoTorch(found.looked);
  const info = torchInfo(found.torchDir);
  // Debian's libtorch links Gloo but ships its headers separately; without them the addon builds without
  // data-parallel training, so fetch them when we may.
  if (found.source === 'system install' && aptAllowed() && !dpkgHas('libgloo-dev')) aptInstall(['libgloo-dev'], { log });
  log(`using libtorch ${info.version} (${info.cuda ? 'CUDA' : 'CPU'}) from ${found.torchDir} [${found.source}]`);
  warnSlowBlas();

  const began = Date.now();
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const jobs = String(Math.max(1, os.cpus().length));
  const args = [cmakeJs, 'compile', '--CDTorch_DIR=' + found.torchDir, '--parallel', jobs];
  if (process.env.IMG2IMG_DEBUG) args.push('--debug');
  const r = spawnSync(process.execPath, args, {
    cwd: root, stdio: 'inherit', env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: jobs },
  });
  if (r.status !== 0) {
    process.stderr.write(`[img2img] building the native addon against libtorch ${info.version} from ${found.torchDir} ` +
      `[${found.source}] failed (see the compiler output above). Needs cmake >= 3.18 and a C++17 compiler (g++ >= 10).\n`);
    process.exit(r.status || 1);
  }
  fs.writeFileSync(path.join(root, 'build', 'libtorch.json'),
    JSON.stringify({ torchDir: found.torchDir, source: found.source, ...info }, null, 2));
  if (isInstalledDependency(root) && process.env.IMG2IMG_KEEP_BUILD !== '1') pruneBuild();
  const kb = Math.round(fs.statSync(addon).size / 1024);
  log(`built ${path.relative(root, addon)} (${kb} KB) in ${Math.round((Date.now() - began) / 1000)} s ` +
    `against libtorch ${info.version} (${info.cuda ? 'CUDA' : 'CPU'})`);
}

/**
 * In an app's node_modules only the addon and its libtorch record are needed at run time; the object files and
 * cmake's files are kept in a development checkout only, for incremental rebuilds.
 */
function pruneBuild() {
  const keep = new Set([path.join('Release', 'img2img.node'), 'libtorch.json']);
  const buildDir = path.join(root, 'build');
  for (const entry of fs.readdirSync(buildDir)) {
    if (entry === 'Release') {
      for (const f of fs.readdirSync(path.join(buildDir, entry))) {
        if (!keep.has(path.join(entry, f))) fs.rmSync(path.join(buildDir, entry, f), { recursive: true, force: true });
      }
    } else if (!keep.has(entry)) {
      fs.rmSync(path.join(buildDir, entry), { recursive: true, force: true });
    }
  }
}

const addon = path.join(root, 'build', 'Release', 'img2img.node');
const rebuilding = ['install', 'ci', 'rebuild'].includes(process.env.npm_command);
if (force || rebuilding || !fs.existsSync(addon)) buildNative();
else log(`native addon already built: ${addon} (rebuild: ${rebuildCommand(root)})`);
if (!fs.existsSync(path.join(root, 'dist', 'src', 'index.js')) && isInstalledDependency(root)) {
  // A tarball packed without `prepare` (e.g. `npm pack --ignore-scripts`): say so instead of failing at require().
  process.stderr.write('[img2img] warning: this package has no dist/ (compiled JavaScript): it was packed without its ' +
    '`prepare` step; pack it again with `npm pack` from a checkout that ran `npm install`.\n');
}
