// examples/server.ts driven over loopback (issue 5): translations, 400 for bad images, 413 for oversize bodies,
// concurrent requests.
import * as assert from 'assert';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { startServer, TranslationServer } from '../../examples/server';
import { defineG, saveNetworkCheckpoint } from '../../src';
import { decodeImage } from '../../src/data/image_io';
import { SHARED } from '../helpers/paths';

function post(url: string, body: Buffer): Promise<{ status: number; body: Buffer; type: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'Content-Length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), type: String(res.headers['content-type']) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('examples/server.ts over loopback', function () {
  this.timeout(120000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-srv-'));
  let srv: TranslationServer;
  before(async () => {
    const g = defineG({ netG: 'resnet_6blocks', ngf: 8, norm: 'instance' });
    saveNetworkCheckpoint(g, path.join(tmp, 'latest_net_G.pth'));
    g.dispose();
    srv = await startServer(tmp, 0, { maxUploadBytes: 200_000 });
  });
  after(async () => { await srv.close(); fs.rmSync(tmp, { recursive: true, force: true }); });

  it('translates an uploaded facades image to a PNG of the same size', async () => {
    const r = await post(`${srv.url}/translate`, fs.readFileSync(path.join(SHARED, 'datasets/facades/test/2.jpg')));
    assert.strictEqual(r.status, 200, r.body.toString());
    assert.strictEqual(r.type, 'image/png');
    const img = decodeImage(r.body, { name: 'response' });
    assert.deepStrictEqual([img.width, img.height], [512, 256]);
  });

  it('answers bad images with 400 and a message, oversize bodies with 413', async () => {
    const bad = await post(`${srv.url}/translate`, fs.readFileSync(path.join(SHARED, 'fixtures/bad_inputs/text_named.jpg')));
    assert.strictEqual(bad.status, 400);
    assert.match(JSON.parse(bad.body.toString()).error, /not an image|unrecognised|unknown format/i);
    const trunc = await post(`${srv.url}/translate`, fs.readFileSync(path.join(SHARED, 'fixtures/bad_inputs/truncated.jpg')));
    assert.strictEqual(trunc.status, 400);
    const big = await post(`${srv.url}/translate`, Buffer.alloc(300_000, 1));
    assert.strictEqual(big.status, 413);
  });

  it('serves concurrent requests', async () => {
    const img = fs.readFileSync(path.join(SHARED, 'datasets/cyclegan_facades/testB/1.jpg'));
    const rs = await Promise.all(Array.from({ length: 5 }, () => post(`${srv.url}/translate`, img)));
    for (const r of rs) assert.strictEqual(r.status, 200);
    assert.ok(rs.every((r) => r.body.equals(rs[0].body)), 'eval mode: identical outputs');
  });
});
