// Issue 7, hostile and broken checkpoints: every .pth of shared/fixtures/bad_inputs is refused with an error naming
// it, without executing anything (the hostile pickles would `touch /tmp/img2img_pwned_marker` if unpickled by Python),
// through the readers, loadGenerator and `img2img test` on a run folder; a checkpoint of another architecture is
// explained ("looks like resnet_9blocks ... you asked for unet_256").
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { defineG, loadCheckpoint, loadGenerator, manualSeed, saveNetworkCheckpoint } from '../../src';
import { readStateDictRaw } from '../../src/checkpoint';
import { BAD_INPUTS, PWNED_MARKER, facadesDataset, runCli, tmpdir } from './helpers';

/** What each broken file must be refused for. */
const REFUSALS: Record<string, RegExp> = {
  'malicious_os_system.pth': /is refused: it asks to call posix\.system, which a state dict never needs \(nothing from the file was executed\)/,
  'malicious_os_system_legacy.pth': /is refused: it asks to call posix\.system, which a state dict never needs \(nothing from the file was executed\)/,
  'truncated.pth': /is truncated or damaged/,
  'random_bytes.pth': /is not a checkpoint: expected a PyTorch \.pth \(zip or legacy\) or \.safetensors file/,
  // Images given as checkpoints are refused alike.
  'empty.jpg': /is not a checkpoint: .*\(the file is empty\)/,
  'text_named.jpg': /is not a checkpoint/,
  'truncated.jpg': /is not a checkpoint/,
  'bomb_20000x20000.png': /is not a checkpoint/,
};

function escape(s: string): string { return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }

describe('reliability: hostile and broken checkpoints are refused, nothing is executed', function () {
  this.timeout(300000);
  const tmp = tmpdir('badckpt');
  const data = path.join(tmp, 'data');
  before(() => {
    facadesDataset(data, 1, 'test');
    fs.rmSync(PWNED_MARKER, { force: true });
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  afterEach(() => assert.ok(!fs.existsSync(PWNED_MARKER), `${PWNED_MARKER} appeared: a checkpoint executed code`));

  it('covers every checkpoint-like fixture', () => {
    const pths = fs.readdirSync(BAD_INPUTS).filter((f) => f.endsWith('.pth') && f !== 'valid_conv.pth');
    assert.deepStrictEqual(pths.filter((f) => !(f in REFUSALS)), [], 'a fixture without an expected refusal');
  });

  for (const [file, refusal] of Object.entries(REFUSALS)) {
    it(`${file}: readStateDictRaw, loadCheckpoint and loadGenerator refuse it, naming the file`, async () => {
      const full = path.join(BAD_INPUTS, file);
      const named = new RegExp(`${escape(full)}.*`);
      for (const [what, load] of [['readStateDictRaw', () => readStateDictRaw(full)], ['loadCheckpoint', () => loadCheckpoint(full)]] as const) {
        assert.throws(load, (err: Error) => {
          assert.match(err.message, named, what);
          assert.match(err.message, refusal, what);
          return true;
        });
      }
      await assert.rejects(loadGenerator(full), (err: Error) => {
        assert.match(err.message, named);
        assert.match(err.message, refusal);
        return true;
      });
    });
  }

  it('valid_conv.pth (a real Conv2d state dict) loads, and loadGenerator says it cannot tell which generator it is', async () => {
    const full = path.join(BAD_INPUTS, 'valid_conv.pth');
    const ck = loadCheckpoint(full);
    assert.deepStrictEqual(ck.tensors.get('weight')!.shape, [4, 3, 3, 3]);
    assert.deepStrictEqual(ck.tensors.get('bias')!.shape, [4]);
    await assert.rejects(loadGenerator(full), /cannot tell which generator \S+valid_conv\.pth holds .*: pass netG, ngf and norm/);
  });

  for (const file of ['malicious_os_system.pth', 'malicious_os_system_legacy.pth']) {
    it(`img2img test on a run folder whose latest_net_G.pth is ${file}: exit 1, refused, nothing executed`, async () => {
      const name = file.replace('.pth', '');
      const run = path.join(tmp, 'checkpoints', name);
      fs.mkdirSync(run, { recursive: true });
      fs.copyFileSync(path.join(BAD_INPUTS, file), path.join(run, 'latest_net_G.pth'));
      const r = await runCli(['test', '--dataroot', data, '--name', name, '--checkpoints_dir', path.join(tmp, 'checkpoints'),
        '--model', 'pix2pix', '--direction', 'BtoA', '--results_dir', path.join(tmp, 'results')]);
      assert.strictEqual(r.code, 1, r.out);
      assert.match(r.out, new RegExp(`img2img test: checkpoint \\S*${escape(path.join(name, 'latest_net_G.pth'))} is refused: it asks to call posix\\.system`));
      assert.doesNotMatch(r.out, /\n\s+at /, 'no stack trace');
      await assert.rejects(loadGenerator(run), /is refused: it asks to call posix\.system/);
    });
  }

  describe('a checkpoint of another architecture', () => {
    const run = path.join(tmp, 'checkpoints', 'resnet9');
    before(() => {
      fs.mkdirSync(run, { recursive: true });
      manualSeed(1);
      const g = defineG({ netG: 'resnet_9blocks', ngf: 8 });
      saveNetworkCheckpoint(g, path.join(run, 'latest_net_G.pth'), { model: 'test' });
      g.dispose();
      fs.rmSync(path.join(run, 'latest_net_G.json')); // a plain .pth, as Python's torch.save writes it
    });
    const MISMATCH = /does not fit the unet_256 generator[\s\S]*missing keys[\s\S]*unexpected keys[\s\S]*the checkpoint looks like resnet_9blocks, batch norm, ngf 8, 3->3 channels; you asked for unet_256/;

    it('loadGenerator(file, { netG: "unet_256" }) explains the mismatch', async () => {
      await assert.rejects(loadGenerator(path.join(run, 'latest_net_G.pth'), { netG: 'unet_256' }), MISMATCH);
    });

    it('img2img test --netG unet_256 explains the mismatch and exits 1', async () => {
      const r = await runCli(['test', '--dataroot', data, '--name', 'resnet9', '--checkpoints_dir', path.join(tmp, 'checkpoints'),
        '--model', 'pix2pix', '--netG', 'unet_256', '--results_dir', path.join(tmp, 'results')]);
      assert.strictEqual(r.code, 1, r.out);
      assert.match(r.out, MISMATCH);
    });
  });
});
