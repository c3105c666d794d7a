// The in-browser translate page (img2img serve --onnx) in headless Chromium: onnxruntime-web (WASM from
// node_modules) runs an exported generator on an uploaded image, and the page's output is compared with
// translate() of the same image. Random kaiming-initialized weights (the check is the pipeline, not quality).
import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { PNG } from 'pngjs';
import type { Browser, Page } from 'playwright-core';
import { saveNetworkCheckpoint } from '../../src/checkpoint/network_checkpoint';
import { exportOnnx } from '../../src/export/onnx_export';
import { OnnxPageServer, startOnnxPageServer } from '../../src/export/onnx_page_server';
import { Generator, loadGenerator } from '../../src/inference/generator';
import { defineG } from '../../src/networks';
import { manualSeed } from '../../src/runtime';
import { REPO_ROOT } from '../helpers/paths';
import { artifact, facadesLabelPng, launchBrowser, tmpDir, waitFor } from './browser';

declare const document: any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const window: any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare function atob(s: string): string;

/** A w x h crop of an RGB PNG from its top-left corner (a size that is not a multiple of 256). */
function cropPng(png: Buffer, w: number, h: number): Buffer {
  const src = PNG.sync.read(png);
  const out = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) src.data.copy(out.data, y * w * 4, y * src.width * 4, (y * src.width + w) * 4);
  return PNG.sync.write(out, { colorType: 2 });
}

describe('in-browser translate page (img2img serve --onnx, onnxruntime-web)', function () {
  this.timeout(90_000);
  let browser: Browser;
  let root: string;
  let g: Generator;
  let server: OnnxPageServer;
  let page: Page;
  let onnxFile: string;
  const errors: string[] = [];

  before(async function () {
    browser = await launchBrowser(this);
    root = tmpDir('onnx-page');
    manualSeed(3);
    const net = defineG({ netG: 'unet_256', ngf: 8, norm: 'batch', initType: 'kaiming' });
    const ck = path.join(root, 'latest_net_G.pth');
    saveNetworkCheckpoint(net, ck, { model: 'pix2pix' });
    net.dispose();
    g = await loadGenerator(ck, { device: 'cpu' });
    onnxFile = path.join(root, 'g.onnx');
    exportOnnx(g, onnxFile);
    server = await startOnnxPageServer({ onnx: onnxFile, port: 0, host: '127.0.0.1' });
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    page = await ctx.newPage();
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
    page.on('response', (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()} for ${r.url()}`); });
    page.on('request', (r) => { if (!r.url().startsWith(server.url) && !/^(blob|data):/.test(r.url())) errors.push(`off-site request: ${r.url()}`); });
    await page.goto(server.url);
    await waitFor(async () => page.evaluate(() => ['idle', 'error'].includes(document.body.getAttribute('data-state'))), 60_000, 'ONNX Runtime Web to load the model');
    assert.strictEqual(await page.evaluate(() => document.getElementById('error').textContent), '');
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    g?.dispose();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  /** Drops the file on the page as a drag-and-drop would (a DataTransfer holding it), or picks it with the file input. */
  async function giveImage(name: string, png: Buffer, how: 'drop' | 'choose'): Promise<void> {
    if (how === 'choose') { await page.setInputFiles('#file', { name, mimeType: 'image/png', buffer: png }); return; }
    const dt = await page.evaluateHandle(({ b64, n }: { b64: string; n: string }) => {
      const bytes = Uint8Array.from(atob(b64), (ch: string) => ch.charCodeAt(0));
      const t = new (window as any).DataTransfer();
      t.items.add(new (window as any).File([bytes], n, { type: 'image/png' }));
      return t;
    }, { b64: png.toString('base64'), n: name });
    await page.dispatchEvent('#drop', 'drop', { dataTransfer: dt });
  }

  async function translateInPage(name: string, png: Buffer, how: 'drop' | 'choose'): Promise<{ rgb: Uint8Array; width: number; height: number; caption: string }> {
    await giveImage(name, png, how);
    const state = await waitFor(async () => {
      const s = await page.evaluate(() => document.body.getAttribute('data-state'));
      return s === 'done' || s === 'error' ? s : null;
    }, 60_000, 'the in-browser translation');
    assert.strictEqual(state, 'done', await page.evaluate(() => document.getElementById('error').textContent));
    const url: string = await page.evaluate(() => window.img2imgOutput.toDataURL('image/png'));
    const out = PNG.sync.read(Buffer.from(url.split(',')[1], 'base64'));
    const rgb = new Uint8Array(out.width * out.height * 3);
    for (let p = 0; p < out.width * out.height; p++) for (let c = 0; c < 3; c++) rgb[p * 3 + c] = out.data[p * 4 + c];
    const caption: string = await page.evaluate(() => document.getElementById('output-caption').textContent);
    return { rgb, width: out.width, height: out.height, caption };
  }

  async function compareWithTranslate(name: string, png: Buffer, how: 'drop' | 'choose'): Promise<number> {
    const browserOut = await translateInPage(name, png, how);
    const ours = await g.translate(png, { output: 'raw' });
    assert.deepStrictEqual([browserOut.width, browserOut.height], [ours.width, ours.height]);
    assert.strictEqual(ours.channels, 3);
    let sum = 0;
    for (let i = 0; i < ours.data.length; i++) sum += Math.abs(ours.data[i] - browserOut.rgb[i]);
    const mean = sum / ours.data.length;
    assert.ok(new Set(ours.data).size > 32, 'the translation has structure (not a constant image)');
    assert.ok(mean <= 2, `mean abs difference ${mean.toFixed(4)}/255 between the page and translate()`);
    console.log(`      ${name} ${ours.width}x${ours.height}: mean abs ${mean.toFixed(4)}/255 vs translate() (${browserOut.caption})`);
    return mean;
  }

  it('translates a dropped facades label image like translate() (mean abs <= 2/255) and saves a screenshot for the docs', async () => {
    await compareWithTranslate('facade_label.png', facadesLabelPng(), 'drop');
    await page.screenshot({ path: artifact('onnx-page.png'), fullPage: true });
    // The docs' screenshot is refreshed on request only: a test run must leave the checkout as it found it.
    if (process.env.IMG2IMG_UPDATE_DOCS === '1') await page.screenshot({ path: path.join(REPO_ROOT, 'docs', 'onnx-browser.png'), fullPage: true });
  });

  it('pads a size that is not a multiple of the model and crops back, as translate() does', async () => {
    await compareWithTranslate('facade_crop.png', cropPng(facadesLabelPng(), 200, 136), 'choose');
  });

  it('loads nothing from other sites and logs no errors', () => {
    assert.deepStrictEqual(errors, []);
  });

  it('serves the runtime from node_modules and refuses other paths', async () => {
    const wasm = await fetch(`${server.url}ort/ort-wasm-simd-threaded.wasm`, { method: 'HEAD' });
    assert.strictEqual(wasm.status, 200);
    assert.strictEqual(wasm.headers.get('content-type'), 'application/wasm');
    assert.strictEqual((await fetch(`${server.url}ort/../package.json`)).status, 404);
    assert.strictEqual((await fetch(`${server.url}ort/ort.webgpu.min.js`)).status, 404);
    const info = await (await fetch(`${server.url}model.json`)).json() as { sizeMultiple: number; file: string };
    assert.deepStrictEqual([info.sizeMultiple, info.file], [256, 'g.onnx']);
  });

  it('answers odd request targets (GET //, absolute form) with 404s and stays up, as the other servers do', async () => {
    const { port } = new URL(server.url);
    for (const target of ['//', 'http://example.invalid//x', '/%zz']) {
      const status = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
        let reply = '';
        socket.on('data', (c: Buffer) => { reply += c.toString('latin1'); });
        socket.on('end', () => resolve(reply.split('\r\n')[0]));
        socket.on('error', reject);
      });
      assert.strictEqual(status, 'HTTP/1.1 404 Not Found', target);
    }
    assert.strictEqual((await fetch(`${server.url}model.json`)).status, 200);
  });

  it('img2img serve --onnx prints its URL, serves the page and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'img2img.js'), 'serve', '--onnx', onnxFile, '--port', '0'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { err += c; });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const url = await waitFor(() => /(http:\/\/\S+\/)/.exec(out)?.[1], 20_000, `the URL line (stderr: ${err})`);
    const html = await (await fetch(url)).text();
    assert.match(html, /ort\/ort\.wasm\.min\.js/);
    child.kill('SIGTERM');
    assert.strictEqual(await exited, 0, err);
  });
});
