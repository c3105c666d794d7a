/**
 * The import graph against docs/architecture.md: every relative import of src/, binding/ and scripts/ goes to its
 * own layer or one above it in the document's layer list (or is one of its listed exceptions), and no file
 * imports itself around a circle. Reads the TypeScript sources, so it needs no build of them.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from '../helpers/paths';

const ROOTS = ['src', 'binding', 'scripts'];
const DOC = path.join(REPO_ROOT, 'docs', 'architecture.md');

interface Layer { index: number; name: string; paths: string[] }

function block(text: string, tag: string): string {
  const start = text.indexOf(`<!-- ${tag}`);
  const end = text.indexOf(`<!-- /${tag} -->`);
  assert.ok(start >= 0 && end > start, `docs/architecture.md has no <!-- ${tag} --> block`);
  return text.slice(text.indexOf('\n', start) + 1, end);
}

/** `1. name: \`a/\` \`b.ts\`` lines of the layer block. */
function readLayers(text: string): Layer[] {
  return block(text, 'import-layers').split('\n').filter((l) => /^\d+\./.test(l)).map((line, index) => {
    const m = /^\d+\.\s*([^:]+):(.*)$/.exec(line);
    assert.ok(m, `layer line not understood: ${line}`);
    return { index, name: m[1].trim(), paths: [...m[2].matchAll(/`([^`]+)`/g)].map((p) => p[1]) };
  });
}

/** `- \`from\` -> \`to\`: why` lines of the exceptions block. */
function readExceptions(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of block(text, 'import-exceptions').split('\n')) {
    const m = /^- `([^`]+)` -> `([^`]+)`/.exec(line);
    if (m) out.add(`${m[1]} -> ${m[2]}`);
  }
  return out;
}

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (/\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(rel);
    }
  };
  for (const root of ROOTS) walk(root);
  return out.sort();
}

/** The repository files a source imports (relative imports, static or dynamic, resolved to .ts files). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out = new Set<string>();
  const specifiers = /(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']*)'/gm;
  for (const m of text.matchAll(specifiers)) {
    const base = path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1]));
    const target = [`${base}.ts`, `${base}/index.ts`].find((f) => fs.existsSync(path.join(REPO_ROOT, f)));
    if (target) out.add(target);
  }
  return [...out];
}

function layerOf(file: string, layers: Layer[]): Layer | undefined {
  // The longest matching path wins, so a file listed on its own beats its folder.
  let best: { layer: Layer; length: number } | undefined;
  for (const layer of layers) {
    for (const p of layer.paths) {
      const hit = p.endsWith('/') ? file.startsWith(p) : file === p;
      if (hit && (!best || p.length > best.length)) best = { layer, length: p.length };
    }
  }
  return best?.layer;
}

/** Every circle of imports (strongly connected components of more than one file, or a file importing itself). */
function circles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter); low.set(v, counter); counter++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); component.push(w); } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('import graph (docs/architecture.md)', () => {
  const doc = fs.readFileSync(DOC, 'utf8');
  const layers = readLayers(doc);
  const exceptions = readExceptions(doc);
  const files = sourceFiles();
  const graph = new Map(files.map((f) => [f, importsOf(f)]));

  it('the document lists layers and every source file belongs to one', () => {
    assert.ok(layers.length >= 5, 'fewer than 5 layers read from docs/architecture.md');
    const orphans = files.filter((f) => !layerOf(f, layers));
    assert.deepStrictEqual(orphans, [], 'files in no layer of docs/architecture.md');
  });

  it('every import goes to the same layer or one above it', () => {
    const wrong: string[] = [];
    const used = new Set<string>();
    for (const [file, targets] of graph) {
      const from = layerOf(file, layers)!;
      for (const target of targets) {
        const to = layerOf(target, layers);
        if (!to || to.index <= from.index) continue;
        const edge = `${file} -> ${target}`;
        if (exceptions.has(edge)) { used.add(edge); continue; }
        wrong.push(`${edge} (layer ${from.index + 1} ${from.name} imports layer ${to.index + 1} ${to.name})`);
      }
    }
    assert.deepStrictEqual(wrong, [], 'imports against docs/architecture.md');
    assert.deepStrictEqual([...exceptions].filter((e) => !used.has(e)), [], 'listed exceptions that no longer occur: remove them');
  });

  it('no file imports itself around a circle', () => {
    assert.deepStrictEqual(circles(graph), []);
  });
});
