/** util/http_download against a local server: redirects, errors, cut bodies, resume with Range, progress. */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { DownloadError, downloadFile, formatBytes, parseContentRange, partFileOf } from '../../../src/util/http_download';
import { startServer, TestServer } from '../tools/helpers/http_server';
import { removeTempDirs, tempDir } from '../tools/helpers/tool_io';

function payload(size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + (i >> 8)) & 0xff;
  return out;
}

describe('util/http_download', () => {
  let server: TestServer;
  const body = payload(300_000);

  beforeEach(async () => {
    server = await startServer({ '/file.bin': { body } });
  });
  afterEach(async () => server.close());
  after(removeTempDirs);

  it('downloads to <target>.part and renames it when complete', async () => {
    const target = path.join(tempDir('dl'), 'file.bin');
    const result = await downloadFile(`${server.url}/file.bin`, target, { progress: null });
    assert.ok(fs.readFileSync(target).equals(body));
    assert.strictEqual(fs.existsSync(partFileOf(target)), false);
    assert.deepStrictEqual({ bytes: result.bytes, resumedFrom: result.resumedFrom, attempts: result.attempts }, { bytes: body.length, resumedFrom: 0, attempts: 1 });
  });

  it('follows redirects (relative and absolute) up to the bound, and refuses more', async () => {
    server.routes.set('/r1', { redirect: '/r2' });
    server.routes.set('/r2', { redirect: `${server.url}/file.bin` });
    const target = path.join(tempDir('dl'), 'file.bin');
    const result = await downloadFile(`${server.url}/r1`, target, { progress: null });
    assert.strictEqual(result.finalUrl, `${server.url}/file.bin`);
    assert.ok(fs.readFileSync(target).equals(body));

    server.routes.set('/loop', { redirect: '/loop' });
    await assert.rejects(downloadFile(`${server.url}/loop`, path.join(tempDir('dl'), 'x'), { progress: null, maxRedirects: 3 }), /too many redirects \(more than 3\)/);
  });

  it('fails clearly on HTTP errors, without retrying a 404 and without leaving a file', async () => {
    const dir = tempDir('dl');
    const target = path.join(dir, 'missing.zip');
    await assert.rejects(downloadFile(`${server.url}/missing.zip`, target, { progress: null, retryDelayMs: 1 }), (err: Error) => {
      assert.ok(err instanceof DownloadError);
      assert.match(err.message, /^HTTP 404 Not Found for http:\/\/127\.0\.0\.1:\d+\/missing\.zip/);
      assert.strictEqual(err.retryable, false);
      return true;
    });
    assert.strictEqual(server.requests.filter((r) => r.path === '/missing.zip').length, 1);
    assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => !f.endsWith('.part')), []);

    server.routes.set('/busy', { status: 503 });
    await assert.rejects(downloadFile(`${server.url}/busy`, target, { progress: null, retries: 2, retryDelayMs: 1 }), /HTTP 503/);
    assert.strictEqual(server.requests.filter((r) => r.path === '/busy').length, 3, 'a 503 is retried');
  });

  it('reports a body cut mid-way, keeps the .part, and resumes it with Range on the next call', async () => {
    server.routes.set('/cut.bin', { body, cutTimes: 1 });
    const target = path.join(tempDir('dl'), 'cut.bin');
    await assert.rejects(downloadFile(`${server.url}/cut.bin`, target, { progress: null, retries: 0 }), (err: Error) => {
      assert.ok(err instanceof DownloadError && err.retryable);
      assert.match(err.message, /was cut after .* of 300\.0 KB .*the next run resumes from it/);
      return true;
    });
    const partial = fs.statSync(partFileOf(target)).size;
    assert.ok(partial > 0 && partial < body.length, `partial size ${partial}`);
    assert.strictEqual(fs.existsSync(target), false, 'a cut download never gets its final name');

    const result = await downloadFile(`${server.url}/cut.bin`, target, { progress: null });
    assert.strictEqual(result.resumedFrom, partial);
    assert.strictEqual(server.requests[server.requests.length - 1].range, `bytes=${partial}-`);
    assert.ok(fs.readFileSync(target).equals(body), 'the resumed file equals the original');
  });

  it('resumes automatically within one call when retries are allowed', async () => {
    server.routes.set('/cut.bin', { body, cutTimes: 2 });
    const target = path.join(tempDir('dl'), 'cut.bin');
    const result = await downloadFile(`${server.url}/cut.bin`, target, { progress: null, retries: 3, retryDelayMs: 1 });
    assert.strictEqual(result.attempts, 3);
    assert.ok(fs.readFileSync(target).equals(body));
    assert.ok(server.requests.slice(1).every((r) => r.range?.startsWith('bytes=')));
  });

  it('starts over when the server ignores Range (200 instead of 206)', async () => {
    server.routes.set('/norange.bin', { body, ignoreRange: true });
    const target = path.join(tempDir('dl'), 'norange.bin');
    fs.writeFileSync(partFileOf(target), Buffer.from('stale bytes from another file'));
    const lines: string[] = [];
    await downloadFile(`${server.url}/norange.bin`, target, { progress: { write: (t) => lines.push(t) } });
    assert.ok(fs.readFileSync(target).equals(body), 'the stale prefix must not be kept');
    assert.ok(lines.some((l) => /does not support resuming; starting over/.test(l)), lines.join(''));
  });

  it('accepts a .part that is already complete (416 with the same total)', async () => {
    const target = path.join(tempDir('dl'), 'file.bin');
    fs.writeFileSync(partFileOf(target), body);
    const result = await downloadFile(`${server.url}/file.bin`, target, { progress: null });
    assert.strictEqual(result.resumedFrom, body.length);
    assert.ok(fs.readFileSync(target).equals(body));
  });

  it('deletes the .part when verification fails, and names unreachable servers', async () => {
    const target = path.join(tempDir('dl'), 'file.bin');
    await assert.rejects(
      downloadFile(`${server.url}/file.bin`, target, { progress: null, verify: () => { throw new Error('not what we wanted'); } }),
      /not what we wanted/,
    );
    assert.strictEqual(fs.existsSync(partFileOf(target)), false);
    assert.strictEqual(fs.existsSync(target), false);

    const closed = await startServer();
    const url = `${closed.url}/x`;
    await closed.close();
    await assert.rejects(downloadFile(url, target, { progress: null, retryDelayMs: 1 }), /cannot download .*ECONNREFUSED.*--mirror or IMG2IMG_MIRROR/);
  });

  it('draws a bar with \\r on a terminal and plain percentage lines otherwise', async () => {
    const tty: string[] = [];
    await downloadFile(`${server.url}/file.bin`, path.join(tempDir('dl'), 'a.bin'), { progress: { isTTY: true, columns: 100, write: (t) => tty.push(t) }, label: 'a.bin' });
    assert.ok(tty.some((t) => t.startsWith('\ra.bin [') && /300\.0 KB 100%/.test(t)), JSON.stringify(tty.slice(-3)));
    assert.match(tty[tty.length - 1], /a\.bin: 300\.0 KB downloaded in/);

    const plain: string[] = [];
    await downloadFile(`${server.url}/file.bin`, path.join(tempDir('dl'), 'b.bin'), { progress: { isTTY: false, write: (t) => plain.push(t) } });
    assert.ok(plain.every((t) => !t.includes('\r') && t.endsWith('\n')));
    assert.ok(plain.length <= 11, `at most one line per 10% plus the summary, got ${plain.length}`);
  });

  it('parses Content-Range and formats sizes', () => {
    assert.deepStrictEqual(parseContentRange('bytes 100-199/1000'), { start: 100, end: 199, total: 1000 });
    assert.deepStrictEqual(parseContentRange('bytes 0-9/*'), { start: 0, end: 9, total: null });
    assert.strictEqual(parseContentRange('items 1-2/3'), null);
    assert.strictEqual(formatBytes(999), '999 B');
    assert.strictEqual(formatBytes(1_500_000), '1.5 MB');
  });
});
