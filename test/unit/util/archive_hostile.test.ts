/**
 * Issue 15, items 9-11: archives that are corrupt, that are bombs, or whose links lead out of the dataset once it
 * is in place. Every hostile archive is generated here; each must be refused with an ArchiveError (code
 * ERR_IMG2IMG_ARCHIVE) naming the archive, in bounded time and memory, with nothing left behind.
 */
import * as assert from 'assert';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { ArchiveError, checkArchiveIntegrity, extractArchive, ExtractOptions } from '../../../src/util/archive';
import { makeTar, makeTarGz, makeZip } from '../tools/helpers/archives';
import { listTree, removeTempDirs, tempDir } from '../tools/helpers/tool_io';

/** Seconds and resident megabytes a refusal may take: far below what the bombs would need. */
const MAX_SECONDS = 5;
const MAX_RSS_GROWTH_MB = 200;

function setup(name: string, bytes: Buffer): { archive: string; dest: string; parent: string } {
  const parent = tempDir('archive-hostile');
  const archive = path.join(parent, name);
  fs.writeFileSync(archive, bytes);
  return { archive, dest: path.join(parent, 'datasets', 'facades'), parent };
}

/** Extraction fails with an ArchiveError naming the archive (and `entry` when given), quickly, leaving nothing. */
async function assertRefused(bytes: Buffer, name: string, problem: RegExp, opts: ExtractOptions & { entry?: string } = {}): Promise<ArchiveError> {
  const { archive, dest } = setup(name, bytes);
  const rss = process.memoryUsage().rss;
  const started = Date.now();
  let caught: ArchiveError | undefined;
  await assert.rejects(extractArchive(archive, dest, opts), (err: Error) => {
    assert.ok(err instanceof ArchiveError, `expected an ArchiveError, got ${err.stack}`);
    caught = err;
    return true;
  });
  const error = caught!;
  assert.strictEqual(error.code, 'ERR_IMG2IMG_ARCHIVE');
  assert.ok(error.message.includes(archive), `the message names the archive: ${error.message}`);
  if (opts.entry !== undefined) assert.strictEqual(error.entry, opts.entry, error.message);
  assert.match(error.message, problem);
  const seconds = (Date.now() - started) / 1000;
  assert.ok(seconds < MAX_SECONDS, `refused in ${seconds} s`);
  const growth = (process.memoryUsage().rss - rss) / 2 ** 20;
  assert.ok(growth < MAX_RSS_GROWTH_MB, `resident memory grew by ${growth.toFixed(0)} MB`);
  assert.strictEqual(fs.existsSync(dest), false, 'nothing may be extracted');
  assert.deepStrictEqual(fs.readdirSync(path.dirname(dest)), [], 'no temporary folder may be left behind');
  return error;
}

/** Random (incompressible) bytes, so the gzip stream is as long as the data. */
const noise = (n: number): Buffer => randomBytes(n);

describe('util/archive: hostile archives (issue 15)', () => {
  after(removeTempDirs);

  describe('item 9: corruption a tar reader alone cannot see', () => {
    const good = makeTarGz([{ name: 'facades/train/1.jpg', data: noise(20_000) }, { name: 'facades/train/2.jpg', data: noise(20_000) }]);

    it('the intact archive extracts (the control case)', async () => {
      const { archive, dest } = setup('good.tar.gz', good);
      await extractArchive(archive, dest);
      assert.deepStrictEqual(listTree(dest), ['facades/train/1.jpg', 'facades/train/2.jpg']);
    });

    it('one flipped byte in the gzip CRC-32 is refused (the stream is read past the tar end marker)', async () => {
      const flipped = Buffer.from(good);
      flipped[flipped.length - 6] ^= 0x01; // inside the CRC-32 of the gzip trailer
      await assertRefused(flipped, 'crc.tar.gz', /crc\.tar\.gz is corrupt or truncated \(incorrect data check\)/);
    });

    it('a wrong length in the gzip trailer is refused', async () => {
      const flipped = Buffer.from(good);
      flipped[flipped.length - 1] ^= 0x80; // inside ISIZE
      await assertRefused(flipped, 'isize.tar.gz', /isize\.tar\.gz is corrupt or truncated/);
    });

    it('4 KB of a real archive followed by zeros (a cut download without Content-Length) is refused', async () => {
      const cut = Buffer.concat([good.subarray(0, 4096), Buffer.alloc(good.length - 4096)]);
      await assertRefused(cut, 'zeros.tar.gz', /zeros\.tar\.gz is (corrupt or truncated|truncated|not a valid tar archive)/);
    });

    it('data hidden after the end-of-archive blocks is refused', async () => {
      const tar = makeTar([{ name: 'facades/1.jpg', data: 'x' }]);
      const hidden = zlib.gzipSync(Buffer.concat([tar, makeTar([{ name: 'evil.sh', data: 'rm -rf' }])]));
      await assertRefused(hidden, 'hidden.tar.gz', /has data after its end-of-archive marker/);
    });
  });

  describe('item 10: bombs', () => {
    it('a tar.gz member far larger than the archive (gzip bomb) is refused from its header, before writing', async () => {
      const bomb = makeTarGz([{ name: 'facades/train/1.jpg', data: Buffer.alloc(40 << 20) }]); // 40 MiB of zeros in ~40 KB
      assert.ok(bomb.length < 100_000, `bomb is ${bomb.length} bytes`);
      await assertRefused(bomb, 'bomb.tar.gz', /would take the extracted data past its limit: Expected at most 8\.0 MiB for the archive .* but received 40\.0 MiB/, { entry: 'facades/train/1.jpg' });
    });

    it('the download check (checkArchiveIntegrity) stops inflating a gzip bomb at twice the limit', async () => {
      const { archive } = setup('integrity.tar.gz', zlib.gzipSync(Buffer.alloc(64 << 20)));
      const started = Date.now();
      await assert.rejects(checkArchiveIntegrity(archive), (err: ArchiveError) => {
        assert.strictEqual(err.code, 'ERR_IMG2IMG_ARCHIVE');
        assert.match(err.message, /integrity\.tar\.gz is refused: Expected at most 17\.0 MiB of tar data for the archive but received more \(a gzip bomb\?\)/);
        return true;
      });
      assert.ok(Date.now() - started < MAX_SECONDS * 1000);
    });

    it('many small members adding up past the limit are refused at the first one over it', async () => {
      const files = Array.from({ length: 600 }, (_, i) => ({ name: `facades/train/${i}.jpg`, data: Buffer.alloc(16 << 10) }));
      await assertRefused(makeTarGz(files), 'many.tar.gz', /past its limit/, { entry: 'facades/train/512.jpg' });
    });

    it('hard-link fan-out is refused: one file may be linked once', async () => {
      const fanout = makeTarGz([
        { name: 'facades/1.jpg', data: noise(4096) },
        { name: 'facades/2.jpg', type: '1', linkname: 'facades/1.jpg' },
        { name: 'facades/3.jpg', type: '1', linkname: 'facades/1.jpg' },
      ]);
      await assertRefused(fanout, 'fanout.tar.gz', /Expected at most 1 hard link\(s\) to one file but received 2 \(a hard-link bomb\?\)/, { entry: 'facades/3.jpg' });
    });

    it('hard-link copies count against the byte limit', async () => {
      const files = [{ name: 'big.jpg', data: noise(3 << 20) }, ...[1, 2].map((i) => ({ name: `copy${i}.jpg`, type: '1' as const, linkname: 'big.jpg' }))];
      await assertRefused(makeTarGz(files), 'copies.tar.gz', /past its limit/, { entry: 'copy2.jpg', limits: { maxLinksPerFile: 5, ratioAllowance: 0, maxRatio: 2 } });
    });

    it('the entry count is bounded', async () => {
      const files = Array.from({ length: 11 }, (_, i) => ({ name: `f/${i}.jpg`, data: 'x' }));
      await assertRefused(makeTarGz(files), 'count.tar.gz', /Expected at most 10 entries for the archive but received more/, { entry: 'f/10.jpg', limits: { maxEntries: 10 } });
      await assertRefused(makeZip(files), 'count.zip', /Expected at most 10 entries/, { limits: { maxEntries: 10 } });
    });

    it('a zip whose directory entries all point at one member is refused before anything is inflated', async () => {
      // one 16 MiB deflated member, and 40 more central-directory records naming other files at the same offset
      const zip = makeZip([{ name: 'facades/00.jpg', data: Buffer.alloc(16 << 20), deflate: true }]);
      const cdStart = zip.indexOf(Buffer.from('504b0102', 'hex'));
      const eocd = zip.length - 22;
      const record = zip.subarray(cdStart, eocd);
      const records = [record];
      for (let i = 1; i <= 40; i++) {
        const copy = Buffer.from(record);
        copy.write(`facades/${String(i).padStart(2, '0')}.jpg`, 46, 'utf8'); // same length as the original name
        records.push(copy);
      }
      const cd = Buffer.concat(records);
      const end = Buffer.from(zip.subarray(eocd));
      end.writeUInt16LE(records.length, 8);
      end.writeUInt16LE(records.length, 10);
      end.writeUInt32LE(cd.length, 12);
      await assertRefused(Buffer.concat([zip.subarray(0, cdStart), cd, end]), 'fanout.zip', /fanout\.zip is damaged: Expected the local header at byte 0 to name facades\/01\.jpg but it names another file/);
    });

    it('overlapping zip members are refused', async () => {
      const zip = makeZip([{ name: 'a/1.jpg', data: 'first' }, { name: 'a/2.jpg', data: 'second' }]);
      const cdStart = zip.indexOf(Buffer.from('504b0102', 'hex'));
      const patched = Buffer.from(zip);
      // the first member's stored size now covers the second member's header and data too
      const span = cdStart - (30 + 'a/1.jpg'.length);
      patched.writeUInt32LE(span, cdStart + 20);
      patched.writeUInt32LE(span, cdStart + 24);
      await assertRefused(patched, 'overlap.zip', /overlap\.zip is refused: Expected separate zip entries but a\/1\.jpg overlaps a\/2\.jpg/);
    });

    it('a zip whose members add up past the limit is refused from its directory, before writing', async () => {
      const zip = makeZip(Array.from({ length: 3 }, (_, i) => ({ name: `f/${i}.jpg`, data: Buffer.alloc(4 << 20), deflate: true })));
      await assertRefused(zip, 'sum.zip', /past its limit/, { entry: 'f/2.jpg' });
    });
  });

  describe('item 11: links are checked where the dataset will live', () => {
    it("facades/up -> .. is refused when facades/ becomes the dataset folder", async () => {
      const tgz = makeTarGz([{ name: 'facades/train/1.jpg', data: 'x' }, { name: 'facades/up', type: '2', linkname: '..' }]);
      await assertRefused(tgz, 'up.tar.gz', /is a symbolic link to '\.\.', which is outside the target folder once extracted/, { entry: 'facades/up', unwrapSingleFolder: true });
    });

    it('a link into a sibling dataset (../../other/train/secret.jpg) is refused, and the sibling stays unread', async () => {
      const tgz = makeTarGz([{ name: 'facades/train/1.jpg', data: 'x' }, { name: 'facades/train/2.jpg', type: '2', linkname: '../../other/train/secret.jpg' }]);
      const { archive, dest } = setup('sibling.tar.gz', tgz);
      const other = path.join(path.dirname(dest), 'other', 'train');
      fs.mkdirSync(other, { recursive: true });
      fs.writeFileSync(path.join(other, 'secret.jpg'), 'secret');
      await assert.rejects(extractArchive(archive, dest, { unwrapSingleFolder: true }), (err: ArchiveError) => {
        assert.strictEqual(err.code, 'ERR_IMG2IMG_ARCHIVE');
        assert.strictEqual(err.entry, 'facades/train/2.jpg');
        assert.match(err.message, /outside the target folder once extracted/);
        return true;
      });
      assert.deepStrictEqual(fs.readdirSync(path.dirname(dest)), ['other']);
    });

    it('links that stay inside the unwrapped folder are kept and work after the move', async () => {
      const tgz = makeTarGz([{ name: 'facades/train/1.jpg', data: 'photo' }, { name: 'facades/val', type: '2', linkname: 'train' }]);
      const { archive, dest } = setup('ok.tar.gz', tgz);
      const summary = await extractArchive(archive, dest, { unwrapSingleFolder: true });
      assert.strictEqual(summary.links, 1);
      assert.strictEqual(fs.readFileSync(path.join(dest, 'val/1.jpg'), 'utf8'), 'photo');
      assert.strictEqual(fs.readlinkSync(path.join(dest, 'val')), 'train');
    });
  });
});
