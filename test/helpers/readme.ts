/**
 * The README's TypeScript snippets (```ts blocks) and the shipped examples as a user's app would compile them:
 * `import … from '../src'` becomes the package name.
 */
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from './paths';

export function readmeSnippets(): string[] {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/** examples/*.ts by file name, importing `packageName` instead of this tree's sources. */
export function examplesAsApp(packageName: string): Map<string, string> {
  const dir = path.join(REPO_ROOT, 'examples');
  return new Map(fs.readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()
    .map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8').replace(/from '\.\.\/src'/g, `from '${packageName}'`)]));
}
