/**
 * Port of data/image_folder.py `make_dataset`: every image file below a folder, recursively, in the order of
 * Python's `sorted(Path(dir).rglob("*"))`, cut to --max_dataset_size.
 */
import * as fs from 'fs';
import * as path from 'path';

/** The reference's IMG_EXTENSIONS; matching is case-sensitive (".Jpg" is not an image there either). */
export const IMG_EXTENSIONS = [
  '.jpg', '.JPG', '.jpeg', '.JPEG',
  '.png', '.PNG', '.ppm', '.PPM',
  '.bmp', '.BMP', '.tif', '.TIF', '.tiff', '.TIFF',
];

export function isImageFile(fileName: string): boolean {
  return IMG_EXTENSIONS.some((ext) => fileName.endsWith(ext));
}

/** Python str comparison: by Unicode code point (JS `<` compares UTF-16 units, which differs above U+FFFF). */
export function comparePythonStrings(a: string, b: string): number {
  if (a === b) return 0;
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const ca = ia.next();
    const cb = ib.next();
    if (ca.done || cb.done) return ca.done ? (cb.done ? 0 : -1) : 1;
    const d = ca.value.codePointAt(0)! - cb.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

/** Python's sorted() of a list of str (the datasets sort make_dataset's result again as strings). */
export function sortLikePython(paths: readonly string[]): string[] {
  return [...paths].sort(comparePythonStrings);
}

/** Path objects sort component by component: ("a", "b") < ("a-c",) although "a/b" > "a-c" as strings. */
function comparePathParts(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = comparePythonStrings(a[i], b[i]);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Where a folder came from, for messages: e.g. "--dataroot ./datasets/facades, --phase train". */
export type FolderOrigin = string;

/**
 * Image files below `dir` (recursively; symlinked folders are not followed, as pathlib's rglob does not),
 * sorted like Python Paths, at most `maxDatasetSize` of them. Throws a clear error when the folder is
 * missing, is not a folder, or holds no images.
 */
export function makeDataset(dir: string, maxDatasetSize = Infinity, origin?: FolderOrigin): string[] {
  const from = origin ? ` (from ${origin})` : '';
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new Error(`dataset folder ${dir}${from} does not exist`);
  }
  if (!stat.isDirectory()) throw new Error(`dataset folder ${dir}${from} is not a folder`);

  const found: string[][] = [];
  walk(dir, [], found);
  found.sort(comparePathParts);
  if (found.length === 0) {
    const extensions = IMG_EXTENSIONS.filter((e) => e === e.toLowerCase()).join(' ');
    throw new Error(
      `dataset folder ${dir}${from} has no images (looked for ${extensions} and their upper-case forms, in all subfolders)`,
    );
  }
  const count = Math.min(maxDatasetSize, found.length);
  return found.slice(0, count).map((parts) => path.join(dir, ...parts));
}

function walk(root: string, parts: string[], found: string[][]): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(root, ...parts), { withFileTypes: true });
  } catch {
    return; // unreadable subfolder: skipped, like pathlib's rglob
  }
  for (const entry of entries) {
    const childParts = [...parts, entry.name];
    if (entry.isDirectory()) {
      walk(root, childParts, found);
    } else if (isImageFile(entry.name) && isFileFollowingLinks(entry, path.join(root, ...childParts))) {
      found.push(childParts);
    }
  }
}

/** Path.is_file(): regular files, and symlinks that point at one. */
function isFileFollowingLinks(entry: fs.Dirent, fullPath: string): boolean {
  if (entry.isFile()) return true;
  if (!entry.isSymbolicLink()) return false;
  try {
    return fs.statSync(fullPath).isFile();
  } catch {
    return false;
  }
}
