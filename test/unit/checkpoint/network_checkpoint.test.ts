// Self-describing checkpoints, conversion, and our .pth files in Python (issue 3): Python's torch builds the
// reference's ResnetGenerator (models/networks.py, as transcribed in scripts/reference_bench.py), loads our file with strict=True and gives
// the same output as our forward.
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { convertCheckpoint, defineG, loadCheckpoint, manualSeed, networkFromCheckpoint, noGrad, saveNetworkCheckpoint, Tensor } from '../../../src';
import { readStateDictRaw, writePthRaw } from '../../../src/checkpoint';
import { main as cli } from '../../../scripts/cli';
import { REPO_ROOT, SHARED } from '../../helpers/paths';

// The reference's ResnetGenerator comes from scripts/reference_bench.py, the project's transcription of
// models/networks.py (verified against the parity fixtures by its --check).
const REFERENCE_RESNET = `
import sys, torch
sys.path.insert(0, sys.argv[4])
import reference_bench
net = reference_bench.define_G(3, 3, 8, "resnet_6blocks", norm="instance")
net.load_state_dict(torch.load(sys.argv[1], map_location="cpu", weights_only=True), strict=True)
net.eval()
x = torch.load(sys.argv[2], weights_only=True)["x"]
with torch.no_grad(): y = net(x)
torch.save({"y": y}, sys.argv[3])
`;

describe('network checkpoints: self-describing, convert, Python interop', function () {
  this.timeout(120000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-ck-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a .pth we write loads into the reference ResnetGenerator in Python (strict) and gives our output', () => {
    manualSeed(4);
    const g = defineG({ netG: 'resnet_6blocks', ngf: 8, norm: 'instance' });
    const file = path.join(tmp, 'latest_net_G.pth');
    saveNetworkCheckpoint(g, file, { model: 'cycle_gan' });
    const x = Tensor.rand([1, 3, 32, 32]).mul(2).sub(1);
    writePthRaw(path.join(tmp, 'x.pth'), new Map([['x', { dtype: 'float32', shape: x.shape, data: x.toBytes() }]]));
    g.eval();
    const ours = noGrad(() => g.forward(x)).toFloat32Array();
    fs.writeFileSync(path.join(tmp, 'ref.py'), REFERENCE_RESNET);
    execFileSync('/usr/bin/python3', [path.join(tmp, 'ref.py'), file, path.join(tmp, 'x.pth'), path.join(tmp, 'y.pth'), path.join(REPO_ROOT, 'scripts')]);
    const y = readStateDictRaw(path.join(tmp, 'y.pth')).tensors.get('y')!;
    const theirs = new Float32Array(y.data.buffer.slice(y.data.byteOffset, y.data.byteOffset + y.data.byteLength));
    let worst = 0;
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
    assert.ok(worst < 1e-5, `max |diff| ${worst}`);
    g.dispose();
  });

  it('stores the network description (sidecar for .pth, metadata for .safetensors) and rebuilds from it', () => {
    const g = defineG({ netG: 'unet_128', ngf: 4, norm: 'batch', useDropout: true });
    const pth = path.join(tmp, 'g.pth');
    saveNetworkCheckpoint(g, pth, { direction: 'BtoA' });
    const ck = loadCheckpoint(pth);
    assert.strictEqual(ck.format, 'zip');
    assert.deepStrictEqual(ck.info?.network, g.description);
    assert.strictEqual(ck.info?.context?.direction, 'BtoA');
    const back = networkFromCheckpoint(pth);
    assert.strictEqual(back.describe(), g.describe());
    // convert both ways keeps tensors bit-exact and the description
    const st = path.join(tmp, 'g.safetensors');
    convertCheckpoint(pth, st);
    const viaSt = loadCheckpoint(st);
    assert.strictEqual(viaSt.format, 'safetensors');
    assert.deepStrictEqual(viaSt.info?.network, g.description);
    const pth2 = path.join(tmp, 'g2.pth');
    convertCheckpoint(st, pth2);
    const a = readStateDictRaw(pth).tensors, b = readStateDictRaw(pth2).tensors;
    assert.deepStrictEqual([...a.keys()], [...b.keys()]);
    for (const [k, t] of a) assert.ok(t.data.equals(b.get(k)!.data), k);
    assert.ok(fs.existsSync(path.join(tmp, 'g2.json')));
    g.dispose(); back.dispose();
  });

  it('img2img convert works from the command line and refuses non-checkpoints clearly', async () => {
    const out = path.join(tmp, 'conv.safetensors');
    const fixture = path.join(SHARED, 'fixtures/bad_inputs/valid_conv.pth');
    assert.strictEqual(await cli(['convert', fixture, out]), 0);
    assert.deepStrictEqual([...readStateDictRaw(out).tensors.keys()], ['weight', 'bias']);
    const bad = path.join(tmp, 'bad.pth');
    fs.writeFileSync(bad, 'hello');
    assert.strictEqual(await cli(['convert', bad, path.join(tmp, 'x.safetensors')]), 1);
  });
});
