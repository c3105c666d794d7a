/**
 * Write -> read round trips for both formats, bit-exact, in order, for every dtype and for the awkward shapes
 * (scalars, empty tensors, names that look like integers).
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  DType,
  DTYPES,
  dtypeSize,
  encodePth,
  numel,
  RawStateDict,
  RawTensor,
  readPthRaw,
  readSafetensorsRaw,
  readStateDictRaw,
  writePthRaw,
  writePthRawAsync,
  writeSafetensorsRaw,
  writeStateDictRaw,
  writeStateDictRawAsync,
} from '../../../src/checkpoint';
import { encodeStoredZip, ZipArchive } from '../../../src/checkpoint/zip';
import { assertSameStateDict } from './assert_state_dict';

/** Deterministic bytes so that every bit position is exercised. */
function patternTensor(dtype: DType, shape: number[], seed: number): RawTensor {
  const data = Buffer.alloc(numel(shape) * dtypeSize(dtype));
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + seed * 17 + 7) & 0xff;
  if (dtype === 'bool') for (let i = 0; i < data.length; i++) data[i] &= 1;
  return { dtype, shape, data };
}

function sampleStateDict(): RawStateDict {
  const tensors: RawStateDict = new Map();
  DTYPES.forEach((dtype, i) => tensors.set(`layer.${i}.${dtype}`, patternTensor(dtype, [2, 3, i + 1], i)));
  tensors.set('bn.num_batches_tracked', { dtype: 'int64', shape: [], data: Buffer.from([5, 0, 0, 0, 0, 0, 0, 0]) });
  tensors.set('empty', patternTensor('float32', [0, 4], 0));
  tensors.set('10', patternTensor('float32', [3], 1)); // integer-like names must keep their place
  tensors.set('2', patternTensor('float32', [1, 1, 1, 1, 5], 2));
  tensors.set('model.model.1.weight', patternTensor('float32', [64, 3, 4, 4], 3));
  return tensors;
}

describe('checkpoint round trips', () => {
  let folder: string;
  before(() => {
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-roundtrip-'));
  });
  after(() => fs.rmSync(folder, { recursive: true, force: true }));

  it('pth: write then read is bit-exact and keeps order', () => {
    const tensors = sampleStateDict();
    const file = path.join(folder, 'latest_net_G.pth');
    writePthRaw(file, tensors);
    const result = readPthRaw(file);
    assert.strictEqual(result.format, 'zip');
    assertSameStateDict(result.tensors, tensors, file);
  });

  it('pth: the archive folder is the file stem, entries are data.pkl, data/<sorted keys>, version', () => {
    const tensors = new Map([...sampleStateDict()].slice(0, 12));
    const archive = new ZipArchive(Buffer.concat(encodePth(tensors, { file: '/x/y/latest_net_D_A.pth' })), 'mem');
    const names = archive.entries.map((entry) => entry.name);
    assert.deepStrictEqual(names, [
      'latest_net_D_A/data.pkl',
      ...['0', '1', '10', '11', '2', '3', '4', '5', '6', '7', '8', '9'].map((key) => `latest_net_D_A/data/${key}`),
      'latest_net_D_A/version',
    ]);
    assert.strictEqual(archive.read('latest_net_D_A/version').toString(), '3\n');
    for (const entry of archive.entries) assert.strictEqual(entry.dataOffset % 64, 0, `${entry.name} data is 64-byte aligned`);
    const custom = new ZipArchive(Buffer.concat(encodePth(tensors, { archiveName: 'custom' })), 'mem');
    assert.ok(custom.has('custom/data.pkl'));
  });

  it('safetensors: write then read is bit-exact, keeps order and metadata', () => {
    const tensors = sampleStateDict();
    const file = path.join(folder, 'weights.safetensors');
    writeSafetensorsRaw(file, tensors, { format: 'pt', epoch: '7' });
    const result = readSafetensorsRaw(file);
    assertSameStateDict(result.tensors, tensors, file);
    assert.deepStrictEqual(result.metadata, { format: 'pt', epoch: '7' });
    const headerLength = Number(fs.readFileSync(file).readBigUInt64LE(0));
    assert.strictEqual(headerLength % 8, 0, 'header padded to a multiple of 8');
  });

  it('writeStateDictRaw picks the format from the extension; readStateDictRaw sniffs it', async () => {
    const tensors = sampleStateDict();
    const asPth = path.join(folder, 'misnamed.safetensors.bak');
    writeStateDictRaw(asPth, tensors, { ignored: 'yes' });
    const pth = readStateDictRaw(asPth);
    assert.strictEqual(pth.format, 'zip');
    assertSameStateDict(pth.tensors, tensors, asPth);

    const asSafetensors = path.join(folder, 'w.SafeTensors');
    await writeStateDictRawAsync(asSafetensors, tensors, { note: 'hi' });
    const st = readStateDictRaw(asSafetensors);
    assert.strictEqual(st.format, 'safetensors');
    assert.deepStrictEqual(st.metadata, { note: 'hi' });
    assertSameStateDict(st.tensors, tensors, asSafetensors);
  });

  it('accepts name/tensor pairs and refuses duplicates and inconsistent tensors', async () => {
    const weight = patternTensor('float32', [2], 0);
    const file = path.join(folder, 'pairs.pth');
    await writePthRawAsync(file, [
      ['b', weight],
      ['a', weight],
    ]);
    assert.deepStrictEqual([...readPthRaw(file).tensors.keys()], ['b', 'a']);
    assert.throws(() => writePthRaw(file, [['a', weight], ['a', weight]]), /the tensor name 'a' appears twice/);
    assert.throws(
      () => writePthRaw(file, [['short', { dtype: 'float32', shape: [3], data: Buffer.alloc(8) }]]),
      /pairs\.pth cannot be written: Expected 12 bytes \(3 float32\) for the data of 'short' but received 8 bytes/,
    );
    assert.throws(() => writeSafetensorsRaw(path.join(folder, 'x.safetensors'), [['w', { dtype: 'complex64' as DType, shape: [1], data: Buffer.alloc(8) }]]), /Expected one of float32.* for the dtype of 'w' but received 'complex64'/);
    assert.throws(() => writeSafetensorsRaw(path.join(folder, 'x.safetensors'), [['__metadata__', weight]]), /reserved/);
    assert.deepStrictEqual([...readPthRaw(file).tensors.keys()], ['b', 'a'], 'a refused write leaves the previous file');
  });

  it('a 64-byte aligned zip with zip64 fields reads back (threshold lowered to exercise the >4 GiB path)', () => {
    // Covered with Python's zipfile in python_interop.test.ts; here: our own reader.
    const entries = [
      { name: 'a/data.pkl', data: Buffer.from('hello') },
      { name: 'a/data/0', data: Buffer.alloc(300, 1) },
      { name: 'a/empty', data: Buffer.alloc(0) },
      { name: 'a/data/1', data: Buffer.alloc(100, 2) },
    ];
    const archive = new ZipArchive(Buffer.concat(encodeStoredZip(entries, { zip64Threshold: 200 })), 'zip64');
    for (const entry of entries) assert.ok(archive.read(entry.name).equals(entry.data), entry.name);
    assert.strictEqual(archive.entry('a/data/0')!.size, 300);
  });
});
