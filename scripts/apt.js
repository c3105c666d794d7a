'use strict';
// Installing Debian packages for the user, read by the install script (libtorch) and the test script (test-only
// packages): the one rule for when we may (root on Debian/Ubuntu with apt-get, unless IMG2IMG_NO_APT=1) and how.
const fs = require('fs');
const { spawnSync } = require('child_process');

function isDebianLike() {
  try { return /ID(_LIKE)?=.*(debian|ubuntu)/.test(fs.readFileSync('/etc/os-release', 'utf8')); } catch { return false; }
}

/** apt may install for us: root on Debian/Ubuntu with apt-get, unless IMG2IMG_NO_APT=1. */
function aptAllowed() {
  return process.platform === 'linux' && isDebianLike() && process.env.IMG2IMG_NO_APT !== '1' &&
    typeof process.getuid === 'function' && process.getuid() === 0 && spawnSync('apt-get', ['--version']).status === 0;
}

/**
 * apt-get update, then install `packages` without recommends; true when both succeeded. `log` announces it;
 * `quiet` keeps apt's own output to its errors.
 */
function aptInstall(packages, { log, quiet = false }) {
  log(`installing Debian packages: apt-get install -y --no-install-recommends ${packages.join(' ')} (IMG2IMG_NO_APT=1 turns this off)`);
  const opts = { stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } };
  const q = quiet ? ['-qq'] : [];
  return spawnSync('apt-get', ['update', ...q], opts).status === 0 &&
    spawnSync('apt-get', ['install', '-y', ...q, '--no-install-recommends', ...packages], opts).status === 0;
}

/** Whether the Debian package is installed. */
const dpkgHas = (pkg) => spawnSync('dpkg', ['-s', pkg], { stdio: 'ignore' }).status === 0;

module.exports = { aptAllowed, aptInstall, dpkgHas };
