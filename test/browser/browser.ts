// What the browser tests share: launching Debian's chromium headless (failing clearly when it is not installed), the
// artifacts folder for screenshots, and a small facades dataset / label image made from the shared fixtures.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import type { Browser } from 'playwright-core';
import { REPO_ROOT, SHARED } from '../helpers/paths';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
export const FACADES = path.join(SHARED, 'datasets', 'facades');

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run',
];

/** Launches headless chromium; a missing browser fails the suite with what to install (.ci/run installs it). */
export async function launchBrowser(_ctx: Mocha.Context): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`the browser tests need Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
  }
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export function artifact(name: string): string {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `img2img-${prefix}-`));
}

/** `<root>/train` with the first `n` facades training images (sorted by name). */
export function makeFacadesSubset(root: string, n: number): string {
  const src = path.join(FACADES, 'train');
  const dst = path.join(root, 'train');
  fs.mkdirSync(dst, { recursive: true });
  const files = fs.readdirSync(src).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort().slice(0, n);
  for (const f of files) fs.copyFileSync(path.join(src, f), path.join(dst, f));
  return root;
}

/** The right half (the label map) of a facades test image, as a 256x256 PNG. */
export function facadesLabelPng(file = path.join(FACADES, 'test', '1.jpg')): Buffer {
  const img = jpeg.decode(fs.readFileSync(file), { useTArray: true });
  const half = img.width / 2;
  const out = new PNG({ width: half, height: img.height });
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < half; x++) {
      const s = (y * img.width + half + x) * 4, d = (y * half + x) * 4;
      out.data[d] = img.data[s]; out.data[d + 1] = img.data[s + 1]; out.data[d + 2] = img.data[s + 2]; out.data[d + 3] = 255;
    }
  }
  return PNG.sync.write(out, { colorType: 2 });
}

/** Polls `fn` until it returns a truthy value or `ms` pass. */
export async function waitFor<T>(fn: () => Promise<T> | T, ms: number, what: string): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
