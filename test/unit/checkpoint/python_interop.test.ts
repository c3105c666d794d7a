/**
 * Interop with the real thing (Python's torch 1.13): files torch.save writes must read correctly (BatchNorm with
 * `_metadata`, legacy format, pickle protocol 4, strided views, Parameters, a deflated re-pack), our writer must
 * produce torch.save's exact bytes, and torch.load(weights_only=True) must read what we write.
 * Skipped when no Python with torch is installed.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { encodePth, readPthRaw, readSafetensorsRaw, writePthRaw, writeSafetensorsRaw } from '../../../src/checkpoint';
import { encodeStoredZip } from '../../../src/checkpoint/zip';
import { PYTHON, runPython } from '../../helpers/run_python';
import { assertSameStateDict } from './assert_state_dict';

/** Python helpers shared by both scripts: a minimal safetensors writer so Python can hand us exact bytes. */
const PYTHON_PRELUDE = `
import collections, json, os, struct, sys, zipfile
import torch
CODES = {torch.float32: 'F32', torch.float64: 'F64', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int64: 'I64',
         torch.int32: 'I32', torch.int16: 'I16', torch.int8: 'I8', torch.uint8: 'U8', torch.bool: 'BOOL'}
def save_st(sd, path):
    header, blobs, offset = {}, [], 0
    for key, t in sd.items():
        t = t.detach().contiguous()
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b''
        header[key] = {'dtype': CODES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))
`;

const GENERATE = `
out = OUT
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.InstanceNorm2d(4, affine=True))
net.train()
net(torch.randn(2, 3, 8, 8))
sd = net.state_dict()
torch.save(sd, f'{out}/bn.pth')
torch.save(sd, f'{out}/bn_legacy.pth', _use_new_zipfile_serialization=False)
torch.save(sd, f'{out}/bn_proto4.pth', pickle_protocol=4)
torch.save(sd, f'{out}/bn_legacy_proto4.pth', _use_new_zipfile_serialization=False, pickle_protocol=4)
with zipfile.ZipFile(f'{out}/bn.pth') as src, zipfile.ZipFile(f'{out}/bn_deflated.pth', 'w', zipfile.ZIP_DEFLATED) as dst:
    for info in src.infolist():
        dst.writestr(info.filename, src.read(info.filename))
save_st(sd, f'{out}/bn.expected.safetensors')

base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
views = collections.OrderedDict()
views['base'] = base
views['transposed'] = base.t()
views['slice'] = base[1:3, 2:5]
views['row'] = base[2]
views['scalar'] = base[1, 1]
views['expanded'] = torch.arange(3.).expand(4, 3)
views['param'] = torch.nn.Parameter(torch.ones(2, 2))
views['half_t'] = torch.randn(3, 5).half().t()
views['permuted'] = torch.randn(2, 3, 4).permute(2, 0, 1)
torch.save(views, f'{out}/views.pth')
torch.save(views, f'{out}/views_legacy.pth', _use_new_zipfile_serialization=False)
save_st(views, f'{out}/views.expected.safetensors')

dt = collections.OrderedDict()
dt['f32'] = torch.randn(2, 3)
dt['f64'] = torch.randn(3).double()
dt['f16'] = torch.randn(4).half()
dt['bf16'] = torch.randn(5).bfloat16()
dt['i64'] = torch.arange(-3, 3)
dt['i32'] = torch.arange(-4, 4, dtype=torch.int32).reshape(2, 2, 2)
dt['i16'] = torch.arange(-2, 2, dtype=torch.int16)
dt['i8'] = torch.arange(-128, 128, dtype=torch.int8)
dt['u8'] = torch.arange(256, dtype=torch.uint8)
dt['bool'] = torch.tensor([True, False, True])
dt['nbt'] = torch.tensor(3)
dt['empty'] = torch.zeros(0, 2)
dt['big'] = torch.arange(70000, dtype=torch.float32)
for i in range(1100):
    dt[f'many.{i}.weight'] = torch.full((1, 2, 3, 4), float(i))
os.makedirs(f'{out}/torch')
torch.save(dt, f'{out}/torch/latest_net_G.pth')
save_st(dt, f'{out}/dtypes.expected.safetensors')
print(json.dumps({'bn_versions': {k: v.get('version') for k, v in sd._metadata.items()}}))
`;

const LOAD_OURS = `
out = OUT
report = {}
for name in ['latest_net_G.pth', 'bn.pth', 'views.pth']:
    sd = torch.load(f'{out}/ours/{name}', weights_only=True)
    report[name] = {'type': type(sd).__name__, 'requires_grad': any(t.requires_grad for t in sd.values())}
    save_st(sd, f'{out}/ours/{name}.back.safetensors')
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.InstanceNorm2d(4, affine=True))
net.load_state_dict(torch.load(f'{out}/ours/bn.pth', weights_only=True), strict=True)
report['bn_loaded_running_var'] = net[1].running_var.tolist()
with zipfile.ZipFile(f'{out}/ours/zip64.zip') as z:
    report['zip64'] = {'bad': z.testzip(), 'entries': [[i.filename, i.file_size, len(z.read(i.filename))] for i in z.infolist()]}
print(json.dumps(report))
`;

function pythonHasTorch(): boolean {
  if (!PYTHON) return false;
  try {
    runPython('import torch');
    return true;
  } catch {
    return false;
  }
}

function script(body: string, folder: string): string {
  return `${PYTHON_PRELUDE}\nOUT = ${JSON.stringify(folder)}\n${body}`;
}

describe('checkpoint: interop with Python torch', function () {
  let folder: string;
  let generated: { bn_versions: Record<string, number> };

  before(function () {
    assert.ok(pythonHasTorch(), 'this test needs Python torch (apt-get install python3-torch; .ci/run installs it)');
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-interop-'));
    generated = JSON.parse(runPython(script(GENERATE, folder)));
  });
  after(() => {
    if (folder) fs.rmSync(folder, { recursive: true, force: true });
  });

  const file = (name: string): string => path.join(folder, name);

  for (const name of ['bn.pth', 'bn_legacy.pth', 'bn_proto4.pth', 'bn_legacy_proto4.pth', 'bn_deflated.pth']) {
    it(`reads torch.save's ${name} (BatchNorm state dict with _metadata)`, () => {
      const result = readPthRaw(file(name));
      assertSameStateDict(result.tensors, readSafetensorsRaw(file('bn.expected.safetensors')).tensors, name);
      assert.deepStrictEqual(result.moduleVersions, generated.bn_versions);
      assert.strictEqual(result.moduleVersions['1'], 2, 'BatchNorm2d is version 2');
      assert.deepStrictEqual(result.tensors.get('1.num_batches_tracked')!.shape, []);
    });
  }

  for (const name of ['views.pth', 'views_legacy.pth']) {
    it(`materializes strided views, shared storages and Parameters from ${name}`, () => {
      const result = readPthRaw(file(name));
      assertSameStateDict(result.tensors, readSafetensorsRaw(file('views.expected.safetensors')).tensors, name);
    });
  }

  it('writes the same bytes as torch 1.13 torch.save(OrderedDict) (all dtypes, 1113 entries)', () => {
    const theirs = file('torch/latest_net_G.pth');
    const ours = file('ours/latest_net_G.pth');
    fs.mkdirSync(path.dirname(ours), { recursive: true });
    const read = readPthRaw(theirs);
    assertSameStateDict(read.tensors, readSafetensorsRaw(file('dtypes.expected.safetensors')).tensors, theirs);
    writePthRaw(ours, read.tensors);
    const expected = fs.readFileSync(theirs);
    const actual = fs.readFileSync(ours);
    if (!actual.equals(expected)) {
      const at = actual.findIndex((byte, i) => byte !== expected[i]);
      assert.fail(`our ${ours} differs from torch's at byte ${at} (sizes ${actual.length} vs ${expected.length})`);
    }
    // the same from tensors that come from elsewhere (views into a safetensors file)
    const fromSafetensors = readSafetensorsRaw(file('dtypes.expected.safetensors')).tensors;
    assert.ok(Buffer.concat(encodePth(fromSafetensors, { archiveName: 'latest_net_G' })).equals(expected));
  });

  it('torch.load(weights_only=True) reads our files as OrderedDicts, bit-exact; zip64 fields read with zipfile', () => {
    fs.mkdirSync(file('ours'), { recursive: true });
    const dtypes = readSafetensorsRaw(file('dtypes.expected.safetensors')).tensors;
    const bn = readSafetensorsRaw(file('bn.expected.safetensors')).tensors;
    const views = readPthRaw(file('views.pth')).tensors;
    writePthRaw(file('ours/latest_net_G.pth'), dtypes);
    writePthRaw(file('ours/bn.pth'), bn);
    writePthRaw(file('ours/views.pth'), views);
    writeSafetensorsRaw(file('ours/unused.safetensors'), bn);
    const zip64Entries = [
      { name: 'z/data.pkl', data: Buffer.from('pickle') },
      { name: 'z/data/0', data: Buffer.alloc(5000, 7) },
      { name: 'z/empty', data: Buffer.alloc(0) },
      { name: 'z/data/1', data: Buffer.alloc(10, 9) },
    ];
    fs.writeFileSync(file('ours/zip64.zip'), Buffer.concat(encodeStoredZip(zip64Entries, { zip64Threshold: 1000 })));

    const report = JSON.parse(runPython(script(LOAD_OURS, folder)));
    for (const [name, expected] of [
      ['latest_net_G.pth', dtypes],
      ['bn.pth', bn],
      ['views.pth', views],
    ] as const) {
      assert.deepStrictEqual(report[name], { type: 'OrderedDict', requires_grad: false }, name);
      assertSameStateDict(readSafetensorsRaw(file(`ours/${name}.back.safetensors`)).tensors, expected, `torch.load of our ${name}`);
    }
    const runningVar = bn.get('1.running_var')!.data;
    assert.deepStrictEqual(report.bn_loaded_running_var, Array.from({ length: 4 }, (_, i) => runningVar.readFloatLE(i * 4)));
    assert.deepStrictEqual(report.zip64, { bad: null, entries: zip64Entries.map((e) => [e.name, e.data.length, e.data.length]) });
  });
});
