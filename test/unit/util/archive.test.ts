/** util/archive: zip and tar.gz extraction, and every way a hostile archive is refused with nothing written. */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { ArchiveError, checkEntryName, extractArchive, sniffArchive } from '../../../src/util/archive';
import { crc32 } from '../../../src/util/crc32';
import { makeTar, makeTarGz, makeZip } from '../tools/helpers/archives';
import { listTree, removeTempDirs, tempDir } from '../tools/helpers/tool_io';

/** Writes `bytes` as an archive file in a fresh folder; returns it and the (not yet existing) destination. */
function setup(name: string, bytes: Buffer): { archive: string; dest: string; parent: string } {
  const parent = tempDir('archive');
  const archive = path.join(parent, name);
  fs.writeFileSync(archive, bytes);
  return { archive, dest: path.join(parent, 'out', 'dataset'), parent };
}

/** Extraction must fail naming `entry`, leaving neither the destination nor a temporary folder behind. */
async function assertRefused(bytes: Buffer, name: string, entry: string, problem: RegExp): Promise<void> {
  const { archive, dest, parent } = setup(name, bytes);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  await assert.rejects(extractArchive(archive, dest), (err: Error) => {
    assert.ok(err instanceof ArchiveError, `expected an ArchiveError, got ${err}`);
    assert.strictEqual(err.entry, entry);
    assert.ok(err.message.includes(`'${entry}'`), err.message);
    assert.match(err.message, problem);
    return true;
  });
  assert.strictEqual(fs.existsSync(dest), false, 'the destination must not exist after a refusal');
  assert.deepStrictEqual(fs.readdirSync(path.dirname(dest)), [], 'no temporary folder may be left behind');
  assert.deepStrictEqual(fs.readdirSync(parent).sort(), [name, 'out'].sort(), 'nothing may be written next to the archive');
}

describe('util/archive', () => {
  after(removeTempDirs);

  it('computes CRC-32 like zlib (check value of "123456789")', () => {
    assert.strictEqual(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.strictEqual(crc32(Buffer.from('6789'), crc32(Buffer.from('12345'))), 0xcbf43926);
  });

  it('checks entry names: absolute, drive letters, .. components and NUL are refused', () => {
    assert.deepStrictEqual(checkEntryName('./facades/train/1.jpg'), { parts: ['facades', 'train', '1.jpg'] });
    assert.deepStrictEqual(checkEntryName('a//b/'), { parts: ['a', 'b'] });
    assert.deepStrictEqual(checkEntryName('a..b/c..'), { parts: ['a..b', 'c..'] });
    for (const bad of ['/etc/passwd', 'C:/Windows/x', 'a/../../b', '..', '..\\evil', 'a\0b']) {
      assert.ok('problem' in checkEntryName(bad), bad);
    }
  });

  it('recognises archives by content and names a web page sent instead', () => {
    const zip = setup('x.zip', makeZip([{ name: 'a.txt', data: 'a' }]));
    assert.strictEqual(sniffArchive(zip.archive), 'zip');
    const tgz = setup('x.tar.gz', makeTarGz([{ name: 'a.txt', data: 'a' }]));
    assert.strictEqual(sniffArchive(tgz.archive), 'tar.gz');
    const html = setup('x.zip', Buffer.from('<!DOCTYPE html><html><body>Service Unavailable</body></html>'));
    assert.throws(() => sniffArchive(html.archive), /not a zip or tar\.gz archive: .*web page/);
  });

  it('extracts a zip with stored and deflated entries, folders and nested paths', async () => {
    const big = Buffer.alloc(200_000, 7);
    const { archive, dest } = setup('mini.zip', makeZip([
      { name: 'mini/' },
      { name: 'mini/trainA/' },
      { name: 'mini/trainA/1.jpg', data: 'stored bytes' },
      { name: 'mini/trainB/2.jpg', data: big, deflate: true },
      { name: 'mini/ünïcode name.png', data: 'u', deflate: true },
    ]));
    const summary = await extractArchive(archive, dest);
    assert.deepStrictEqual(listTree(dest), ['mini/trainA/1.jpg', 'mini/trainB/2.jpg', 'mini/ünïcode name.png']);
    assert.strictEqual(fs.readFileSync(path.join(dest, 'mini/trainA/1.jpg'), 'utf8'), 'stored bytes');
    assert.ok(fs.readFileSync(path.join(dest, 'mini/trainB/2.jpg')).equals(big));
    assert.strictEqual(summary.format, 'zip');
    assert.strictEqual(summary.files, 3);
    assert.strictEqual(summary.bytes, 12 + big.length + 1);
  });

  it('extracts a tar.gz with folders, GNU long names, pax paths, hard links and in-folder symlinks', async () => {
    const longName = `facades/${'x'.repeat(120)}/deep.jpg`;
    const { archive, dest } = setup('facades.tar.gz', makeTarGz([
      { name: 'facades/', type: '5' },
      { name: 'facades/train/1.jpg', data: 'one' },
      { name: longName, data: 'long', gnuLongName: true },
      { name: `facades/${'p'.repeat(130)}.jpg`, data: 'pax', paxPath: true },
      { name: 'facades/train/copy.jpg', type: '1', linkname: 'facades/train/1.jpg' },
      { name: 'facades/latest', type: '2', linkname: 'train/1.jpg' },
    ]));
    const summary = await extractArchive(archive, dest);
    assert.strictEqual(fs.readFileSync(path.join(dest, longName), 'utf8'), 'long');
    assert.strictEqual(fs.readFileSync(path.join(dest, `facades/${'p'.repeat(130)}.jpg`), 'utf8'), 'pax');
    assert.strictEqual(fs.readFileSync(path.join(dest, 'facades/train/copy.jpg'), 'utf8'), 'one');
    assert.strictEqual(fs.readlinkSync(path.join(dest, 'facades/latest')), 'train/1.jpg');
    assert.strictEqual(fs.readFileSync(path.join(dest, 'facades/latest'), 'utf8'), 'one');
    assert.strictEqual(summary.format, 'tar.gz');
    assert.strictEqual(summary.links, 1);
  });

  it('skips macOS metadata (__MACOSX/ and ._ files), which would otherwise pose as images', async () => {
    const { archive, dest } = setup('m.zip', makeZip([
      { name: 'm/trainA/1.jpg', data: 'img' },
      { name: '__MACOSX/m/trainA/._1.jpg', data: 'junk' },
      { name: 'm/trainA/._1.jpg', data: 'junk' },
    ]));
    const summary = await extractArchive(archive, dest);
    assert.deepStrictEqual(listTree(dest), ['m/trainA/1.jpg']);
    assert.strictEqual(summary.skipped.length, 2);
  });

  it('refuses zip path traversal (../evil), naming the entry, with nothing written', async () => {
    await assertRefused(makeZip([{ name: 'ok/1.jpg', data: 'fine' }, { name: '../evil', data: 'pwned' }]), 'bad.zip', '../evil', /path traversal/);
    await assertRefused(makeZip([{ name: 'ok/../../evil', data: 'pwned' }]), 'bad.zip', 'ok/../../evil', /path traversal/);
  });

  it('refuses absolute entry names in zip and tar', async () => {
    await assertRefused(makeZip([{ name: '/tmp/img2img-evil', data: 'x' }]), 'abs.zip', '/tmp/img2img-evil', /absolute path/);
    await assertRefused(makeTarGz([{ name: 'a.jpg', data: 'x' }, { name: '/tmp/img2img-evil', data: 'x' }]), 'abs.tar.gz', '/tmp/img2img-evil', /absolute path/);
  });

  it('refuses tar path traversal after files were already extracted (the temporary folder is removed)', async () => {
    await assertRefused(
      makeTarGz([{ name: 'facades/train/1.jpg', data: 'a'.repeat(5000) }, { name: 'facades/../../evil.sh', data: 'x' }]),
      'bad.tar.gz',
      'facades/../../evil.sh',
      /path traversal/,
    );
  });

  it('refuses symlinks that escape: absolute, climbing out, and through a chain of links', async () => {
    await assertRefused(makeTarGz([{ name: 'd/etc', type: '2', linkname: '/etc' }]), 's1.tar.gz', 'd/etc', /absolute path '\/etc'/);
    await assertRefused(makeTarGz([{ name: 'd/up', type: '2', linkname: '../../outside' }]), 's2.tar.gz', 'd/up', /outside the target folder/);
    await assertRefused(makeZip([{ name: 'd/up', symlink: '../..' }]), 's3.zip', 'd/up', /outside the target folder/);
    // each link alone stays inside; together b leads to the folder's parent
    await assertRefused(
      makeTarGz([{ name: 'a', type: '2', linkname: '.' }, { name: 'b', type: '2', linkname: 'a/..' }]),
      's4.tar.gz',
      'b',
      /leads outside the target folder/,
    );
  });

  it('refuses hard links to anything but a file extracted before them, and devices', async () => {
    await assertRefused(makeTarGz([{ name: 'passwd', type: '1', linkname: '/etc/passwd' }]), 'h1.tar.gz', 'passwd', /hard link/);
    await assertRefused(makeTarGz([{ name: 'x', type: '1', linkname: '../x' }]), 'h2.tar.gz', 'x', /hard link/);
    await assertRefused(makeTarGz([{ name: 'x', type: '1', linkname: 'later.jpg' }, { name: 'later.jpg', data: 'a' }]), 'h3.tar.gz', 'x', /not a file extracted before it/);
    await assertRefused(makeTarGz([{ name: 'dev/null', type: '3' }]), 'dev.tar.gz', 'dev/null', /character device/);
    await assertRefused(makeTarGz([{ name: 'fifo', type: '6' }]), 'fifo.tar.gz', 'fifo', /FIFO/);
  });

  it('reports truncated and corrupt archives, with nothing written', async () => {
    const tgz = makeTarGz([{ name: 'f/1.jpg', data: Buffer.alloc(50_000, 3) }, { name: 'f/2.jpg', data: Buffer.alloc(50_000, 4) }]);
    const cut = setup('cut.tar.gz', tgz.subarray(0, Math.floor(tgz.length / 2)));
    fs.mkdirSync(path.dirname(cut.dest), { recursive: true });
    await assert.rejects(extractArchive(cut.archive, cut.dest), /is (corrupt or truncated|truncated)/);
    assert.deepStrictEqual(fs.readdirSync(path.dirname(cut.dest)), []);

    const notTar = setup('nottar.tar.gz', zlib.gzipSync(Buffer.alloc(2048, 0x41)));
    await assert.rejects(extractArchive(notTar.archive, notTar.dest), /not a valid tar archive \(bad header checksum/);

    const zip = makeZip([{ name: 'a/1.jpg', data: Buffer.alloc(10_000, 1), deflate: true }]);
    const cutZip = setup('cut.zip', zip.subarray(0, zip.length - 30));
    await assert.rejects(extractArchive(cutZip.archive, cutZip.dest), /cut\.zip is truncated or damaged: Expected a zip end-of-central-directory record in its last bytes but received none/);

    const flipped = Buffer.from(makeZip([{ name: 'a/1.jpg', data: 'abcdef' }]));
    flipped[30 + 'a/1.jpg'.length] ^= 0xff; // corrupt the stored data, not the directory
    const crc = setup('crc.zip', flipped);
    await assert.rejects(extractArchive(crc.archive, crc.dest), /'a\/1\.jpg' fails its CRC-32 check/);
  });

  it('refuses to extract over an existing folder', async () => {
    const { archive, parent } = setup('a.zip', makeZip([{ name: 'a.txt', data: 'a' }]));
    await assert.rejects(extractArchive(archive, parent), /already exists/);
  });

  it('extracts a plain (uncompressed) tar too', async () => {
    const { archive, dest } = setup('plain.tar', makeTar([{ name: 'p/1.txt', data: 'plain' }]));
    await extractArchive(archive, dest);
    assert.strictEqual(fs.readFileSync(path.join(dest, 'p/1.txt'), 'utf8'), 'plain');
  });
});
