// The live training view in a real browser: a tiny pix2pix run on six facades images, watched by two browsers.
// The chart must gain points and the visuals must change while the run goes on, a watcher that connects late must
// get the whole history, and closing a watcher (or never reading) must not disturb the run.
import * as assert from 'assert';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';
import type { Browser, Page } from 'playwright-core';
import { Dashboard, startDashboard } from '../../src/dashboard/dashboard_server';
import type { OptionParser } from '../../src/options/option_parser';
import type { Options } from '../../src/options/parse_options';
import { parseOptionsWithParser } from '../../src/plugins';
import { StopSignal, runTrainingLoop } from '../../src/train/trainer';
import type { IterationInfo } from '../../src/train/trainer';
import { artifact, launchBrowser, makeFacadesSubset, tmpDir, waitFor } from './browser';

interface Sample { points: number; seq: string; src: string; state: string; epochText: string }

async function sample(page: Page): Promise<Sample> {
  return page.evaluate(() => {
    const img = document.querySelector('#visuals img');
    return {
      points: Number(document.getElementById('chart')!.getAttribute('data-points')),
      seq: document.getElementById('visuals')!.getAttribute('data-seq') ?? '',
      src: img ? img.getAttribute('src') ?? '' : '',
      state: document.getElementById('status')!.textContent ?? '',
      epochText: document.getElementById('p-epoch')!.textContent ?? '',
    };
  });
}

/** Page errors and console errors (a CSP violation shows up here). */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  return errors;
}

// Browser globals inside page.evaluate (the project compiles without the DOM lib).
declare const document: any; // eslint-disable-line @typescript-eslint/no-explicit-any

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('dashboard in a browser (img2img train --display_port)', function () {
  this.timeout(120_000);
  let browser: Browser;
  let root: string;

  before(async function () {
    browser = await launchBrowser(this);
    root = tmpDir('dashboard');
    makeFacadesSubset(path.join(root, 'data'), 6);
  });
  after(async () => {
    await browser?.close();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('shows live losses, visuals and progress to two watchers during a tiny pix2pix run', async () => {
    const argv = ['--dataroot', path.join(root, 'data'), '--name', 'dash', '--model', 'pix2pix', '--netG', 'unet_128',
      '--ngf', '8', '--ndf', '8', '--load_size', '128', '--crop_size', '128', '--n_epochs', '2', '--n_epochs_decay', '0',
      '--print_freq', '1', '--display_freq', '1', '--max_dataset_size', '6', '--num_threads', '0',
      '--checkpoints_dir', path.join(root, 'checkpoints'), '--seed', '1', '--display_port', '0', '--device', 'cpu'];
    const { opt, parser } = parseOptionsWithParser(argv, { isTrain: true });
    const d = await startDashboard({ port: 0, host: '127.0.0.1', opt });
    try {
      await watchRun(d, opt, parser);
    } finally {
      await d.close();
    }
  });

  /** Two browsers watch the run; the first from before it starts, the second joins and leaves mid-run. */
  async function watchRun(d: Dashboard, opt: Options, parser: OptionParser): Promise<void> {
    assert.match(d.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);

    const ctx1 = await browser.newContext({ viewport: { width: 1280, height: 1180 } });
    const page1 = await ctx1.newPage();
    const errors1 = watchErrors(page1);
    await page1.goto(d.url);
    await waitFor(async () => (await sample(page1)).state === 'waiting for training', 10_000, 'the waiting state');

    // Each step waits a little so that the watchers see the run move (the tiny run would otherwise end at once).
    const lines: string[] = [];
    let paused: Promise<void> | null = null;
    const iterations: IterationInfo[] = [];
    const callbacks = d.attach({
      log: (line) => lines.push(line),
      onIteration: async (info) => {
        iterations.push(info);
        await sleep(150);
        if (paused) await paused;
      },
    });
    const stop = new StopSignal();
    const run = runTrainingLoop(opt, callbacks, { parser, stop });
    let release = (): void => undefined;
    try {
      const samples: Sample[] = [];
      let page2: Page | null = null;
      let second: Sample | null = null;
      let errors2: string[] = [];
      let done = false;
      void run.then(() => { done = true; }, () => { done = true; });
      while (!done) {
        samples.push(await sample(page1));
        const last = samples[samples.length - 1];
        if (!page2 && last.points >= 4) {
          // A second browser joins mid-run: it must be handed the whole history so far, then follow along.
          paused = new Promise<void>((r) => { release = r; });
          const ctx2 = await browser.newContext({ viewport: { width: 1000, height: 800 } });
          page2 = await ctx2.newPage();
          errors2 = watchErrors(page2);
          await page2.goto(d.url);
          const joined = await waitFor(async () => { const s = await sample(page2!); return s.points > 0 ? s : null; }, 10_000, 'the second watcher');
          assert.ok(joined.points >= 4, `a late watcher starts with the history so far (${joined.points} points)`);
          second = await waitFor(async () => {
            const [a, b] = [await sample(page1), await sample(page2!)];
            return a.points === b.points ? b : null;
          }, 5000, 'both watchers to show the same points');
          release();
          paused = null;
        }
        if (page2 && !page2.isClosed() && last.points >= 9) {
          const s2 = await sample(page2);
          assert.ok(s2.points > second!.points, 'the second watcher follows along');
          await page1.screenshot({ path: artifact('dashboard-live.png'), fullPage: true });
          await page2.context().close(); // closing a watcher mid-run must not disturb training
        }
        await sleep(60);
      }
      const result = await run;
      assert.strictEqual(result.interrupted, false);
      assert.strictEqual(result.epochs, 2);
      assert.strictEqual(iterations.length, 12);
      assert.ok(page2 && page2.isClosed(), 'the second watcher was closed during the run');

      // The chart gained points over time, and the visuals changed (new seq and new image URLs) while training ran.
      const pointsSeen = [...new Set(samples.map((s) => s.points))];
      assert.ok(pointsSeen.length >= 5, `chart point counts seen: ${pointsSeen.join(', ')}`);
      for (let i = 1; i < samples.length; i++) assert.ok(samples[i].points >= samples[i - 1].points, 'points never go back');
      const seqs = new Set(samples.map((s) => s.seq).filter((s) => s !== '0'));
      const srcs = new Set(samples.map((s) => s.src).filter(Boolean));
      assert.ok(seqs.size >= 4, `visual sets seen: ${[...seqs].join(', ')}`);
      assert.ok(srcs.size >= 4, `image sources seen: ${srcs.size}`);

      const final = await waitFor(async () => { const s = await sample(page1); return s.points === 12 ? s : null; }, 5000, 'all 12 points');
      assert.strictEqual(final.epochText, '2 / 2');
      const page = await page1.evaluate(() => ({
        lines: [...document.querySelectorAll('#chart path.line')].map((p: any) => p.getAttribute('data-name')),
        legend: [...document.querySelectorAll('#legend button')].map((b: any) => b.getAttribute('data-name')),
        images: [...document.querySelectorAll('#visuals img')].map((i: any) => [i.alt, i.naturalWidth, i.naturalHeight]),
        lr: document.getElementById('p-lr')!.textContent,
        eta: document.getElementById('p-eta')!.textContent,
        netG: [...document.querySelectorAll('#options-table tr')].find((r: any) => r.firstElementChild?.textContent === 'netG')?.className,
        netGValue: [...document.querySelectorAll('#options-table tr')].find((r: any) => r.firstElementChild?.textContent === 'netG')?.children[1].textContent,
        epochs: document.querySelectorAll('#epochs-table tbody tr').length,
        swatch: document.querySelector('#legend .swatch')?.style.background ?? '',
      }));
      assert.deepStrictEqual(page.lines, ['G_GAN', 'G_L1', 'D_real', 'D_fake']);
      assert.deepStrictEqual(page.legend, ['G_GAN', 'G_L1', 'D_real', 'D_fake']);
      assert.deepStrictEqual(page.images, [['real_A', 128, 128], ['fake_B', 128, 128], ['real_B', 128, 128]]);
      assert.strictEqual(page.lr, '0.0002');
      assert.strictEqual(page.eta, 'done');
      assert.strictEqual(page.netGValue, 'unet_128');
      assert.strictEqual(page.netG, 'changed', 'netG differs from its default and is marked');
      assert.strictEqual(page.epochs, 2);
      assert.ok(page.swatch, 'legend colours are applied (no inline styles under the CSP)');

      // Log scale and smoothing redraw the same points.
      await page1.check('#logscale');
      await page1.locator('#smoothing').fill('0');
      await waitFor(async () => page1.evaluate(() => document.querySelectorAll('#chart path.raw').length === 0 &&
        /\(log\)/.test(document.querySelector('#chart text.title:last-of-type')?.textContent ?? '')), 5000, 'the log-scale redraw');
      await page1.locator('#legend button[data-name="G_GAN"]').click();
      await waitFor(async () => page1.evaluate(() => document.querySelectorAll('#chart path.line').length === 3), 5000, 'G_GAN hidden');
      await page1.screenshot({ path: artifact('dashboard-log.png'), fullPage: true });
      await page1.locator('#legend button[data-name="G_GAN"]').click();
      await page1.uncheck('#logscale');
      await page1.locator('#smoothing').fill('0.6');

      await d.close();
      await waitFor(async () => (await sample(page1)).state === 'finished', 5000, 'the finished state');
      await page1.screenshot({ path: artifact('dashboard-finished.png'), fullPage: true });
      assert.deepStrictEqual(errors1, []);
      assert.deepStrictEqual(errors2, []);
      assert.ok(!lines.some((l) => /^dashboard/.test(l)), 'the dashboard writes nothing to the run log');
      await ctx1.close();
    } finally {
      // After a failed assertion: stop the run (saving 'latest'), so that nothing trains after the test.
      release();
      stop.requested ??= 'test finished';
      await run.catch(() => undefined);
    }
  }

  it('charts --val_freq results per epoch with the latest and the best value, for watchers joining before and after', async () => {
    const opt = parseOptionsWithParser(['--dataroot', path.join(root, 'data'), '--name', 'val'], { isTrain: true }).opt;
    const d = await startDashboard({ port: 0, host: '127.0.0.1', opt });
    const page = await browser.newPage();
    const errors = watchErrors(page);
    try {
      await page.goto(d.url);
      await waitFor(async () => page.evaluate(() => document.getElementById('val-card').hidden === true), 5000, 'the hidden validation card');
      const seen: number[] = [];
      const callbacks = d.attach({ onValidation: (v) => { seen.push(v.epoch); } });
      const values = [24.1, 25.3, 24.9];
      for (let e = 1; e <= values.length; e++) {
        const best = { value: Math.max(...values.slice(0, e)), epoch: values.indexOf(Math.max(...values.slice(0, e))) + 1 };
        await callbacks.onValidation!({ epoch: e, totalIters: 10 * e, metric: 'psnr', value: values[e - 1], images: 4, seconds: 0.1, best, improved: best.epoch === e });
      }
      assert.deepStrictEqual(seen, [1, 2, 3], 'the caller\'s own onValidation still runs');
      const read = (p: Page) => p.evaluate(() => ({
        hidden: document.getElementById('val-card').hidden,
        points: document.getElementById('val-chart').getAttribute('data-points'),
        lines: document.querySelectorAll('#val-chart path.line').length,
        caption: document.getElementById('val-caption').textContent,
      }));
      const live = await waitFor(async () => { const r = await read(page); return r.points === '3' ? r : null; }, 5000, '3 validation points');
      assert.deepStrictEqual(live, { hidden: false, points: '3', lines: 1, caption: 'psnr 24.9 at epoch 3 · best 25.3 (epoch 2)' });
      const late = await browser.newPage();
      await late.goto(d.url);
      assert.deepStrictEqual(await waitFor(async () => { const r = await read(late); return r.points === '3' ? r : null; }, 5000, 'the late watcher'), live);
      await late.close();
      assert.deepStrictEqual(errors, []);
    } finally {
      await page.close();
      await d.close();
    }
  });

  it('drops a watcher that stops reading, keeps one that reads, and never blocks the steps', async () => {
    const opt = parseOptionsWithParser(['--dataroot', path.join(root, 'data'), '--name', 'slow'], { isTrain: true }).opt;
    const d = await startDashboard({ port: 0, host: '127.0.0.1', opt, maxClientBufferBytes: 256 * 1024 });
    const { port } = new URL(d.url);

    // A reader that takes everything, and a raw socket that sends the request and then never reads.
    let received = 0;
    const reader = await new Promise<http.IncomingMessage>((resolve) => http.get(`${d.url}events`, resolve));
    reader.on('data', (c: Buffer) => { received += c.length; });
    const stalled = net.connect(Number(port), '127.0.0.1');
    stalled.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    await new Promise((r) => stalled.once('data', r));
    stalled.pause();
    stalled.on('error', () => undefined); // the server resets it
    let stalledClosed = false;
    stalled.on('close', () => { stalledClosed = true; });
    await waitFor(() => d.stats().clients === 2, 5000, 'two watchers');

    // Many big loss records, pushed as fast as steps can go: ~1.7 KB each, ~10 MB in all, more than the socket buffers hold.
    const callbacks = d.attach({});
    const losses: Record<string, number> = {};
    for (let i = 0; i < 40; i++) losses[`loss_with_a_long_name_${i}`] = Math.PI * i;
    const started = Date.now();
    const steps = 6000;
    for (let i = 1; i <= steps; i++) {
      await callbacks.onIteration!({ epoch: 1, epochIter: i, totalIters: i, losses, lr: 0.0002, tComp: 0, tData: 0, epochSize: steps, lastEpoch: 1 });
    }
    const seconds = (Date.now() - started) / 1000;
    await waitFor(() => received > 6e6, 10_000, 'the reader to take every event');
    const stats = d.stats();
    assert.strictEqual(stats.dropped, 1, `dropped ${stats.dropped}`);
    assert.strictEqual(stats.clients, 1);
    assert.ok(seconds < 20, `${steps} steps took ${seconds} s`);
    stalled.resume();
    await waitFor(() => stalledClosed, 5000, 'the stalled socket to be closed');
    await d.close();
    reader.destroy();
  });
});
