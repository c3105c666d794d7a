/**
 * tools/catalog and `img2img download` end to end against a local mirror: the reference's names and URLs,
 * the datasets/ and checkpoints/ layout, the architecture sidecar, hostile archives, and resuming.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import {
  CYCLEGAN_DATASETS, CYCLEGAN_MODELS, DEFAULT_MIRROR, findDataset, findModel, PIX2PIX_DATASETS, PIX2PIX_MODELS, resolveMirror,
} from '../../../src/tools/catalog';
import { downloadCommand } from '../../../src/tools/download';
import { SHARED } from '../../helpers/paths';
import { makeTarGz, makeZip } from './helpers/archives';
import { startServer, TestServer } from './helpers/http_server';
import { captureIO, listTree, removeTempDirs, tempDir } from './helpers/tool_io';

const VALID_PTH = path.join(SHARED, 'fixtures/bad_inputs/valid_conv.pth');

describe('tools/catalog', () => {
  it('lists the reference\'s published names', () => {
    assert.deepStrictEqual([...PIX2PIX_DATASETS], ['facades', 'night2day', 'edges2handbags', 'edges2shoes', 'maps']);
    assert.strictEqual(CYCLEGAN_DATASETS.length, 14);
    assert.strictEqual(CYCLEGAN_MODELS.length, 18);
    assert.deepStrictEqual([...PIX2PIX_MODELS], ['edges2shoes', 'sat2map', 'map2sat', 'facades_label2photo', 'day2night']);
  });

  it('builds the reference\'s URLs under the mirror', () => {
    assert.strictEqual(findDataset('edges2shoes', null, DEFAULT_MIRROR).url, 'http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/edges2shoes.tar.gz');
    assert.strictEqual(findDataset('horse2zebra', null, DEFAULT_MIRROR).url, 'http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/horse2zebra.zip');
    assert.strictEqual(findDataset('facades', 'cyclegan', DEFAULT_MIRROR).url, 'http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/facades.zip');
    assert.strictEqual(findModel('style_monet', null, DEFAULT_MIRROR).url, 'http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/style_monet.pth');
    assert.strictEqual(findModel('day2night', null, 'https://m.example/base').url, 'https://m.example/base/pix2pix/models-pytorch/day2night.pth');
  });

  it('needs --kind for names published as both kinds, and checks it', () => {
    assert.throws(() => findDataset('facades', null, DEFAULT_MIRROR), /^OptionError: Expected pix2pix or cyclegan for --kind but received nothing \('facades' is published as both/);
    assert.throws(() => findModel('sat2map', null, DEFAULT_MIRROR), /Expected pix2pix or cyclegan for --kind/);
    assert.throws(() => findDataset('night2day', 'cyclegan', DEFAULT_MIRROR), /Expected pix2pix \(the only kind 'night2day' is published as\) for --kind but received 'cyclegan'/);
  });

  it('refuses cityscapes for its license and lists valid names for unknown ones', () => {
    assert.throws(() => findDataset('cityscapes', null, DEFAULT_MIRROR), /not downloadable: the Cityscapes license/);
    assert.throws(() => findDataset('horse2zebr', null, DEFAULT_MIRROR), /Expected a published dataset name .* but received 'horse2zebr'; valid names:\n.*horse2zebra/s);
    assert.throws(() => findModel('nope', null, DEFAULT_MIRROR), /valid names:\n  CycleGAN models: apple2orange/);
  });

  it('takes the mirror from --mirror, then IMG2IMG_MIRROR, and checks it is http(s)', () => {
    assert.strictEqual(resolveMirror(null, {}), DEFAULT_MIRROR);
    assert.strictEqual(resolveMirror(null, { IMG2IMG_MIRROR: 'https://mirror.example/gans/' }), 'https://mirror.example/gans');
    assert.strictEqual(resolveMirror('http://a.example', { IMG2IMG_MIRROR: 'https://b.example' }), 'http://a.example');
    assert.throws(() => resolveMirror('ftp://x', {}), /Expected an http:\/\/ or https:\/\/ URL for --mirror but received 'ftp:\/\/x'/);
  });
});

describe('img2img download (local mirror)', () => {
  let server: TestServer;
  let root: string;
  const pix2pixFacades = makeTarGz([
    { name: 'facades/', type: '5' },
    { name: 'facades/train/1.jpg', data: 'train image' },
    { name: 'facades/test/1.jpg', data: 'test image' },
    { name: 'facades/val/1.jpg', data: 'val image' },
  ]);
  const horse2zebra = makeZip([
    { name: 'horse2zebra/' },
    { name: 'horse2zebra/trainA/h.jpg', data: 'horse', deflate: true },
    { name: 'horse2zebra/trainB/z.jpg', data: 'zebra', deflate: true },
  ]);

  beforeEach(async () => {
    server = await startServer({
      '/pix2pix/datasets/facades.tar.gz': { body: pix2pixFacades },
      '/cyclegan/datasets/horse2zebra.zip': { body: horse2zebra },
      '/cyclegan/datasets/apple2orange.zip': { body: makeZip([{ name: 'apple2orange/trainA/a.jpg', data: 'a' }, { name: '../evil', data: 'x' }]) },
      '/cyclegan/datasets/mini.zip': { body: makeZip([{ name: 'mini/link', symlink: '../../../etc' }]) },
      '/cyclegan/datasets/monet2photo.zip': { body: Buffer.from('<html><body>maintenance</body></html>') },
      '/cyclegan/pretrained_models/horse2zebra.pth': { body: fs.readFileSync(VALID_PTH) },
      '/pix2pix/models-pytorch/edges2shoes.pth': { body: fs.readFileSync(VALID_PTH) },
      '/cyclegan/pretrained_models/zebra2horse.pth': { body: Buffer.from('<html>not found</html>') },
    });
    root = tempDir('download');
  });
  afterEach(async () => server.close());
  after(removeTempDirs);

  const run = async (...args: string[]) => {
    const io = captureIO();
    const code = await downloadCommand([...args, '--mirror', server.url, '--datasets_dir', path.join(root, 'datasets'), '--checkpoints_dir', path.join(root, 'checkpoints')], io);
    return { code, io };
  };

  it('downloads and extracts a pix2pix dataset into datasets/<name>, deleting the archive', async () => {
    const { code, io } = await run('dataset', 'facades', '--kind', 'pix2pix');
    assert.strictEqual(code, 0, io.text());
    assert.deepStrictEqual(listTree(path.join(root, 'datasets')), ['facades/test/1.jpg', 'facades/train/1.jpg', 'facades/val/1.jpg']);
    assert.match(io.text(), /facades: 3 files .* aligned A\|B pairs/);
    assert.match(io.text(), /img2img train --dataroot .*facades --name facades_pix2pix --model pix2pix --direction BtoA/);
  });

  it('downloads a CycleGAN zip without --kind, and refuses to overwrite the folder afterwards', async () => {
    let { code, io } = await run('dataset', 'horse2zebra', '--keep_archive');
    assert.strictEqual(code, 0, io.text());
    assert.deepStrictEqual(listTree(path.join(root, 'datasets')), ['horse2zebra.zip', 'horse2zebra/trainA/h.jpg', 'horse2zebra/trainB/z.jpg']);
    ({ code, io } = await run('dataset', 'horse2zebra'));
    assert.strictEqual(code, 1);
    assert.match(io.text(), /horse2zebra already exists; remove it/);
  });

  it('usage errors exit 2: ambiguous name without --kind, unknown name, cityscapes, bad subcommand', async () => {
    let r = await run('dataset', 'facades');
    assert.strictEqual(r.code, 2);
    assert.match(r.io.text(), /img2img download: error: Expected pix2pix or cyclegan for --kind but received nothing/);
    r = await run('dataset', 'horses');
    assert.strictEqual(r.code, 2);
    assert.match(r.io.text(), /valid names:[\s\S]*CycleGAN datasets: apple2orange/);
    r = await run('dataset', 'cityscapes');
    assert.strictEqual(r.code, 2);
    assert.match(r.io.text(), /license/);
    r = await run('weights', 'x');
    assert.strictEqual(r.code, 2);
    assert.match(r.io.text(), /Expected dataset or model for img2img download but received 'weights'/);
    assert.strictEqual(server.requests.length, 0, 'no request for a usage error');
  });

  it('prints --help with the names and the --kind rule', async () => {
    const io = captureIO();
    assert.strictEqual(await downloadCommand(['--help'], io), 0);
    assert.match(io.text(), /usage: img2img download dataset\|model <name>/);
    assert.match(io.text(), /facades and maps are published both/);
    assert.match(io.text(), /--mirror URL/);
  });

  it('refuses a hostile archive naming the entry: nothing extracted, no folder, archive kept', async () => {
    for (const [name, entry] of [['apple2orange', '../evil'], ['mini', 'mini/link']] as const) {
      const { code, io } = await run('dataset', name);
      assert.strictEqual(code, 1, io.text());
      assert.ok(io.text().includes(`entry '${entry}'`), io.text());
      assert.match(io.text(), /nothing was extracted/);
      assert.strictEqual(fs.existsSync(path.join(root, 'datasets', name)), false);
    }
    assert.deepStrictEqual(fs.readdirSync(path.join(root, 'datasets')).sort(), ['apple2orange.zip', 'mini.zip']);
    assert.strictEqual(fs.existsSync(path.join(root, 'evil')), false);
  });

  it('rejects an error page served as the archive and does not keep it', async () => {
    const { code, io } = await run('dataset', 'monet2photo');
    assert.strictEqual(code, 1);
    assert.match(io.text(), /not a zip or tar\.gz archive: .*web page/);
    assert.strictEqual(fs.existsSync(path.join(root, 'datasets')), false, 'no empty datasets folder is left');
  });

  it('resumes a dataset download cut by the server on the next run', async () => {
    server.routes.get('/cyclegan/datasets/horse2zebra.zip')!.cutTimes = 1;
    let { code, io } = await run('dataset', 'horse2zebra', '--retries', '0');
    assert.strictEqual(code, 1);
    assert.match(io.text(), /was cut after .* resumes from it/);
    assert.ok(fs.existsSync(path.join(root, 'datasets', 'horse2zebra.zip.part')));
    ({ code, io } = await run('dataset', 'horse2zebra'));
    assert.strictEqual(code, 0, io.text());
    assert.match(server.requests[server.requests.length - 1].range ?? '', /^bytes=\d+-$/);
    assert.deepStrictEqual(listTree(path.join(root, 'datasets')), ['horse2zebra/trainA/h.jpg', 'horse2zebra/trainB/z.jpg']);
  });

  it('saves a CycleGAN generator as checkpoints/<name>_pretrained/latest_net_G.pth with its sidecar', async () => {
    const { code, io } = await run('model', 'horse2zebra');
    assert.strictEqual(code, 0, io.text());
    const folder = path.join(root, 'checkpoints', 'horse2zebra_pretrained');
    assert.ok(fs.readFileSync(path.join(folder, 'latest_net_G.pth')).equals(fs.readFileSync(VALID_PTH)));
    const sidecar = JSON.parse(fs.readFileSync(path.join(folder, 'latest_net_G.json'), 'utf8'));
    assert.deepStrictEqual(sidecar, {
      format: 'torch-img2img',
      version: 1,
      network: { kind: 'G', arch: 'resnet_9blocks', inputNc: 3, outputNc: 3, width: 64, norm: 'instance', useDropout: false, paddingType: 'reflect' },
      context: { model: 'test', source: `${server.url}/cyclegan/pretrained_models/horse2zebra.pth` },
    });
    assert.match(io.text(), /--name horse2zebra_pretrained --model test --no_dropout/);
    // a second run finds it and does not download again
    const before = server.requests.length;
    assert.strictEqual((await run('model', 'horse2zebra')).code, 0);
    assert.strictEqual(server.requests.length, before);
  });

  it('describes pix2pix generators as unet_256 with batch norm and dropout', async () => {
    const { code, io } = await run('model', 'edges2shoes');
    assert.strictEqual(code, 0, io.text());
    const sidecar = JSON.parse(fs.readFileSync(path.join(root, 'checkpoints', 'edges2shoes_pretrained', 'latest_net_G.json'), 'utf8'));
    assert.deepStrictEqual(sidecar.network, { kind: 'G', arch: 'unet_256', inputNc: 3, outputNc: 3, width: 64, norm: 'batch', useDropout: true, paddingType: 'reflect' });
    assert.strictEqual(sidecar.context.model, 'pix2pix');
  });

  it('does not relabel a generator of the other kind already downloaded under the same name', async () => {
    server.routes.set('/cyclegan/pretrained_models/sat2map.pth', { body: fs.readFileSync(VALID_PTH) });
    assert.strictEqual((await run('model', 'sat2map', '--kind', 'cyclegan')).code, 0);
    const { code, io } = await run('model', 'sat2map', '--kind', 'pix2pix');
    assert.strictEqual(code, 1);
    assert.match(io.text(), /already there but holds another generator \(resnet_9blocks, instance norm/);
    const sidecar = JSON.parse(fs.readFileSync(path.join(root, 'checkpoints', 'sat2map_pretrained', 'latest_net_G.json'), 'utf8'));
    assert.strictEqual(sidecar.network.arch, 'resnet_9blocks');
  });

  it('refuses a model file that is not a checkpoint, leaving nothing under its name', async () => {
    const { code, io } = await run('model', 'zebra2horse');
    assert.strictEqual(code, 1);
    assert.match(io.text(), /did not send a PyTorch checkpoint/);
    assert.strictEqual(fs.existsSync(path.join(root, 'checkpoints')), false, 'no empty folders are left');
  });

  it('uses IMG2IMG_MIRROR when --mirror is not given', async () => {
    const saved = process.env.IMG2IMG_MIRROR;
    process.env.IMG2IMG_MIRROR = server.url;
    try {
      const io = captureIO();
      const code = await downloadCommand(['model', 'horse2zebra', '--checkpoints_dir', path.join(root, 'env')], io);
      assert.strictEqual(code, 0, io.text());
      assert.ok(fs.existsSync(path.join(root, 'env', 'horse2zebra_pretrained', 'latest_net_G.pth')));
    } finally {
      if (saved === undefined) delete process.env.IMG2IMG_MIRROR;
      else process.env.IMG2IMG_MIRROR = saved;
    }
  });
});
