/**
 * The shared fixtures: the reference's own checkpoints (zip and legacy .pth) must load bit-identical to their
 * safetensors twins, and the broken / hostile files must each be refused with their own message.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { readPthRaw, readSafetensorsRaw, readStateDictRaw, sniffCheckpointFormat } from '../../../src/checkpoint';
import { SHARED } from '../../helpers/paths';
import { assertSameStateDict } from './assert_state_dict';

const NETWORKS = path.join(SHARED, 'fixtures/parity/networks');
const BAD_INPUTS = path.join(SHARED, 'fixtures/bad_inputs');
const PWNED_MARKER = '/tmp/img2img_pwned_marker';

function caseFolders(): string[] {
  return fs
    .readdirSync(NETWORKS)
    .filter((name) => fs.existsSync(path.join(NETWORKS, name, 'weights.safetensors')))
    .sort();
}

describe('checkpoint fixtures', () => {
  describe('reference networks', () => {
    for (const name of caseFolders()) {
      const folder = path.join(NETWORKS, name);
      for (const file of ['weights.pth', 'weights_legacy.pth']) {
        const pthPath = path.join(folder, file);
        if (!fs.existsSync(pthPath)) continue;
        it(`${name}/${file} loads bit-identical to weights.safetensors`, () => {
          const expected = readSafetensorsRaw(path.join(folder, 'weights.safetensors')).tensors;
          const result = readPthRaw(pthPath);
          assert.strictEqual(result.format, file === 'weights.pth' ? 'zip' : 'legacy');
          assertSameStateDict(result.tensors, expected, pthPath);
          assert.deepStrictEqual(result.notes, []);
        });
      }

      it(`${name}: state dict keys match case.json`, () => {
        const caseInfo = JSON.parse(fs.readFileSync(path.join(folder, 'case.json'), 'utf8')) as { state_dict_keys?: string[] };
        const tensors = readStateDictRaw(path.join(folder, 'weights.safetensors')).tensors;
        if (caseInfo.state_dict_keys) assert.deepStrictEqual([...tensors.keys()], caseInfo.state_dict_keys);
      });
    }

    it('num_batches_tracked is an int64 scalar of shape []', () => {
      const { tensors, moduleVersions } = readPthRaw(path.join(NETWORKS, 'D_basic_batch_6ch/weights.pth'));
      const tracked = tensors.get('model.3.num_batches_tracked')!;
      assert.strictEqual(tracked.dtype, 'int64');
      assert.deepStrictEqual(tracked.shape, []);
      assert.strictEqual(tracked.data.length, 8);
      // the OrderedDict's _metadata survives as module versions: BatchNorm is version 2
      assert.strictEqual(moduleVersions['model.3'], 2);
      assert.strictEqual(moduleVersions['model.0'], 1);
    });

    it('sniffs each format from its bytes', () => {
      assert.strictEqual(sniffCheckpointFormat(path.join(NETWORKS, 'D_basic_batch_6ch/weights.pth')), 'zip');
      assert.strictEqual(sniffCheckpointFormat(path.join(NETWORKS, 'D_basic_batch_6ch/weights_legacy.pth')), 'legacy');
      assert.strictEqual(sniffCheckpointFormat(path.join(NETWORKS, 'D_basic_batch_6ch/weights.safetensors')), 'safetensors');
    });
  });

  describe('bad inputs', () => {
    before(() => fs.rmSync(PWNED_MARKER, { force: true }));
    after(() => assert.ok(!fs.existsSync(PWNED_MARKER), `${PWNED_MARKER} appeared: something executed the hostile pickle`));

    it('valid_conv.pth loads (weight [4,3,3,3], bias [4])', () => {
      const { tensors } = readStateDictRaw(path.join(BAD_INPUTS, 'valid_conv.pth'));
      assert.deepStrictEqual([...tensors.keys()], ['weight', 'bias']);
      assert.deepStrictEqual(tensors.get('weight')!.shape, [4, 3, 3, 3]);
      assert.deepStrictEqual(tensors.get('bias')!.shape, [4]);
      assert.strictEqual(tensors.get('weight')!.dtype, 'float32');
    });

    const refusals: Array<[string, RegExp]> = [
      ['truncated.pth', /truncated\.pth is truncated or damaged: Expected a zip end-of-central-directory record/],
      ['random_bytes.pth', /random_bytes\.pth is not a checkpoint: expected a PyTorch \.pth \(zip or legacy\) or \.safetensors file/],
      ['malicious_os_system.pth', /malicious_os_system\.pth is refused: it asks to call (os|posix)\.system, which a state dict never needs \(nothing from the file was executed\)/],
      ['malicious_os_system_legacy.pth', /malicious_os_system_legacy\.pth is refused: it asks to call (os|posix)\.system/],
    ];
    for (const [file, message] of refusals) {
      it(`${file} is refused with its own message naming the file`, () => {
        const full = path.join(BAD_INPUTS, file);
        assert.throws(() => readStateDictRaw(full), (err: Error) => {
          assert.match(err.message, message);
          assert.ok(err.message.includes(full), `message should name ${full}: ${err.message}`);
          return true;
        });
        assert.ok(!fs.existsSync(PWNED_MARKER));
      });
    }

    it('a missing file is reported with its name', () => {
      const missing = path.join(BAD_INPUTS, 'does_not_exist.pth');
      assert.throws(() => readStateDictRaw(missing), new RegExp(`checkpoint ${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} could not be read: ENOENT`));
    });

    it('an empty file is not a checkpoint', () => {
      assert.throws(() => readStateDictRaw(path.join(BAD_INPUTS, 'empty.jpg')), /empty\.jpg is not a checkpoint: .*the file is empty/);
    });
  });
});
