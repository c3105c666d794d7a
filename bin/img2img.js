#!/usr/bin/env node
'use strict';
// The img2img command: runs the compiled CLI (dist/ ships in the package; a checkout compiles it in `prepare`).
const path = require('path');
const fs = require('fs');
const cli = path.join(__dirname, '..', 'dist', 'scripts', 'cli.js');
if (!fs.existsSync(cli)) {
  const root = path.resolve(__dirname, '..');
  const { isInstalledDependency, PACKAGE_NAME } = require('../scripts/package_layout');
  process.stderr.write(`img2img: ${cli} is missing: ` + (isInstalledDependency(root)
    ? `this copy of ${PACKAGE_NAME} was packed without its compiled JavaScript; reinstall it from the registry or a tarball made by \`npm pack\`\n`
    : `compile it with \`npm install\` (or \`npx tsc -p tsconfig.build.json\`) in ${root}\n`));
  process.exit(1);
}
require(cli).main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
  process.stderr.write(`img2img: ${err && err.message ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
