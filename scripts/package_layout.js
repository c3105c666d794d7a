'use strict';
// Where this package sits and how it is rebuilt. Plain JS read by the install script (before anything is compiled),
// the binding loader and the img2img launcher, so the rule is written once.
const path = require('path');

const PACKAGE_NAME = 'torch-img2img';

/** True when the package lives inside an app's node_modules (installed from the registry or a tarball). */
function isInstalledDependency(root) {
  return path.resolve(root).split(path.sep).includes('node_modules');
}

/** The command that rebuilds the native addon from where the user stands. */
function rebuildCommand(root) {
  // From an app, `npm run build` would run the app's own build script; `npm rebuild <name>` runs ours.
  return isInstalledDependency(root) ? `npm rebuild ${PACKAGE_NAME}` : 'npm run build';
}

module.exports = { PACKAGE_NAME, isInstalledDependency, rebuildCommand };
