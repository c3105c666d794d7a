/**
 * Where tests find things. The shared fixtures live next to the repository (`<repo>/../shared`) unless
 * IMG2IMG_SHARED says otherwise; the repository root is the folder holding package.json above this file
 * (which runs from dist/test/helpers once compiled).
 */
import * as fs from 'fs';
import * as path from 'path';

function findRepoRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`Expected a package.json in a folder above ${start} but found none`);
  }
}

export const REPO_ROOT = findRepoRoot(__dirname);
export const SHARED = process.env.IMG2IMG_SHARED || path.resolve(REPO_ROOT, '../shared');
