// The translate page in a real browser, on a small self-describing unet_256 generator (random weights: the test
// is about the page and the server, not the translation's quality; train mode, so that batch statistics give the
// output visible structure), and `img2img serve` as a process.
import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Browser, Page } from 'playwright-core';
import { saveNetworkCheckpoint } from '../../src/checkpoint/network_checkpoint';
import { startTranslateServer, TranslateServer } from '../../src/serve/translate_server';
import { defineG } from '../../src/networks';
import { manualSeed } from '../../src/runtime';
import { REPO_ROOT } from '../helpers/paths';
import { artifact, facadesLabelPng, launchBrowser, tmpDir, waitFor } from './browser';

// Browser globals inside page.evaluate (the project compiles without the DOM lib).
declare const document: any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The upload limit of the test server: above the label image, below the oversize upload. */
const LIMIT = 400_000;

async function pageState(page: Page): Promise<{ state: string; error: string; status: string; out: [number, number] }> {
  return page.evaluate(() => {
    const out = document.getElementById('output-img');
    const err = document.getElementById('error');
    return {
      state: document.body.getAttribute('data-state'),
      error: err.hidden ? '' : err.textContent,
      status: err.getAttribute('data-status') ?? '',
      out: [out.hidden ? 0 : out.naturalWidth, out.hidden ? 0 : out.naturalHeight],
    };
  });
}

describe('translate page in a browser (img2img serve)', function () {
  this.timeout(60_000);
  let browser: Browser;
  let root: string;
  let checkpoint: string;
  let server: TranslateServer;
  let page: Page;
  const errors: string[] = [];

  before(async function () {
    browser = await launchBrowser(this);
    root = tmpDir('serve');
    manualSeed(1);
    const g = defineG({ netG: 'unet_256', ngf: 8, norm: 'batch' });
    checkpoint = path.join(root, 'latest_net_G.pth');
    saveNetworkCheckpoint(g, checkpoint, { model: 'pix2pix' });
    g.dispose();
    server = await startTranslateServer({ checkpoint, port: 0, host: '127.0.0.1', maxUploadBytes: LIMIT, device: 'cpu', mode: 'train' });
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    page = await ctx.newPage();
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error' && !/status of (400|413)/.test(m.text())) errors.push(`console: ${m.text()}`); });
    await page.goto(server.url);
    await waitFor(async () => page.evaluate(() => document.getElementById('limit').textContent === '400 KB'), 10_000, 'the model description');
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('translates an uploaded facades label image into an image of the same size', async () => {
    const label = facadesLabelPng();
    assert.ok(label.length < LIMIT, `label image is ${label.length} bytes`);
    await page.setInputFiles('#file', { name: 'facade_label.png', mimeType: 'image/png', buffer: label });
    const s = await waitFor(async () => { const p = await pageState(page); return p.state === 'done' || p.state === 'error' ? p : null; }, 20_000, 'the translation');
    assert.strictEqual(s.error, '');
    assert.deepStrictEqual(s.out, [256, 256]);
    const input = await page.evaluate(() => [document.getElementById('input-img').naturalWidth, document.getElementById('input-img').naturalHeight]);
    assert.deepStrictEqual(input, [256, 256]);
    const caption = await page.evaluate(() => document.getElementById('output-caption').textContent);
    assert.match(caption, /^256×256 · \d+ ms$/);
    assert.strictEqual(await page.evaluate(() => document.getElementById('download').getAttribute('download')), 'facade_label_translated.png');
    await page.screenshot({ path: artifact('serve-result.png'), fullPage: true });
  });

  it('shows the 413 message in the page for an oversize upload', async () => {
    const big = Buffer.alloc(LIMIT * 3, 7);
    await page.setInputFiles('#file', { name: 'huge.png', mimeType: 'image/png', buffer: big });
    const s = await waitFor(async () => { const p = await pageState(page); return p.state === 'error' ? p : null; }, 20_000, 'the 413');
    assert.strictEqual(s.status, '413');
    assert.match(s.error, /Upload too large \(HTTP 413\):the upload is larger than the limit of 400 KB/);
    await page.screenshot({ path: artifact('serve-413.png'), fullPage: true });
  });

  it('shows the decoder message (HTTP 400) for a text file dropped on the page', async () => {
    const dataTransfer = await page.evaluateHandle(() => {
      const dt = new (globalThis as any).DataTransfer(); // eslint-disable-line @typescript-eslint/no-explicit-any
      dt.items.add(new (globalThis as any).File(['just some notes\n'], 'notes.txt', { type: 'text/plain' })); // eslint-disable-line @typescript-eslint/no-explicit-any
      return dt;
    });
    await page.dispatchEvent('#drop', 'drop', { dataTransfer });
    const s = await waitFor(async () => { const p = await pageState(page); return p.state === 'error' && p.status === '400' ? p : null; }, 20_000, 'the 400');
    assert.match(s.error, /HTTP 400\):notes\.txt is not an image: it starts with text "just some notes\\n"/);
    await page.screenshot({ path: artifact('serve-400.png'), fullPage: true });
    assert.deepStrictEqual(errors, []);
  });

  it('answers bad requests with JSON errors', async () => {
    const get = await fetch(`${server.url}translate`);
    assert.strictEqual(get.status, 405);
    const empty = await fetch(`${server.url}translate`, { method: 'POST', body: new Uint8Array(0) });
    assert.strictEqual(empty.status, 400);
    assert.match(((await empty.json()) as { error: string }).error, /is empty/);
    const chunked = await fetch(`${server.url}translate`, {
      method: 'POST', duplex: 'half',
      body: new ReadableStream({ start(c) { for (let i = 0; i < 10; i++) c.enqueue(new Uint8Array(LIMIT / 4)); c.close(); } }),
    } as RequestInit);
    assert.strictEqual(chunked.status, 413, 'a body without Content-Length is cut off while it streams');
    assert.strictEqual((await fetch(`${server.url}nothing`)).status, 404);
  });

  it('img2img serve prints its URL, serves the page and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'img2img.js'), 'serve', '--checkpoint', checkpoint, '--port', '0'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { err += c; });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const url = await waitFor(() => /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1], 20_000, `the URL (stderr: ${err})`);
    const res = await fetch(url);
    assert.strictEqual(res.status, 200);
    assert.match(await res.text(), /<title>img2img translate<\/title>/);
    child.kill('SIGTERM');
    assert.strictEqual(await exited, 0, err);
    assert.strictEqual(out.trim().split('\n').length, 1, `only the URL line on stdout: ${out}`);
  });
});
