/** make_dataset: the reference's listing order (sorted Path objects, then sorted strings), extensions, errors. */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { comparePythonStrings, isImageFile, makeDataset, sortLikePython } from '../../../src/data/make_dataset';
import { runPythonJson } from '../../helpers/run_python';
import { FACADES, tempDir } from './data_test_helpers';

const PY_MAKE_DATASET = String.raw`
import json, sys
from pathlib import Path
IMG_EXTENSIONS = ['.jpg', '.JPG', '.jpeg', '.JPEG', '.png', '.PNG', '.ppm', '.PPM', '.bmp', '.BMP', '.tif', '.TIF', '.tiff', '.TIFF']
def make_dataset(dir, max_dataset_size=float('inf')):
    images = []
    for path in sorted(Path(dir).rglob('*')):
        if path.is_file() and any(path.name.endswith(e) for e in IMG_EXTENSIONS):
            images.append(str(path))
    return images[: min(max_dataset_size, len(images))]
d, m = json.load(sys.stdin)
print(json.dumps([make_dataset(d, float('inf') if m is None else m), sorted(make_dataset(d, float('inf') if m is None else m))]))
`;

describe('data/make_dataset', () => {
  let tree: string;

  before(() => {
    tree = tempDir('make-dataset');
    const files = [
      '10.jpg', '2.jpg', '1.png', 'B.PNG', 'a.jpeg', 'notes.txt', 'x.Jpg', 'y.tiff', 'z.ppm', '.hidden.png',
      'a/b.jpg', 'a/c/d.png', 'a-c.jpg', 'a b.png', 'ä.png', 'sub/deeper/img.bmp', 'sub/x.TIF', 'empty_dir/',
    ];
    for (const f of files) {
      const full = path.join(tree, f);
      if (f.endsWith('/')) fs.mkdirSync(full, { recursive: true });
      else {
        fs.mkdirSync(path.dirname(full), { recursive: true });
        fs.writeFileSync(full, 'x');
      }
    }
    fs.symlinkSync(path.join(tree, 'sub'), path.join(tree, 'link_to_sub')); // not followed, like rglob
    fs.symlinkSync(path.join(tree, '2.jpg'), path.join(tree, 'link.jpg')); // a link to a file counts
  });

  it('lists like sorted(Path(dir).rglob("*")) and then sorted() as the datasets do', () => {
    const [pyListing, pySorted] = runPythonJson<[string[], string[]]>(PY_MAKE_DATASET, JSON.stringify([tree, null]));
    const listing = makeDataset(tree);
    assert.deepStrictEqual(listing, pyListing);
    assert.deepStrictEqual(sortLikePython(listing), pySorted);
    // component-wise vs string order really differ here
    assert.notDeepStrictEqual(pyListing, pySorted);
  });

  it('cuts to max_dataset_size before the string sort, as the reference', () => {
    const [pyListing, pySorted] = runPythonJson<[string[], string[]]>(PY_MAKE_DATASET, JSON.stringify([tree, 5]));
    assert.deepStrictEqual(makeDataset(tree, 5), pyListing);
    assert.deepStrictEqual(sortLikePython(makeDataset(tree, 5)), pySorted);
    assert.deepStrictEqual(makeDataset(tree, 0), []);
  });

  it('orders facades/train as Python does: 1.jpg, 10.jpg, 100.jpg, 101.jpg …', () => {
    const names = makeDataset(path.join(FACADES, 'train')).map((p) => path.basename(p));
    assert.strictEqual(names.length, 400);
    assert.deepStrictEqual(names.slice(0, 4), ['1.jpg', '10.jpg', '100.jpg', '101.jpg']);
  });

  it('matches only the reference extensions, case-sensitively', () => {
    assert.ok(isImageFile('a.JPEG') && isImageFile('b.tif') && isImageFile('c.ppm'));
    assert.ok(!isImageFile('x.Jpg') && !isImageFile('notes.txt') && !isImageFile('y.gif') && !isImageFile('z.webp'));
  });

  it('compares strings by code point like Python (not by UTF-16 unit)', () => {
    assert.ok(comparePythonStrings('\u{1F600}', '\uFFFF') > 0); // '😀' > '\uffff' in Python
    assert.ok('\u{1F600}' < '\uFFFF'); // but not in JS
    assert.ok(comparePythonStrings('a', 'ab') < 0 && comparePythonStrings('b', 'ab') > 0 && comparePythonStrings('x', 'x') === 0);
  });

  it('names the folder and where it came from when it is missing, a file, or has no images', () => {
    assert.throws(
      () => makeDataset(path.join(tree, 'nope'), Infinity, '--dataroot D, --phase train'),
      new RegExp(`^Error: dataset folder ${tree}/nope \\(from --dataroot D, --phase train\\) does not exist$`),
    );
    assert.throws(() => makeDataset(path.join(tree, 'notes.txt')), /notes\.txt is not a folder/);
    assert.throws(
      () => makeDataset(path.join(tree, 'empty_dir'), Infinity, '--dataroot D'),
      /dataset folder .*empty_dir \(from --dataroot D\) has no images \(looked for \.jpg \.jpeg \.png \.ppm \.bmp \.tif \.tiff and their upper-case forms, in all subfolders\)/,
    );
  });
});
