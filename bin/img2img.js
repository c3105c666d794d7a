#!/usr/bin/env node
'use strict';
// The img2img command: runs the compiled CLI (npm install compiles it into dist/).
const path = require('path');
const fs = require('fs');
const cli = path.join(__dirname, '..', 'dist', 'scripts', 'cli.js');
if (!fs.existsSync(cli)) {
  process.stderr.write('img2img is not built yet: run `npm install` (or `npm run build`) in ' + path.resolve(__dirname, '..') + '\n');
  process.exit(1);
}
require(cli).main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
  process.stderr.write(`img2img: ${err && err.message ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
