/**
 * util/atomic_write (the writer under every checkpoint save): the new content appears whole or not at all, and a
 * failed write leaves the previous file and no temporary behind.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AtomicWriteError, writeFileAtomic, writeFileAtomicAsync } from '../../../src/util/atomic_write';

describe('util/atomic_write', () => {
  let folder: string;
  beforeEach(() => {
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-atomic-'));
  });
  afterEach(() => fs.rmSync(folder, { recursive: true, force: true }));

  const leftovers = (): string[] => fs.readdirSync(folder).filter((name) => name.includes('.tmp-'));

  it('writes a Buffer, a string or chunks, replacing the previous file', async () => {
    const target = path.join(folder, 'latest_net_G.pth');
    writeFileAtomic(target, 'old');
    writeFileAtomic(target, [Buffer.from('ne'), Buffer.alloc(0), Buffer.from('w')]);
    assert.strictEqual(fs.readFileSync(target, 'utf8'), 'new');
    await writeFileAtomicAsync(target, Buffer.from('newer'));
    assert.strictEqual(fs.readFileSync(target, 'utf8'), 'newer');
    assert.deepStrictEqual(leftovers(), []);
  });

  it('on a failure mid-write keeps the previous file and removes the temporary', async () => {
    const target = path.join(folder, 'w.pth');
    writeFileAtomic(target, 'previous');
    const notABuffer = 42 as unknown as Buffer; // fails after the temporary file was created and partly written
    assert.throws(() => writeFileAtomic(target, [Buffer.from('partial'), notABuffer]), (err: Error) => {
      assert.ok(err instanceof AtomicWriteError);
      assert.match(err.message, new RegExp(`^Could not write ${target.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: .*the previous file, if any, is unchanged`));
      return true;
    });
    await assert.rejects(writeFileAtomicAsync(target, [Buffer.from('partial'), notABuffer]), AtomicWriteError);
    assert.strictEqual(fs.readFileSync(target, 'utf8'), 'previous');
    assert.deepStrictEqual(leftovers(), []);
  });

  it('names the path and the cause when the rename or the folder fails', async () => {
    const directory = path.join(folder, 'is_a_directory');
    fs.mkdirSync(directory);
    assert.throws(() => writeFileAtomic(directory, 'x'), /Could not write .*is_a_directory: .*(EISDIR|EEXIST|ENOTEMPTY)/);
    await assert.rejects(writeFileAtomicAsync(directory, 'x'), /Could not write .*is_a_directory: .*(EISDIR|EEXIST|ENOTEMPTY)/);
    assert.deepStrictEqual(leftovers(), []);
    assert.throws(() => writeFileAtomic(path.join(folder, 'missing', 'w.pth'), 'x'), /Could not write .*missing\/w\.pth: ENOENT/);
  });
});
