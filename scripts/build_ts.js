#!/usr/bin/env node
'use strict';
// `prepare` (npm install in a checkout, npm pack, git dependencies): compiles the shipped TypeScript into a clean
// dist/ with tsconfig.build.json (no tests, no source maps, no .tsbuildinfo). Never runs from a published package.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
process.stdout.write('[img2img] compiling TypeScript (tsconfig.build.json)\n');
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
