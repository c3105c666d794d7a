// Issue 7, atomic saves: a kill -9 in the middle of a save leaves the previous checkpoint and training state complete
// and loadable, the unfinished temporary is never taken for a checkpoint, and the next run cleans it up.
// The kill lands inside the save for sure: IMG2IMG_FAULT_SAVE_DELAY_MS holds every write between "temporary file
// complete" and "rename" (see src/util/atomic_write.ts), and the test kills once the second save's first temporary
// exists.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { loadGenerator } from '../../src';
import { readStateDictRaw } from '../../src/checkpoint';
import { readTrainingStateMeta } from '../../src/train/training_state';
import { removeStaleTemporaries } from '../../src/util/atomic_write';
import { REPO_ROOT } from '../helpers/paths';
import { CliProcess, QUIET, TINY, facadesDataset, pollFor, runCli, sha256, temporaries, tmpdir } from './helpers';

describe('reliability: atomic checkpoints survive kill -9 in the middle of a save', function () {
  this.timeout(300000);
  const tmp = tmpdir('atomic');
  const data = path.join(tmp, 'facades');
  const checkpoints = path.join(tmp, 'checkpoints');
  const dir = path.join(checkpoints, 'run');
  const G = path.join(dir, 'latest_net_G.pth');
  const STATE = path.join(dir, 'latest_state.safetensors');
  const args = ['train', '--dataroot', data, '--name', 'run', '--checkpoints_dir', checkpoints, '--model', 'pix2pix', '--direction', 'BtoA',
    ...TINY, ...QUIET, '--n_epochs', '2', '--n_epochs_decay', '0', '--save_latest_freq', '2', '--print_freq', '1', '--seed', '3'];
  before(() => facadesDataset(data, 4));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  let firstG = '', firstState = '', leftover = '';

  it('SIGKILL while the second save is being written keeps latest_net_G.pth and latest_state.safetensors from the first', async () => {
    const child = new CliProcess(args, { env: { IMG2IMG_FAULT_SAVE_DELAY_MS: '1000' } });
    try {
      // The state file is the last one a save writes: once it exists, the first save (total_iters 2) is complete.
      await pollFor(() => fs.existsSync(STATE), 'the first save to complete');
      firstG = sha256(G);
      firstState = sha256(STATE);
      assert.strictEqual(readTrainingStateMeta(STATE).totalIters, 2);
      // The second save (total_iters 4) starts with the generator: kill while its temporary is written but not renamed.
      leftover = await pollFor(() => temporaries(dir).find((f) => f.startsWith('latest_net_G.pth.tmp-')), 'the second save to start');
      child.kill('SIGKILL');
    } finally {
      if (child.running) child.child.kill('SIGKILL');
    }
    const r = await child.exited;
    assert.strictEqual(r.signal, 'SIGKILL', r.out);
    assert.match(r.out, /saving the latest model \(epoch 1, total_iters 4\)/, 'the kill landed in the second save');

    assert.ok(fs.existsSync(path.join(dir, leftover)), 'the unfinished temporary is still there (nothing renamed it)');
    assert.strictEqual(sha256(G), firstG, 'latest_net_G.pth is the first save, byte for byte');
    assert.strictEqual(sha256(STATE), firstState, 'latest_state.safetensors is the first save, byte for byte');
    const g = readStateDictRaw(G);
    assert.ok(g.tensors.has('model.model.0.weight'), 'the previous generator loads');
    const meta = readTrainingStateMeta(STATE);
    assert.deepStrictEqual([meta.epoch, meta.epochIter, meta.totalIters, meta.epochComplete], [1, 2, 2, false]);
  });

  it('the temporary is never mistaken for a checkpoint: loadGenerator on the run folder reads latest_net_G.pth', async () => {
    const gen = await loadGenerator(dir);
    try {
      assert.strictEqual(gen.checkpoint, G);
      assert.strictEqual(gen.description.arch, 'unet_128');
    } finally {
      gen.dispose();
    }
  });

  it('--continue_train resumes from the first save, removes the stale temporary and finishes', async () => {
    const r = await runCli([...args, '--continue_train']);
    assert.strictEqual(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`removed 1 unfinished save\\(s\\) of an interrupted run: ${leftover.replace(/\./g, '\\.')}`));
    assert.match(r.out, /resuming from \S+latest_state\.safetensors: epoch 1 \(after 2 images\), total_iters 2,/);
    assert.deepStrictEqual(temporaries(dir), []);
    const meta = readTrainingStateMeta(STATE);
    assert.deepStrictEqual([meta.epoch, meta.totalIters, meta.epochComplete], [2, 8, true]);
  });

  it('removeStaleTemporaries removes only the temporaries of processes that are gone', () => {
    const folder = path.join(tmp, 'stale');
    fs.mkdirSync(folder);
    const deadPid = 4194304; // above the largest pid Linux hands out (pid_max <= 2^22)
    const names = {
      dead: `latest_net_G.pth.tmp-${deadPid}-0123456789ab`,
      live: `latest_net_G.pth.tmp-${process.ppid}-0123456789ab`, // the test runner's parent is alive
      own: `latest_state.safetensors.tmp-${process.pid}-0123456789ab`,
      other: 'latest_net_G.pth.tmp-notes',
    };
    for (const n of Object.values(names)) fs.writeFileSync(path.join(folder, n), 'x');
    assert.deepStrictEqual(removeStaleTemporaries(folder), [names.dead]);
    assert.deepStrictEqual(fs.readdirSync(folder).sort(), [names.live, names.own, names.other].sort());
    assert.deepStrictEqual(removeStaleTemporaries(path.join(tmp, 'no-such-folder')), []);
  });

  it('every file writer in src/ goes through writeFileAtomic, except the few that must not', () => {
    // Plain writes allowed, and why: the atomic writer itself; the loss log only appends (a torn last line is all a
    // crash can cost); archive extraction writes into a hidden temporary folder that is renamed into place at the end.
    const allowed = new Set(['src/util/atomic_write.ts', 'src/util/loss_log.ts', 'src/util/archive.ts']);
    const plain = /\bfs\.(?:promises\.)?(?:writeFileSync|writeFile|appendFileSync|appendFile|createWriteStream)\(|\bfs\.openSync\([^)]*'[wa]/;
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) walk(full);
        else if (e.name.endsWith('.ts')) {
          const rel = path.relative(REPO_ROOT, full).split(path.sep).join('/');
          fs.readFileSync(full, 'utf8').split('\n').forEach((line, i) => {
            if (plain.test(line) && !allowed.has(rel)) offenders.push(`${rel}:${i + 1}: ${line.trim()}`);
          });
        }
      }
    };
    walk(path.join(REPO_ROOT, 'src'));
    assert.deepStrictEqual(offenders, [], 'plain writes that a crash or a full disk could tear');
  });
});
