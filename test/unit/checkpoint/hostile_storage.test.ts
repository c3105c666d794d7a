/**
 * Issue 15, items 12 and 13: checkpoints whose tensors share one storage, and deflate-compressed .pth entries.
 * Both are generated here. Sharing must never multiply what is written (the .pth writer writes a shared storage
 * once, the safetensors writer refuses, as Python's safetensors does); deflated entries inflate only within an
 * explicit budget, checked before anything is inflated. Errors are CheckpointErrors (ERR_IMG2IMG_CHECKPOINT)
 * naming the file.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { convertCheckpoint } from '../../../src/checkpoint/network_checkpoint';
import { CheckpointError, encodePth, readPthRaw, readStateDictRaw, RawTensor, writePthRaw } from '../../../src/checkpoint';
import { ZipArchive } from '../../../src/checkpoint/zip';
import { makeZip } from '../tools/helpers/archives';

const MB = 1 << 20;
const VIEWS = 2000;

function assertCheckpointError(err: unknown, file: string, problem: RegExp): true {
  assert.ok(err instanceof CheckpointError, `expected a CheckpointError, got ${(err as Error).stack}`);
  assert.strictEqual(err.code, 'ERR_IMG2IMG_CHECKPOINT');
  assert.ok(err.message.includes(file), err.message);
  assert.match(err.message, problem);
  return true;
}

/** `run` finishes within `seconds` and grows resident memory by less than `mb`. */
function bounded<T>(run: () => T, seconds: number, mb: number): T {
  const rss = process.memoryUsage().rss;
  const started = Date.now();
  try {
    return run();
  } finally {
    const took = (Date.now() - started) / 1000;
    const growth = (process.memoryUsage().rss - rss) / MB;
    assert.ok(took < seconds, `took ${took} s`);
    assert.ok(growth < mb, `resident memory grew by ${growth.toFixed(0)} MB`);
  }
}

describe('checkpoint: shared storages and compressed entries (issue 15)', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-hostile-storage-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe('item 12: 2,000 tensors viewing one 1 MB storage', () => {
    let shared: string;
    before(() => {
      const storage = Buffer.alloc(MB);
      for (let i = 0; i < storage.length; i += 4) storage.writeFloatLE(i, i);
      // every tensor views the storage at its own element offset, as torch views (tensor[i:]) do
      const views: Array<[string, RawTensor]> = Array.from({ length: VIEWS }, (_, i) => {
        const data = storage.subarray(i * 4, storage.length - (VIEWS - i) * 4);
        return [`view.${i}`, { dtype: 'float32', shape: [data.length / 4], data }];
      });
      shared = path.join(tmp, 'shared.pth');
      writePthRaw(shared, views);
    });

    it('the .pth writer writes the shared storage once (the file is ~1 MB, not 2 GB)', () => {
      const size = fs.statSync(shared).size;
      assert.ok(size < 1.5 * MB, `${size} bytes`);
      const archive = new ZipArchive(fs.readFileSync(shared), shared);
      assert.deepStrictEqual(archive.entries.filter((e) => e.name.includes('/data/')).map((e) => [e.name, e.size]), [['shared/data/0', MB - 4]]);
    });

    it('reads back as views, bit-exact, without copies', () => {
      const { tensors } = bounded(() => readPthRaw(shared), 5, 100);
      assert.strictEqual(tensors.size, VIEWS);
      const v7 = tensors.get('view.7')!;
      assert.strictEqual(v7.data.readFloatLE(0), 28);
      assert.strictEqual(v7.data.buffer, tensors.get('view.1999')!.data.buffer, 'views of one file buffer');
    });

    it('img2img convert to .safetensors refuses, naming the output and the sharing tensors, writing nothing', () => {
      const out = path.join(tmp, 'shared.safetensors');
      assert.throws(
        () => bounded(() => convertCheckpoint(shared, out), 5, 100),
        (err) => assertCheckpointError(err, out, /cannot be written: Expected tensors with memory of their own for a safetensors file but received 2000 that share one 1048572-byte storage \('view\.0', 'view\.1', 'view\.2', …\)/),
      );
      assert.strictEqual(fs.existsSync(out), false);
    });

    it('img2img convert to .pth writes ~1 MB again (not 2,000 copies)', () => {
      const out = path.join(tmp, 'copy.pth');
      bounded(() => convertCheckpoint(shared, out), 5, 100);
      assert.ok(fs.statSync(out).size < 1.5 * MB);
      const back = readStateDictRaw(out).tensors;
      assert.strictEqual(back.size, VIEWS);
      assert.ok(back.get('view.1234')!.data.equals(readStateDictRaw(shared).tensors.get('view.1234')!.data));
    });

    it('tensors that only touch stay separate storages (byte-compatible with torch for distinct tensors)', () => {
      const memory = Buffer.alloc(16);
      const chunks = encodePth([['a', { dtype: 'int32', shape: [2], data: memory.subarray(0, 8) }], ['b', { dtype: 'int32', shape: [2], data: memory.subarray(8) }]]);
      const names = new ZipArchive(Buffer.concat(chunks), 'mem').entries.map((e) => e.name);
      assert.deepStrictEqual(names, ['archive/data.pkl', 'archive/data/0', 'archive/data/1', 'archive/version']);
    });

    it('refuses to write memory shared across dtypes, which no storage can describe', () => {
      const memory = Buffer.alloc(8);
      assert.throws(
        () => encodePth([['f', { dtype: 'float32', shape: [2], data: memory }], ['i', { dtype: 'int32', shape: [1], data: memory.subarray(4) }]], { file: 'mixed.pth' }),
        (err) => assertCheckpointError(err, 'mixed.pth', /Expected one dtype for tensors 'f' and 'i', which share memory, but received float32 and int32/),
      );
    });
  });

  describe('item 13: deflate-compressed .pth entries', () => {
    /** A torch.save archive of one float32 tensor of `bytes` zeros, re-packed with its storage deflated. */
    function deflatedCheckpoint(name: string, bytes: number): string {
      const stored = new ZipArchive(Buffer.concat(encodePth([['w', { dtype: 'float32', shape: [bytes / 4], data: Buffer.alloc(bytes) }]], { archiveName: 'bomb' })), 'mem');
      const file = path.join(tmp, name);
      fs.writeFileSync(file, makeZip(stored.entries.map((entry) => ({ name: entry.name, data: stored.read(entry.name), deflate: entry.name === 'bomb/data/0' }))));
      return file;
    }

    it('a 32 KB file that would inflate to a 32 MiB tensor is refused from its directory, before inflating', () => {
      const bomb = deflatedCheckpoint('bomb.pth', 32 * MB);
      const size = fs.statSync(bomb).size;
      assert.ok(size < 64 * 1024, `${size} bytes`);
      assert.throws(
        () => bounded(() => readPthRaw(bomb), 2, 20),
        (err) => assertCheckpointError(err, bomb, /is refused: Expected at most 1048576 inflated bytes for its deflate-compressed zip entries \(the inflation budget\) but received 33554432 by entry bomb\/data\/0; torch\.save never compresses/),
      );
    });

    it('the budget is explicit: a caller that allows it reads the same file', () => {
      const bomb = deflatedCheckpoint('allowed.pth', 32 * MB);
      const { tensors } = readPthRaw(bomb, { maxInflatedBytes: 40 * MB });
      assert.deepStrictEqual(tensors.get('w')!.shape, [8 * MB]);
    });

    it('a deflated re-pack of a real-sized checkpoint stays within the default budget', () => {
      const small = deflatedCheckpoint('small.pth', 64 * 1024);
      assert.deepStrictEqual(readPthRaw(small).tensors.get('w')!.shape, [16 * 1024]);
    });
  });
});
