/**
 * The loader: batching and stop rule of the reference's CustomDatasetDataLoader, shuffling with the injected
 * Rng, worker threads giving the same batches as the main thread, the decoded-image cache, bad images
 * (skipped with a warning under --skip_bad_images, else fatal naming the file), and no hanging process.
 */
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { AlignedDataset } from '../../../src/data/aligned_dataset';
import { DataOptions } from '../../../src/data/base_dataset';
import { createDataset } from '../../../src/data/create_dataset';
import { Batch, createDataLoader } from '../../../src/data/data_loader';
import { ImageFileError } from '../../../src/data/image_errors';
import { DATA_WORKER_SCRIPT } from '../../../src/data/worker_pool';
import { PythonRandom } from '../../../src/util/python_random';
import { runPythonJson } from '../../helpers/run_python';
import { REPO_ROOT } from '../../helpers/paths';
import { BAD_INPUTS, dataOptions, FACADES, patternImage, tempDir, writePng } from './data_test_helpers';

async function collect(iterable: AsyncIterable<Batch>): Promise<Batch[]> {
  const batches: Batch[] = [];
  for await (const b of iterable) batches.push(b);
  return batches;
}

describe('data/data_loader', function () {
  this.timeout(60000);
  let root: string;
  let aligned: string;

  before(() => {
    root = tempDir('loader');
    // five real facades pairs (JPEG, as users have them)
    aligned = path.join(root, 'aligned');
    fs.mkdirSync(path.join(aligned, 'train'), { recursive: true });
    for (const n of ['1.jpg', '2.jpg', '3.jpg', '4.jpg', '5.jpg']) fs.copyFileSync(path.join(FACADES, 'train', n), path.join(aligned, 'train', n));
  });

  function alignedOptions(overrides: Partial<DataOptions> = {}): DataOptions {
    return dataOptions({ dataroot: aligned, ...overrides });
  }

  it('stacks batches N×C×H×W in order with --serial_batches, the last one partial (drop_last false)', async () => {
    const opt = alignedOptions({ serial_batches: true, batch_size: 2, direction: 'AtoB', output_nc: 1 });
    const loader = createDataLoader(opt, new AlignedDataset(opt, new PythonRandom(0)));
    assert.strictEqual(loader.length, 5);
    assert.strictEqual(loader.batchesPerEpoch, 3);
    const batches = await collect(loader);
    assert.deepStrictEqual(batches.map((b) => b.shapeA), [[2, 3, 256, 256], [2, 3, 256, 256], [1, 3, 256, 256]]);
    assert.deepStrictEqual(batches.map((b) => b.shapeB), [[2, 1, 256, 256], [2, 1, 256, 256], [1, 1, 256, 256]]);
    assert.deepStrictEqual(batches.flatMap((b) => b.A_paths.map((p) => path.basename(p))), ['1.jpg', '2.jpg', '3.jpg', '4.jpg', '5.jpg']);
    assert.deepStrictEqual(batches[0].B_paths, batches[0].A_paths);
    assert.strictEqual(batches[0].A.length, 2 * 3 * 256 * 256);
    // item 1 of batch 0 is what the dataset gives for index 1 with the same draws
    const again = new AlignedDataset(opt, new PythonRandom(0));
    await again.get(0);
    const second = await again.get(1);
    assert.deepStrictEqual(batches[0].A.subarray(3 * 256 * 256), second.A);
  });

  it('stops once i * batch_size >= max_dataset_size, as the reference', async () => {
    const opt = alignedOptions({ batch_size: 3, max_dataset_size: 2, serial_batches: true });
    // the dataset itself lists all five files here, so only the loader's rule applies
    const loader = createDataLoader(opt, new AlignedDataset({ ...opt, max_dataset_size: Infinity }, new PythonRandom(0)));
    assert.strictEqual(loader.length, 2);
    const batches = await collect(loader);
    assert.deepStrictEqual(batches.map((b) => b.shapeA[0]), [3]);
  });

  it('shuffles each epoch like Python random.shuffle on the injected Rng', async () => {
    const opt = alignedOptions({ preprocess: 'resize_and_crop', load_size: 256, no_flip: true });
    const ds = new AlignedDataset(opt, new PythonRandom(99));
    const loader = createDataLoader(opt, ds, { rng: new PythonRandom(5) });
    const epochs = [await collect(loader), await collect(loader)];
    const py = runPythonJson<number[][]>(
      `import json, random\nrandom.seed(5)\nout = []\nfor _ in range(2):\n    x = list(range(5)); random.shuffle(x); out.append(x)\nprint(json.dumps(out))`,
    );
    epochs.forEach((batches, e) => {
      assert.deepStrictEqual(batches.map((b) => ds.paths.indexOf(b.A_paths[0])), py[e], `epoch ${e}`);
    });
  });

  it('worker threads give exactly the main-thread batches, and later epochs come from the cache', async () => {
    const runs: Batch[][][] = [];
    const statsPerRun = [];
    for (const num_threads of [0, 2]) {
      const opt = alignedOptions({ batch_size: 2, num_threads });
      const loader = createDataLoader(opt, new AlignedDataset(opt, new PythonRandom(123)));
      const epochs = [await collect(loader)];
      const afterFirst = loader.stats();
      epochs.push(await collect(loader));
      statsPerRun.push([afterFirst, loader.stats()]);
      await loader.close();
      runs.push(epochs);
    }
    for (const [first, second] of statsPerRun) {
      assert.deepStrictEqual(first, { decoded: 5, cacheHits: 0, skipped: 0 });
      assert.deepStrictEqual(second, { decoded: 5, cacheHits: 5, skipped: 0 }, 'epoch 2 decodes nothing');
    }
    const [main, workers] = runs;
    for (let e = 0; e < 2; e++) {
      assert.strictEqual(workers[e].length, main[e].length);
      main[e].forEach((b, i) => {
        assert.deepStrictEqual(workers[e][i].A_paths, b.A_paths);
        assert.deepStrictEqual(workers[e][i].A, b.A, `epoch ${e} batch ${i} A`);
        assert.deepStrictEqual(workers[e][i].B, b.B, `epoch ${e} batch ${i} B`);
      });
    }
  });

  it('a tiny cache budget still works (nothing cached, everything decoded again)', async () => {
    const opt = alignedOptions({ batch_size: 5, serial_batches: true });
    const loader = createDataLoader(opt, new AlignedDataset(opt, new PythonRandom(1)), { cacheBudgetBytes: 1000 });
    await collect(loader);
    await collect(loader);
    assert.deepStrictEqual(loader.stats(), { decoded: 10, cacheHits: 0, skipped: 0 });
  });

  describe('bad images', () => {
    let folder: string;
    before(() => {
      folder = path.join(root, 'mixed');
      fs.mkdirSync(folder);
      writePng(path.join(folder, 'a_good.png'), patternImage(64, 48, 3));
      writePng(path.join(folder, 'z_good.png'), patternImage(40, 40, 1));
      for (const bad of ['truncated.jpg', 'empty.jpg', 'text_named.jpg', 'bomb_20000x20000.png']) {
        fs.copyFileSync(path.join(BAD_INPUTS, bad), path.join(folder, bad));
      }
    });

    for (const num_threads of [0, 2]) {
      it(`--skip_bad_images warns once per file and skips it (num_threads ${num_threads})`, async () => {
        const opt = dataOptions({ dataroot: folder, dataset_mode: 'single', preprocess: 'resize_and_crop', load_size: 32, crop_size: 32, batch_size: 4, num_threads, serial_batches: true, skip_bad_images: true });
        const warnings: string[] = [];
        const loader = createDataLoader(opt, createDataset(opt, new PythonRandom(0)), { warn: (m) => warnings.push(m) });
        const epoch1 = await collect(loader);
        const epoch2 = await collect(loader);
        await loader.close();
        for (const epoch of [epoch1, epoch2]) {
          assert.deepStrictEqual(epoch.flatMap((b) => b.A_paths.map((p) => path.basename(p))), ['a_good.png', 'z_good.png']);
          assert.deepStrictEqual(epoch.map((b) => b.shapeA), [[1, 3, 32, 32], [1, 3, 32, 32]]);
        }
        assert.strictEqual(warnings.length, 4, warnings.join('\n'));
        for (const bad of ['truncated.jpg', 'empty.jpg', 'text_named.jpg', 'bomb_20000x20000.png']) {
          assert.ok(warnings.some((w) => w.includes(path.join(folder, bad))), `warning names ${bad}`);
        }
        assert.strictEqual(loader.stats().skipped, 8);
      });

      it(`without --skip_bad_images the first bad file stops the epoch, named (num_threads ${num_threads})`, async () => {
        const opt = dataOptions({ dataroot: folder, dataset_mode: 'single', preprocess: 'resize_and_crop', load_size: 32, crop_size: 32, num_threads, serial_batches: true });
        const loader = createDataLoader(opt, createDataset(opt, new PythonRandom(0)));
        await assert.rejects(collect(loader), (err: Error) => err instanceof ImageFileError && err.message.startsWith(`${path.join(folder, 'bomb_20000x20000.png')} is 20000x20000`));
        await loader.close();
      });
    }
  });

  it('refuses to stack different sizes into one batch, naming both files', async () => {
    const folder = path.join(root, 'sizes');
    writePng(path.join(folder, 'a.png'), patternImage(64, 48, 3));
    writePng(path.join(folder, 'b.png'), patternImage(40, 40, 3));
    const opt = dataOptions({ dataroot: folder, dataset_mode: 'single', preprocess: 'none', batch_size: 2, serial_batches: true, no_flip: true });
    const loader = createDataLoader(opt, createDataset(opt, new PythonRandom(0)));
    await assert.rejects(collect(loader), /cannot stack images of different sizes into one batch: .*a\.png gives A 3x48x64 but .*b\.png gives 3x40x40; use --batch_size 1/);
  });

  it('validates its options', () => {
    const opt = alignedOptions();
    const ds = new AlignedDataset(opt, new PythonRandom(0));
    assert.throws(() => createDataLoader({ ...opt, batch_size: 0 }, ds), /Expected an integer >= 1 for --batch_size but received '0'/);
    assert.throws(() => createDataLoader({ ...opt, num_threads: -1 }, ds), /Expected an integer >= 0 for --num_threads but received '-1'/);
  });

  it('runs its workers from the compiled dist/ tree and never keeps the process alive', () => {
    assert.ok(DATA_WORKER_SCRIPT.endsWith(path.join('dist', 'src', 'data', 'data_worker.js')), DATA_WORKER_SCRIPT);
    assert.ok(fs.existsSync(DATA_WORKER_SCRIPT));
    // a script that loads one epoch with 2 workers and never calls close() must still exit by itself
    const script = `
      const { createDataLoader, createDataset } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'src', 'data'))});
      const { PythonRandom } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'src', 'util', 'python_random'))});
      const opt = ${JSON.stringify({ ...alignedOptions({ num_threads: 2, batch_size: 2 }), max_dataset_size: 1e9 })};
      (async () => { let n = 0; for await (const b of createDataLoader(opt, createDataset(opt, new PythonRandom(0)))) n += b.shapeA[0]; console.log('items', n); })();
    `;
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30000 });
    assert.strictEqual(result.status, 0, result.stderr);
    assert.strictEqual(result.stdout.trim(), 'items 5');
  });
});
