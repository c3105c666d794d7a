/** img2img download model fid-inception: from --mirror (a local server), into <checkpoints_dir>/fid_inception/. */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { encodePth } from '../../../src/checkpoint';
import { FID_WEIGHTS_FILE } from '../../../src/metrics/fid_weights_location';
import { fidInceptionUrl, FID_INCEPTION_BASE } from '../../../src/tools/catalog';
import { downloadCommand } from '../../../src/tools/download';
import { startServer } from '../tools/helpers/http_server';
import { captureIO } from '../tools/helpers/tool_io';

describe('metrics/download fid-inception', () => {
  it('downloads from <mirror>/fid_weights/<file>, keeps it when run again, defaults to GitHub', async () => {
    const body = Buffer.concat(encodePth([['x', { dtype: 'float32', shape: [1], data: Buffer.alloc(4) }]]));
    const server = await startServer({ [`/fid_weights/${FID_WEIGHTS_FILE}`]: { body } });
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-fid-dl-'));
    try {
      const args = ['model', 'fid-inception', '--mirror', server.url, '--checkpoints_dir', root];
      const io = captureIO();
      assert.strictEqual(await downloadCommand(args, io), 0, io.text());
      const file = path.join(root, 'fid_inception', FID_WEIGHTS_FILE);
      assert.deepStrictEqual(fs.readFileSync(file), body);
      const again = captureIO();
      assert.strictEqual(await downloadCommand(args, again), 0);
      assert.match(again.text(), /is already there/);
      assert.strictEqual(server.requests.length, 1);
    } finally {
      await server.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
    assert.strictEqual(fidInceptionUrl(FID_WEIGHTS_FILE, null, {}), `${FID_INCEPTION_BASE}/fid_weights/${FID_WEIGHTS_FILE}`);
    assert.strictEqual(fidInceptionUrl(FID_WEIGHTS_FILE, null, { IMG2IMG_MIRROR: 'http://m/' }), `http://m/fid_weights/${FID_WEIGHTS_FILE}`);
  });
});
