/**
 * Issue 15, items 9 and 11 end to end, and the catalogue checksums: `img2img download` against a local mirror
 * (127.0.0.1) must not accept a corrupt or cut archive as a good dataset, must compare SHA-256s when one is
 * known (or given), and must never leave a link pointing out of the dataset folder it creates.
 */
import * as assert from 'assert';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { PUBLISHED_SHA256 } from '../../../src/tools/catalog';
import { downloadCommand } from '../../../src/tools/download';
import { REPO_ROOT, SHARED } from '../../helpers/paths';
import { makeTarGz } from './helpers/archives';
import { startServer, TestServer } from './helpers/http_server';
import { captureIO, listTree, removeTempDirs, tempDir } from './helpers/tool_io';

const FACADES = '/pix2pix/datasets/facades.tar.gz';

describe('img2img download: checked archives and checksums (issue 15)', () => {
  let server: TestServer;
  let root: string;
  const good = makeTarGz([{ name: 'facades/train/1.jpg', data: randomBytes(20_000) }, { name: 'facades/test/1.jpg', data: randomBytes(20_000) }]);
  const goodSha = createHash('sha256').update(good).digest('hex');

  beforeEach(async () => {
    server = await startServer({ [FACADES]: { body: good } });
    root = tempDir('download-checks');
  });
  afterEach(async () => server.close());
  after(removeTempDirs);

  const datasets = () => path.join(root, 'datasets');
  const run = async (...args: string[]) => {
    const io = captureIO();
    const code = await downloadCommand(['dataset', 'facades', '--kind', 'pix2pix', ...args, '--mirror', server.url, '--datasets_dir', datasets(), '--retries', '0'], io);
    return { code, text: io.text() };
  };
  const leftovers = () => (fs.existsSync(datasets()) ? fs.readdirSync(datasets()) : []);

  it('a flipped byte in the gzip CRC fails the download; neither the archive nor a .part is kept', async () => {
    const flipped = Buffer.from(good);
    flipped[flipped.length - 6] ^= 0x01;
    server.routes.set(FACADES, { body: flipped });
    const { code, text } = await run();
    assert.strictEqual(code, 1, text);
    assert.match(text, /facades\.tar\.gz\.part is corrupt or truncated \(incorrect data check\)/);
    assert.deepStrictEqual(leftovers(), []);
  });

  it('4 KB of the archive then zeros, sent without Content-Length, fails the download', async () => {
    server.routes.set(FACADES, { body: Buffer.concat([good.subarray(0, 4096), Buffer.alloc(good.length - 4096)]), noLength: true });
    const { code, text } = await run();
    assert.strictEqual(code, 1, text);
    assert.match(text, /facades\.tar\.gz\.part is corrupt or truncated/);
    assert.deepStrictEqual(leftovers(), []);
  });

  it('says the SHA-256 is not known, and checks one given with --sha256 (a mismatch deletes the download)', async () => {
    let r = await run('--sha256', 'ab'.repeat(32));
    assert.strictEqual(r.code, 1, r.text);
    assert.match(r.text, new RegExp(`Expected SHA-256 ${'ab'.repeat(32)} for ${server.url}${FACADES} but received ${goodSha}; the download was deleted`));
    assert.deepStrictEqual(leftovers(), []);

    r = await run('--sha256', goodSha.toUpperCase(), '--keep_archive');
    assert.strictEqual(r.code, 0, r.text);
    assert.deepStrictEqual(listTree(path.join(datasets(), 'facades')), ['test/1.jpg', 'train/1.jpg']);

    // an archive already there is compared too
    fs.rmSync(path.join(datasets(), 'facades'), { recursive: true });
    r = await run('--sha256', 'cd'.repeat(32));
    assert.strictEqual(r.code, 1, r.text);
    assert.match(r.text, new RegExp(`Expected SHA-256 ${'cd'.repeat(32)} for \\S+facades\\.tar\\.gz but received ${goodSha}; delete it to download it again`));
  });

  it('without --sha256 the missing catalogue hash is reported; --no_checksum says the check is skipped', async () => {
    let r = await run();
    assert.strictEqual(r.code, 0, r.text);
    assert.match(r.text, /no true SHA-256 of \S+facades\.tar\.gz is known to this release/);
    fs.rmSync(path.join(datasets(), 'facades'), { recursive: true });
    r = await run('--no_checksum', '--sha256', 'ab'.repeat(32));
    assert.strictEqual(r.code, 0, r.text);
    assert.match(r.text, /--no_checksum: the SHA-256 of \S+ is not checked/);
  });

  it('refuses a malformed --sha256 as a usage error', async () => {
    const r = await run('--sha256', 'xyz');
    assert.strictEqual(r.code, 2, r.text);
    assert.match(r.text, /Expected 64 hexadecimal digits \(a SHA-256\) for --sha256 but received 'xyz'/);
  });

  it("refuses facades/up -> .., which would point at the datasets folder once facades/ is moved there", async () => {
    server.routes.set(FACADES, { body: makeTarGz([{ name: 'facades/train/1.jpg', data: 'x' }, { name: 'facades/up', type: '2', linkname: '..' }]) });
    const { code, text } = await run();
    assert.strictEqual(code, 1, text);
    assert.match(text, /entry 'facades\/up' is a symbolic link to '\.\.', which is outside the target folder once extracted; nothing was extracted/);
    assert.deepStrictEqual(leftovers(), ['facades.tar.gz']);
  });

  it('a checkpoint cut short without Content-Length is not kept as a model', async () => {
    const half = fs.readFileSync(path.join(SHARED, 'fixtures/bad_inputs/truncated.pth'));
    server.routes.set('/cyclegan/pretrained_models/horse2zebra.pth', { body: half, noLength: true });
    const io = captureIO();
    const code = await downloadCommand(['model', 'horse2zebra', '--mirror', server.url, '--checkpoints_dir', path.join(root, 'checkpoints'), '--retries', '0'], io);
    assert.strictEqual(code, 1, io.text());
    assert.match(io.text(), /horse2zebra\.pth did not send a PyTorch checkpoint: checkpoint \S+latest_net_G\.pth\.part is truncated/);
    assert.strictEqual(fs.existsSync(path.join(root, 'checkpoints')), false, 'nothing is kept');
  });

  it('the catalogue lists every published file, with no invented hash, and the README says so', () => {
    const values = Object.values(PUBLISHED_SHA256);
    assert.strictEqual(values.length, 5 + 14 + 5 + 18);
    for (const value of values) assert.ok(value === null || /^[0-9a-f]{64}$/.test(value), String(value));
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    if (values.some((value) => value === null)) assert.match(readme, /no true SHA-256 of the published files is known/i);
  });
});
