/**
 * Data-parallel training across processes on c10d/Gloo over loopback (issue 9), end to end through the CLI:
 * 2 processes × batch 1 give the weights of 1 process × batch 2; only rank 0 writes files; a killed or hung rank
 * makes the others fail fast with a clear error; three processes work; --norm syncbatch is refused.
 */
import * as assert from 'assert';
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readStateDictRaw } from '../../src/checkpoint';
import { freePort } from '../../src/distributed/launcher';
import { native } from '../../src/native';
import { REPO_ROOT, SHARED } from '../helpers/paths';

const CLI = path.join(REPO_ROOT, 'bin/img2img.js');
const LR = 0.0002;
// pix2pix, instance norm, no dropout, serial order, no flip, tiny unet_128 at 128×128 (load = crop: no random crop).
const TINY = ['--model', 'pix2pix', '--direction', 'BtoA', '--norm', 'instance', '--no_dropout', '--serial_batches', '--no_flip',
  '--netG', 'unet_128', '--ngf', '4', '--ndf', '4', '--load_size', '128', '--crop_size', '128', '--num_threads', '0',
  '--lr', String(LR), '--seed', '3', '--print_freq', '1', '--display_freq', '1000', '--save_epoch_freq', '100', '--no_html'];

/**
 * How far two runs that differ only in rounding can drift apart (2 processes × batch 1 sum their gradients in
 * another order than 1 process × batch 2, and on another CPU the kernels round differently again). Adam's step is
 * lr·m̂/(√v̂+ε); with β1 = 0.5, β2 = 0.999, |m̂|/√v̂ is at most 1 at step 1 and √5/3·√2 ≈ 1.054 at step 2
 * (Cauchy–Schwarz on m̂ = g1/3 + 2·g2/3 against v̂ ≈ (g1² + g2²)/2). Parameters whose true gradient is ~0 (conv
 * biases right before an InstanceNorm) get pure rounding noise, which Adam turns into full steps of either sign, so
 * the runs may take opposite steps there: after 2 steps no weight may differ by more than 2·lr·(1 + 1.054).
 */
const ADAM_DRIFT_BOUND = 2 * LR * (1 + Math.SQRT2 * Math.sqrt(5) / 3);
/**
 * Weights follow their true gradients, so nearly all agree to rounding: measured on an AVX2 EPYC, every weight
 * element of G and D within 1e-5 (worst differences of all parameters 7.1e-4 and 3.9e-4, on normed biases, under the bound
 * of 8.2e-4); the AVX-512 run that broke the old 1e-5 bound did so on a handful of elements. Requiring 99 % keeps a
 * wide margin and still fails the control below (a run with other batches: 17 % within 1e-5).
 */
const SHARE_WITHIN_1E5 = 0.99;

interface RunResult { status: number | null; signal: NodeJS.Signals | null; out: string; seconds: number }

function makeFacades(root: string, n: number): string {
  fs.mkdirSync(path.join(root, 'train'), { recursive: true });
  for (let i = 1; i <= n; i++) fs.copyFileSync(path.join(SHARED, 'datasets/facades/train', `${i}.jpg`), path.join(root, 'train', `${i}.jpg`));
  return root;
}

/** One img2img process, output collected; `onLine` sees every line as it arrives. */
function start(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, onLine?: (line: string, child: ChildProcess) => void):
  { child: ChildProcess; done: Promise<RunResult> } {
  const began = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, IMG2IMG_THREADS: '1', ...env } });
  let out = '';
  let pending = '';
  const take = (chunk: Buffer) => {
    out += chunk.toString();
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const l of lines) onLine?.(l, child);
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const done = new Promise<RunResult>((resolve) => child.on('close', (status, signal) =>
    resolve({ status, signal, out, seconds: (Date.now() - began) / 1000 })));
  return { child, done };
}

function run(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): RunResult {
  const began = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, IMG2IMG_THREADS: '1', ...env } });
  return { status: r.status, signal: r.signal, out: (r.stdout ?? '') + (r.stderr ?? ''), seconds: (Date.now() - began) / 1000 };
}

/**
 * Worst absolute difference between two checkpoints (with where it is), and the share of weight elements within 1e-5
 * (biases are left out of the share: many sit right before an InstanceNorm and carry only rounding noise).
 */
function compare(fileA: string, fileB: string): { diff: number; where: string; within1e5: number; count: number } {
  const a = readStateDictRaw(fileA).tensors, b = readStateDictRaw(fileB).tensors;
  assert.deepStrictEqual([...a.keys()], [...b.keys()]);
  const r = { diff: 0, where: '', within1e5: 0, count: 0 };
  for (const [key, ta] of a) {
    const tb = b.get(key)!;
    assert.strictEqual(ta.dtype, 'float32', key);
    const fa = new Float32Array(Uint8Array.from(ta.data).buffer), fb = new Float32Array(Uint8Array.from(tb.data).buffer);
    for (let i = 0; i < fa.length; i++) {
      const d = Math.abs(fa[i] - fb[i]);
      if (key.endsWith('.weight')) { r.count++; if (d <= 1e-5) r.within1e5++; }
      if (d > r.diff) { r.diff = d; r.where = `${key}[${i}]: ${fa[i]} vs ${fb[i]}`; }
    }
  }
  return r;
}

/** Child processes of `pid` (Linux /proc) with their RANK. */
function workersOf(pid: number): Array<{ pid: number; rank: number }> {
  const out: Array<{ pid: number; rank: number }> = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      const rank = fs.readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').find((v) => v.startsWith('RANK='));
      if (rank) out.push({ pid: Number(entry), rank: Number(rank.slice(5)) });
    } catch { /* exited meanwhile */ }
  }
  return out;
}

describe('distributed: data-parallel training on c10d/Gloo (loopback)', function () {
  this.timeout(120000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-ddp-'));
  const data = makeFacades(path.join(tmp, 'facades'), 4);
  const ckpt = (name: string, file: string) => path.join(tmp, 'checkpoints', name, file);
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  before(function () {
    if (!native().distributedBackends().gloo) throw new Error('this addon was built without c10d Gloo: apt-get install libgloo-dev and rebuild');
  });

  it('2 processes × batch 1 give the losses and (within Adam\'s rounding drift) the weights of 1 process × batch 2, and only rank 0 writes files', () => {
    const epochs = ['--n_epochs', '1', '--n_epochs_decay', '0'];
    const two = run(['train', '--dataroot', data, '--name', 'two', ...TINY, ...epochs, '--batch_size', '1', '--nproc_per_node', '2'], tmp);
    assert.strictEqual(two.status, 0, two.out);
    const one = run(['train', '--dataroot', data, '--name', 'one', ...TINY, ...epochs, '--batch_size', '2', '--threads', '1'], tmp);
    assert.strictEqual(one.status, 0, one.out);
    // Each rank trained its own shard: rank 1 printed its own records, with its own losses.
    assert.match(two.out, /starting 2 worker processes \(WORLD_SIZE=2, MASTER_ADDR=127\.0\.0\.1, MASTER_PORT=\d+, 1 thread\(s\) each\)/);
    assert.match(two.out, /distributed: gradients averaged over 2 processes in 1 bucket\(s\) per optimizer step/);
    const l1 = (rank: number) => [...two.out.matchAll(new RegExp(`\\[Rank ${rank}\\] \\(epoch: 1, iters: (\\d), .*G_L1: ([\\d.]+)`, 'g'))].map((m) => Number(m[2]));
    assert.strictEqual(l1(0).length, 2, two.out);
    assert.strictEqual(l1(1).length, 2, two.out);
    assert.notDeepStrictEqual(l1(0), l1(1));
    // Batch {0,1} then {2,3} in one process = rank 0 reading 0, 2 and rank 1 reading 1, 3: the mean L1 loss agrees.
    // Step 1 runs before any update, so it must agree to the printed precision (3 decimals: 2 × 0.0005 of rounding);
    // step 2 follows one update, which may differ by the drift above, so it gets twice that.
    const oneL1 = [...one.out.matchAll(/\[Rank 0\] \(epoch: 1, iters: \d, .*G_L1: ([\d.]+)/g)].map((m) => Number(m[1]));
    oneL1.forEach((v, k) => {
      const bound = k === 0 ? 1e-3 + 1e-9 : 2e-3;
      assert.ok(Math.abs(v - (l1(0)[k] + l1(1)[k]) / 2) <= bound, `step ${k + 1}: ${v} vs ranks ${l1(0)[k]}, ${l1(1)[k]}`);
    });

    for (const net of ['G', 'D']) {
      const r = compare(ckpt('one', `latest_net_${net}.pth`), ckpt('two', `latest_net_${net}.pth`));
      assert.ok(r.diff <= ADAM_DRIFT_BOUND, `net ${net}: worst difference ${r.diff} at ${r.where} (bound ${ADAM_DRIFT_BOUND})`);
      assert.ok(r.within1e5 >= SHARE_WITHIN_1E5 * r.count, `net ${net}: only ${r.within1e5} of ${r.count} elements within 1e-5`);
    }
    // Control: the bounds are not loose: one process with batch 1 (4 steps) ends far away.
    const single = run(['train', '--dataroot', data, '--name', 'single', ...TINY, ...epochs, '--batch_size', '1', '--threads', '1'], tmp);
    assert.strictEqual(single.status, 0, single.out);
    const control = compare(ckpt('one', 'latest_net_G.pth'), ckpt('single', 'latest_net_G.pth'));
    assert.ok(control.within1e5 < SHARE_WITHIN_1E5 * control.count, `control: ${control.within1e5} of ${control.count} within 1e-5`);

    // Files: rank 0's only (the same set a single process writes); rank 1 wrote nothing anywhere.
    assert.deepStrictEqual(fs.readdirSync(path.join(tmp, 'checkpoints/two')).sort(), fs.readdirSync(path.join(tmp, 'checkpoints/one')).sort());
    const log = fs.readFileSync(ckpt('two', 'loss_log.txt'), 'utf8');
    assert.match(log, /\[Rank 0\]/);
    assert.doesNotMatch(log, /\[Rank 1\]/);
  });

  it('three processes on loopback complete (4 images padded to 6: 2 per rank)', () => {
    const r = run(['train', '--dataroot', data, '--name', 'three', ...TINY, '--n_epochs', '1', '--n_epochs_decay', '0', '--nproc_per_node', '3'], tmp);
    assert.strictEqual(r.status, 0, r.out);
    for (const rank of [0, 1, 2]) assert.strictEqual((r.out.match(new RegExp(`\\[Rank ${rank}\\] \\(epoch: 1`, 'g')) ?? []).length, 2, r.out);
    assert.ok(fs.existsSync(ckpt('three', 'latest_net_G.pth')));
  });

  it('a killed rank makes the others fail fast with a clear error, and the launcher exits non-zero', async () => {
    const timeoutMs = 10000;
    let killedAt = 0;
    const { done } = start(['train', '--dataroot', data, '--name', 'killed', ...TINY, '--n_epochs', '10000', '--n_epochs_decay', '0', '--nproc_per_node', '2'],
      tmp, { IMG2IMG_DIST_TIMEOUT_MS: String(timeoutMs) }, (line, launcher) => {
        if (killedAt || !line.startsWith('[Rank 1] (epoch: 2')) return;
        const victim = workersOf(launcher.pid!).find((w) => w.rank === 1);
        assert.ok(victim, 'rank 1 is a child of the launcher');
        killedAt = Date.now();
        process.kill(victim.pid, 'SIGKILL');
      });
    const r = await done;
    const afterKill = (Date.now() - killedAt) / 1000;
    assert.ok(killedAt > 0, r.out);
    assert.strictEqual(r.status, 128 + 9, r.out);  // the cause: rank 1, SIGKILL (rank 0's exit 1 may be seen first)
    assert.match(r.out, /rank 1 was killed by SIGKILL/);
    assert.match(r.out, /img2img train: .*failed on rank 0 of 2 \(another rank exited, was killed or did not answer within 10000 ms; its own output says why\): .*(Connection closed by peer|Connection reset)/);
    assert.match(r.out, /rank 0 exited with code 1/);
    assert.ok(afterKill < timeoutMs / 1000 + 5, `rank 0 took ${afterKill} s to notice`);
  });

  it('a rank that stops answering (SIGSTOP) makes the others fail after the timeout (IMG2IMG_DIST_TIMEOUT_MS), as torchrun workers would', async () => {
    // Two workers started directly with torchrun's variables, as any launcher would.
    const port = await freePort();
    const timeoutMs = 3000;
    const env = (rank: number) => ({ WORLD_SIZE: '2', RANK: String(rank), LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), IMG2IMG_DIST_TIMEOUT_MS: String(timeoutMs) });
    const args = ['train', '--dataroot', data, '--name', 'hung', ...TINY, '--n_epochs', '10000', '--n_epochs_decay', '0'];
    let stoppedAt = 0;
    const rank1 = start(args, tmp, env(1), (line, child) => {
      if (stoppedAt || !line.startsWith('[Rank 1] (epoch: 2')) return;
      stoppedAt = Date.now();
      child.kill('SIGSTOP');
    });
    const rank0 = start(args, tmp, env(0));
    const r0 = await rank0.done;
    const afterStop = (Date.now() - stoppedAt) / 1000;
    rank1.child.kill('SIGKILL');
    await rank1.done;
    assert.ok(stoppedAt > 0, r0.out);
    assert.strictEqual(r0.status, 1, r0.out);
    assert.match(r0.out, /img2img train: .*failed on rank 0 of 2 \(another rank exited, was killed or did not answer within 3000 ms/);
    assert.ok(afterStop >= timeoutMs / 1000 - 0.5 && afterStop < timeoutMs / 1000 + 5, `rank 0 failed ${afterStop} s after rank 1 stopped`);
  });

  it('Ctrl-C to the launcher reaches every worker once: all stop at the same iteration, rank 0 saves latest, exit 130', async () => {
    let signalled = false;
    const { done } = start(['train', '--dataroot', data, '--name', 'interrupted', ...TINY, '--n_epochs', '10000', '--n_epochs_decay', '0', '--nproc_per_node', '2'],
      tmp, { IMG2IMG_DIST_TIMEOUT_MS: '10000' }, (line, launcher) => {
        if (signalled || !line.startsWith('[Rank 1] (epoch: 2')) return;
        signalled = true;
        launcher.kill('SIGINT');
      });
    const r = await done;
    assert.ok(signalled, r.out);
    assert.strictEqual(r.status, 130, r.out);
    // Had the ranks stopped at different iterations, the one still training would fail in its next all-reduce.
    assert.doesNotMatch(r.out, /failed on rank/);
    assert.match(r.out, /SIGINT: saving the latest model \(epoch \d+, total_iters \d+\)/);
    assert.ok(fs.existsSync(ckpt('interrupted', 'latest_state.safetensors')));
  });

  it('refuses --norm syncbatch across processes with a clear message (the reference\'s check is inverted)', () => {
    const r = run(['train', '--dataroot', data, '--name', 'sync', ...TINY, '--norm', 'syncbatch', '--nproc_per_node', '2'], tmp);
    assert.strictEqual(r.status, 2, r.out);
    assert.match(r.out, /Expected instance, batch or none for --norm but received 'syncbatch' \(--nproc_per_node 2: synchronized BatchNorm across processes is not implemented/);
  });
});
