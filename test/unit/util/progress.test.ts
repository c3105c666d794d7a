/** The console progress bar: redrawn on a terminal, plain throttled lines otherwise. */
import * as assert from 'assert';
import { formatDuration, ProgressBar, ProgressStream } from '../../../src/util/progress';

function fakeStream(isTTY: boolean, columns = 120): ProgressStream & { text: string } {
  const stream = { text: '', isTTY, columns, write(chunk: string) { stream.text += chunk; return true; } };
  return stream;
}

describe('util/progress', () => {
  it('formats durations', () => {
    assert.deepStrictEqual([formatDuration(7), formatDuration(245), formatDuration(3723), formatDuration(NaN)], ['7s', '4m05s', '1h02m03s', '?']);
  });

  it('describes epoch, iteration, percentage, ETA and losses', () => {
    let now = 0;
    const bar = new ProgressBar({ total: 400, epoch: 3, lastEpoch: 200, stream: fakeStream(false), now: () => now });
    now = 30_000;
    bar.update(120, { G_GAN: 1.1294, G_L1: 35.884 });
    assert.strictEqual(bar.describe(10), 'epoch 3/200 [===>      ] 120/400 30% ETA 1m10s | G_GAN 1.129 G_L1 35.884');
  });

  it('without a terminal writes whole lines, at most one per interval, and a final one', () => {
    let now = 0;
    const stream = fakeStream(false);
    const bar = new ProgressBar({ total: 10, epoch: 1, lastEpoch: 2, stream, plainIntervalMs: 1000, now: () => now });
    for (let i = 1; i <= 10; i += 1) { now += 300; bar.update(i); }
    bar.finish();
    assert.ok(!stream.text.includes('\r'));
    const lines = stream.text.trimEnd().split('\n');
    assert.strictEqual(lines.length, 4); // t=300, 1500, 2700 and the final line
    assert.match(lines[lines.length - 1], /10\/10 100% took 3s$/);
  });

  it('on a terminal redraws one line in place and keeps log messages above it', () => {
    let now = 0;
    const stream = fakeStream(true, 80);
    const bar = new ProgressBar({ total: 4, epoch: 1, lastEpoch: 1, stream, redrawIntervalMs: 0, now: () => now });
    bar.update(1, { D: 0.5 });
    now += 1000;
    bar.log('[Rank 0] (epoch: 1, iters: 1, time: 0.100, data: 0.010) , D: 0.500');
    bar.update(4);
    bar.finish();
    assert.ok(stream.text.startsWith('\repoch 1/1 ['));
    assert.ok(stream.text.includes('\n[Rank 0] (epoch: 1') || stream.text.includes('\r[Rank 0] (epoch: 1'));
    assert.ok(stream.text.endsWith('\n'));
    for (const segment of stream.text.split(/[\r\n]/)) assert.ok(segment.length < 80, segment);
  });
});
