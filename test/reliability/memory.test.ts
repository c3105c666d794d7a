// Issue 7, flat memory: 500 training iterations of a tiny pix2pix and 5,000 translate calls keep RSS flat after
// warm-up. Each loop runs in a fresh child process (memory_loops.ts), so the runner's own heap does not blur RSS.
// A failure reruns the loop with glibc's mmap threshold pinned, to tell a real leak of native tensors (grows either
// way) from the allocator keeping freed memory (flat when pinned); the message says which.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';

const LOOPS = path.join(__dirname, 'memory_loops.js');
const MB = 1024 * 1024;
/** Allowed RSS growth between the warm-up sample and the last one. */
const BOUND = 30 * MB;

interface LoopResult { samples: Array<[number, number]>; seconds: number }

function runLoop(what: string, count: number, every: number, env: Record<string, string> = {}): LoopResult {
  const r = spawnSync(process.execPath, [LOOPS, what, String(count), String(every)], {
    encoding: 'utf8', env: { ...process.env, IMG2IMG_THREADS: '2', ...env }, timeout: 240000,
  });
  if (r.status !== 0) throw new Error(`${what} loop failed (status ${r.status}, signal ${r.signal}):\n${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as LoopResult;
}

function rssAt(r: LoopResult, step: number): number {
  const s = r.samples.find(([i]) => i === step);
  if (!s) throw new Error(`no RSS sample at step ${step}`);
  return s[1];
}

function describeSamples(r: LoopResult): string {
  return r.samples.map(([i, rss]) => `${i}: ${(rss / MB).toFixed(1)} MB`).join(', ');
}

function checkFlat(what: string, count: number, every: number, from: number): void {
  const r = runLoop(what, count, every);
  const growth = rssAt(r, count) - rssAt(r, from);
  if (growth < BOUND) return;
  const pinned = runLoop(what, count, every, { MALLOC_MMAP_THRESHOLD_: '65536' });
  const pinnedGrowth = rssAt(pinned, count) - rssAt(pinned, from);
  const diagnosis = pinnedGrowth < BOUND
    ? 'With MALLOC_MMAP_THRESHOLD_=65536 the same loop stays flat, so no tensor leaks: glibc\'s dynamic mmap threshold ' +
      'keeps freed tensor buffers in the heap and RSS climbs without bound. Fix in the addon: call ' +
      'mallopt(M_MMAP_THRESHOLD, 64 * 1024) once at load (glibc only).'
    : 'It grows with the mmap threshold pinned too: something keeps native memory alive (a tensor not disposed?).';
  assert.fail(`RSS grew ${(growth / MB).toFixed(1)} MB between ${what} step ${from} and ${count} (bound ${BOUND / MB} MB; ` +
    `${r.seconds.toFixed(1)} s): ${describeSamples(r)}.\n${diagnosis}\nPinned run: grew ${(pinnedGrowth / MB).toFixed(1)} MB: ${describeSamples(pinned)}`);
}

describe('reliability: memory stays flat', function () {
  this.timeout(400000);

  it('500 training iterations of pix2pix (unet_128, ngf 4, 128x128): RSS growth between iteration 100 and 500 < 30 MB', () => {
    checkFlat('train', 500, 50, 100);
  });

  it('5,000 translate calls (resnet_6blocks, ngf 4, 32x32 raw): RSS growth between call 1,000 and 5,000 < 30 MB', () => {
    checkFlat('translate', 5000, 500, 1000);
  });
});
