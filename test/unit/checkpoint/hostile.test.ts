/**
 * Hand-crafted hostile checkpoints: each must be refused with a message that names the file and the problem,
 * without executing anything and without allocating more than the file holds.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { readPthRaw, readStateDictRaw } from '../../../src/checkpoint';
import { encodeStoredZip } from '../../../src/checkpoint/zip';
import { SHARED } from '../../helpers/paths';

// --- a tiny pickle assembler ------------------------------------------------------------------------------------

const MARK = 0x28;
const STOP = 0x2e;
const TUPLE = 0x74;
const EMPTY_TUPLE = 0x29;
const EMPTY_DICT = 0x7d;
const EMPTY_LIST = 0x5d;
const APPEND = 0x61;
const REDUCE = 0x52;
const BUILD = 0x62;
const BINPERSID = 0x51;
const NEWFALSE = 0x89;
const SETITEMS = 0x75;
const SETITEM = 0x73;
const BINGET = 0x68;
const PROTO2 = [0x80, 2];

type Piece = number | number[] | Buffer;

function cat(...pieces: Piece[]): Buffer {
  return Buffer.concat(pieces.map((piece) => (Buffer.isBuffer(piece) ? piece : Buffer.from(typeof piece === 'number' ? [piece] : piece))));
}

function str(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(5);
  header[0] = 0x58; // BINUNICODE
  header.writeUInt32LE(bytes.length, 1);
  return cat(header, bytes);
}

function int(value: number | bigint): Buffer {
  const n = BigInt(value);
  if (n >= -(2n ** 31n) && n < 2n ** 31n) {
    const b = Buffer.alloc(5);
    b[0] = 0x4a; // BININT
    b.writeInt32LE(Number(n), 1);
    return b;
  }
  const bytes: number[] = [];
  let rest = n;
  for (;;) {
    bytes.push(Number(rest & 0xffn));
    rest >>= 8n;
    if ((rest === 0n && !(bytes[bytes.length - 1] & 0x80)) || (rest === -1n && bytes[bytes.length - 1] & 0x80)) break;
  }
  return cat(0x8a, bytes.length, bytes); // LONG1
}

function global(module: string, name: string): Buffer {
  return Buffer.from(`c${module}\n${name}\n`, 'latin1');
}

function tuple(values: Array<number | bigint>): Buffer {
  return cat(MARK, ...values.map(int), TUPLE);
}

interface TensorSpec {
  storageClass?: string;
  key?: string;
  numel: number | bigint;
  offset?: number | bigint;
  shape: Array<number | bigint>;
  stride: Array<number | bigint>;
}

function tensorValue(spec: TensorSpec): Buffer {
  return cat(
    global('torch._utils', '_rebuild_tensor_v2'),
    MARK,
    cat(MARK, str('storage'), global('torch', spec.storageClass ?? 'FloatStorage'), str(spec.key ?? '0'), str('cpu'), int(spec.numel), TUPLE, BINPERSID),
    int(spec.offset ?? 0),
    tuple(spec.shape),
    tuple(spec.stride),
    NEWFALSE,
    global('collections', 'OrderedDict'),
    EMPTY_TUPLE,
    REDUCE,
    TUPLE,
    REDUCE,
  );
}

function orderedDictPickle(entries: Array<[string, Buffer]>): Buffer {
  return cat(PROTO2, global('collections', 'OrderedDict'), EMPTY_TUPLE, REDUCE, MARK, ...entries.map(([key, value]) => cat(str(key), value)), SETITEMS, STOP);
}

function zipCheckpoint(pickle: Buffer, storages: Record<string, Buffer> = {}): Buffer {
  return Buffer.concat(
    encodeStoredZip([
      { name: 'hostile/data.pkl', data: pickle },
      ...Object.entries(storages).map(([key, data]) => ({ name: `hostile/data/${key}`, data })),
      { name: 'hostile/version', data: Buffer.from('3\n') },
    ]),
  );
}

const FOUR_FLOATS = Buffer.alloc(16, 0x3f);

function refuses(bytes: Buffer, message: RegExp): void {
  assert.throws(
    () => readPthRaw(bytes, { label: 'hostile.pth' }),
    (err: Error) => {
      assert.match(err.message, /hostile\.pth/);
      assert.match(err.message, message);
      return true;
    },
  );
}

describe('checkpoint: hostile pickles', () => {
  let arrayBuffersBefore: number;
  before(() => {
    arrayBuffersBefore = process.memoryUsage().arrayBuffers;
  });
  after(() => {
    const grown = process.memoryUsage().arrayBuffers - arrayBuffersBefore;
    assert.ok(grown < 64 * 1024 * 1024, `hostile inputs made ${grown} bytes of buffers`);
  });

  it('the assembler builds a checkpoint that loads (control case)', () => {
    const bytes = zipCheckpoint(orderedDictPickle([['w', tensorValue({ numel: 4, shape: [2, 2], stride: [2, 1] })]]), { '0': FOUR_FLOATS });
    const { tensors } = readPthRaw(bytes);
    assert.deepStrictEqual(tensors.get('w')!.shape, [2, 2]);
    assert.ok(tensors.get('w')!.data.equals(FOUR_FLOATS));
  });

  it('materializes strided views (transpose, offset, stride 0) by copying', () => {
    const storage = Buffer.alloc(6 * 4);
    for (let i = 0; i < 6; i++) storage.writeFloatLE(i, i * 4);
    const bytes = zipCheckpoint(
      orderedDictPickle([
        ['t', tensorValue({ numel: 6, shape: [3, 2], stride: [1, 3] })], // transpose of a 2x3
        ['s', tensorValue({ numel: 6, offset: 4, shape: [2], stride: [1] })],
        ['e', tensorValue({ numel: 6, offset: 5, shape: [2, 3], stride: [0, 0] })],
      ]),
      { '0': storage },
    );
    const { tensors } = readPthRaw(bytes);
    const floats = (name: string): number[] => {
      const data = tensors.get(name)!.data;
      return Array.from({ length: data.length / 4 }, (_, i) => data.readFloatLE(i * 4));
    };
    assert.deepStrictEqual(floats('t'), [0, 3, 1, 4, 2, 5]);
    assert.deepStrictEqual(floats('s'), [4, 5]);
    assert.deepStrictEqual(floats('e'), [5, 5, 5, 5, 5, 5]);
  });

  it('byte-swaps a checkpoint whose byteorder record says big', () => {
    const bigEndian = Buffer.alloc(8);
    bigEndian.writeFloatBE(1.5, 0);
    bigEndian.writeFloatBE(-2, 4);
    const pickle = orderedDictPickle([
      ['w', tensorValue({ numel: 2, shape: [2], stride: [1] })],
      ['u', tensorValue({ numel: 3, shape: [3], stride: [1], key: '1', storageClass: 'ByteStorage' })],
    ]);
    const bytes = Buffer.concat(
      encodeStoredZip([
        { name: 'be/data.pkl', data: pickle },
        { name: 'be/byteorder', data: Buffer.from('big') },
        { name: 'be/data/0', data: bigEndian },
        { name: 'be/data/1', data: Buffer.from([1, 2, 3]) },
      ]),
    );
    const { tensors } = readPthRaw(bytes);
    assert.deepStrictEqual([tensors.get('w')!.data.readFloatLE(0), tensors.get('w')!.data.readFloatLE(4)], [1.5, -2]);
    assert.deepStrictEqual([...tensors.get('u')!.data], [1, 2, 3]);
  });

  it('refuses a storage count larger than its data (no allocation)', () => {
    refuses(zipCheckpoint(orderedDictPickle([['w', tensorValue({ numel: 2n ** 50n, shape: [4], stride: [1] })]]), { '0': FOUR_FLOATS }), /Expected 1125899906842624 float32 elements .* in hostile\/data\/0 but it holds 16 bytes/);
    refuses(zipCheckpoint(orderedDictPickle([['w', tensorValue({ numel: 2n ** 62n, shape: [4], stride: [1] })]]), { '0': FOUR_FLOATS }), /Expected a non-negative integer for the element count of storage 0 but received 4611686018427387904/);
  });

  it('refuses strides and offsets that leave the storage', () => {
    refuses(zipCheckpoint(orderedDictPickle([['w', tensorValue({ numel: 4, shape: [4], stride: [1000] })]]), { '0': FOUR_FLOATS }), /tensor 'w' \(size \[4\], stride \[1000\], offset 0\) reaches element 3000 of storage 0, which has 4/);
    refuses(zipCheckpoint(orderedDictPickle([['w', tensorValue({ numel: 4, offset: 3, shape: [2], stride: [1] })]]), { '0': FOUR_FLOATS }), /reaches element 4 of storage 0, which has 4/);
    refuses(zipCheckpoint(orderedDictPickle([['w', tensorValue({ numel: 4, offset: 9, shape: [0], stride: [1] })]]), { '0': FOUR_FLOATS }), /reaches element 9/);
    refuses(zipCheckpoint(orderedDictPickle([['w', tensorValue({ numel: 4, shape: [2, 2], stride: [1] })]]), { '0': FOUR_FLOATS }), /has 2 sizes but 1 strides/);
  });

  it('refuses negative sizes, strides and offsets', () => {
    refuses(zipCheckpoint(orderedDictPickle([['w', tensorValue({ numel: 4, shape: [-1], stride: [1] })]]), { '0': FOUR_FLOATS }), /tensor 'w' \(size \[-1\].*has a negative size, stride or offset/);
    refuses(zipCheckpoint(orderedDictPickle([['w', tensorValue({ numel: 4, shape: [2], stride: [-1] })]]), { '0': FOUR_FLOATS }), /has a negative size, stride or offset/);
    refuses(zipCheckpoint(orderedDictPickle([['w', tensorValue({ numel: 4, offset: -2, shape: [2], stride: [1] })]]), { '0': FOUR_FLOATS }), /has a negative size, stride or offset/);
    refuses(zipCheckpoint(orderedDictPickle([['w', tensorValue({ numel: -4, shape: [2], stride: [1] })]]), { '0': FOUR_FLOATS }), /Expected a non-negative integer for the element count of storage 0 but received -4/);
  });

  it('refuses an expanded view that would need more memory than the file holds', () => {
    const oneFloat = Buffer.alloc(4);
    refuses(zipCheckpoint(orderedDictPickle([['w', tensorValue({ numel: 1, shape: [1e6, 1e6], stride: [0, 0] })]]), { '0': oneFloat }), /is refused: copying the strided tensor 'w' would need 4000000000000 more bytes, more than the \d+-byte file holds/);
    refuses(zipCheckpoint(orderedDictPickle([['w', tensorValue({ numel: 1, shape: [2n ** 40n, 2n ** 40n], stride: [0, 0] })]]), { '0': oneFloat }), /has more elements than any file can hold/);
  });

  it('refuses an unknown opcode, naming it and its position', () => {
    refuses(zipCheckpoint(cat(PROTO2, 0xff, STOP)), /Expected a pickle opcode but received unknown byte 0xff \(at byte 2 of its data\.pkl\)/);
  });

  it('refuses deep nesting without recursing', () => {
    refuses(zipCheckpoint(cat(PROTO2, Buffer.alloc(100_000, MARK), STOP)), /nests deeper than 1000 levels/);
    // nested lists need no MARK: 200k levels deep is built iteratively, then refused as not a dict
    const depth = 200_000;
    const nested = cat(PROTO2, Buffer.alloc(depth, EMPTY_LIST), Buffer.alloc(depth - 1, APPEND), STOP);
    refuses(zipCheckpoint(nested), /is not a state dict: Expected a dict of name -> tensor but received a list of 1 items/);
  });

  it('caps the pickle stack and memo', () => {
    refuses(zipCheckpoint(cat(PROTO2, Buffer.alloc((1 << 20) + 1, 0x4e), STOP)), /its pickle stack grows beyond 1048576 items/); // NONE x 2^20+1
    refuses(zipCheckpoint(cat(PROTO2, 0x4e, Buffer.alloc((1 << 20) + 1, 0x94), STOP)), /its pickle memo grows beyond 1048576 entries/); // MEMOIZE x 2^20+1
  });

  it('refuses lengths beyond the data and oversized integers', () => {
    const hugeString = cat(PROTO2, 0x58, [0xff, 0xff, 0xff, 0x7f], STOP);
    refuses(zipCheckpoint(hugeString), /is truncated: Expected 2147483647 more bytes at byte 7 of its data\.pkl but only 1 remain/);
    const hugeLong = cat(PROTO2, 0x8b, [0x00, 0x00, 0x00, 0x40], STOP);
    refuses(zipCheckpoint(hugeLong), /holds a 1073741824-byte integer/);
    const hugeMemoIndex = cat(PROTO2, 0x6a, [0xff, 0xff, 0xff, 0xff], STOP);
    refuses(zipCheckpoint(hugeMemoIndex), /Expected memo entry 4294967295 to exist but it was never stored/);
    const emptyStack = cat(PROTO2, REDUCE, STOP);
    refuses(zipCheckpoint(emptyStack), /Expected a value on the pickle stack but received an empty stack/);
  });

  it('refuses every global outside the allow-list, by name', () => {
    const cases: Array<[Buffer, string]> = [
      [global('builtins', 'eval'), 'builtins.eval'],
      [global('__builtin__', 'getattr'), '__builtin__.getattr'],
      [global('subprocess', 'Popen'), 'subprocess.Popen'],
      [global('os', 'system'), 'os.system'],
      [global('torch', 'load'), 'torch.load'],
      [cat(str('posix'), str('system'), 0x93), 'posix.system'], // STACK_GLOBAL (protocol 4)
    ];
    for (const [globalOp, name] of cases) {
      const pickle = cat(PROTO2, globalOp, str('touch /tmp/img2img_pwned_marker'), 0x85, REDUCE, STOP);
      refuses(zipCheckpoint(pickle), new RegExp(`is refused: it asks to call ${name.replace(/\./g, '\\.')}, which a state dict never needs \\(nothing from the file was executed\\)`));
    }
    // an allowed global used for something else
    refuses(zipCheckpoint(cat(PROTO2, global('torch', 'FloatStorage'), EMPTY_TUPLE, REDUCE, STOP)), /it asks to call torch\.FloatStorage \(byte 23 of its data\.pkl\)/);
    refuses(zipCheckpoint(cat(PROTO2, 0x69, Buffer.from('os\nsystem\n'), STOP)), /asks to call os\.system/); // INST
    assert.ok(!fs.existsSync('/tmp/img2img_pwned_marker'));
  });

  it('refuses BUILD on anything but an OrderedDict, and keeps _metadata harmlessly', () => {
    refuses(zipCheckpoint(cat(PROTO2, EMPTY_DICT, EMPTY_DICT, BUILD, STOP)), /asks to set the state of a dict of 0 entries/);
    const withMetadata = cat(
      orderedDictPickle([['w', tensorValue({ numel: 4, shape: [4], stride: [1] })]]).subarray(0, -1),
      EMPTY_DICT,
      str('_metadata'),
      global('collections', 'OrderedDict'),
      EMPTY_TUPLE,
      REDUCE,
      str('bn'),
      EMPTY_DICT,
      str('version'),
      int(2),
      SETITEM,
      SETITEM,
      SETITEM,
      BUILD,
      STOP,
    );
    const result = readPthRaw(zipCheckpoint(withMetadata, { '0': FOUR_FLOATS }));
    assert.deepStrictEqual(result.moduleVersions, { bn: 2 });
    assert.deepStrictEqual([...result.tensors.keys()], ['w']);
  });

  it('refuses a top object that is not a mapping of tensors; skips non-tensor entries with a note', () => {
    refuses(zipCheckpoint(cat(PROTO2, EMPTY_LIST, STOP)), /is not a state dict: Expected a dict of name -> tensor but received a list of 0 items/);
    const wrapped = cat(PROTO2, EMPTY_DICT, MARK, str('state_dict'), EMPTY_DICT, str('epoch'), int(3), SETITEMS, STOP);
    refuses(zipCheckpoint(wrapped), /its 2 entries hold no tensor \(skipped 'state_dict': a dict of 0 entries, not a tensor; skipped 'epoch': 3, not a tensor\); a checkpoint that wraps its state dict must be unwrapped first/);
    const mixed = orderedDictPickle([
      ['w', tensorValue({ numel: 4, shape: [4], stride: [1] })],
      ['lr', cat(0x47, Buffer.from([0x3f, 0x50, 0x62, 0x4d, 0xd2, 0xf1, 0xa9, 0xfc]))], // BINFLOAT 0.001
    ]);
    const result = readPthRaw(zipCheckpoint(mixed, { '0': FOUR_FLOATS }));
    assert.deepStrictEqual([...result.tensors.keys()], ['w']);
    assert.deepStrictEqual(result.notes, ["skipped 'lr': the float 0.001, not a tensor"]);
  });

  it('refuses a persistent id that is not a storage, and a missing storage entry', () => {
    refuses(zipCheckpoint(cat(PROTO2, str('x'), BINPERSID, STOP)), /Expected \('storage', type, key, location, numel\) as a persistent id but received 'x'/);
    refuses(zipCheckpoint(orderedDictPickle([['w', tensorValue({ numel: 4, shape: [4], stride: [1], key: '7' })]]), { '0': FOUR_FLOATS }), /is incomplete: Expected an entry hostile\/data\/7 in its zip archive/);
  });

  it('accepts protocol 4 framing, SHORT_BINUNICODE, MEMOIZE and BINGET', () => {
    const body = orderedDictPickle([['w', tensorValue({ numel: 4, shape: [4], stride: [1] })]]).subarray(2, -1);
    const pickle = cat([0x80, 4], 0x95, Buffer.alloc(8), 0x8c, 3, Buffer.from('abc'), 0x94, 0x30, body, BINGET, 0, 0x30, STOP);
    assert.deepStrictEqual([...readPthRaw(zipCheckpoint(pickle, { '0': FOUR_FLOATS })).tensors.keys()], ['w']);
  });

  it('refuses a damaged zip: CRC mismatch, truncation of the directory', () => {
    const valid = fs.readFileSync(path.join(SHARED, 'fixtures/bad_inputs/valid_conv.pth'));
    const flipped = Buffer.from(valid);
    flipped[0x1c0] ^= 0xff; // inside valid_conv/data/0
    assert.throws(() => readStateDictRaw(flipped, { label: 'flipped.pth' }), /checkpoint flipped\.pth is damaged: Expected CRC-32 0x[0-9a-f]{8} for zip entry valid_conv\/data\/0 but received 0x[0-9a-f]{8}/);
    const cut = valid.subarray(0, valid.length - 30);
    assert.throws(() => readStateDictRaw(cut, { label: 'cut.pth' }), /checkpoint cut\.pth is (truncated|damaged)/);
  });

  it('refuses a legacy checkpoint whose storage claims more data than the file holds', () => {
    const legacy = (count: bigint, storageNumel: number): Buffer => {
      const countBytes = Buffer.alloc(8);
      countBytes.writeBigInt64LE(count);
      const object = cat(
        PROTO2,
        EMPTY_DICT,
        str('w'),
        global('torch._utils', '_rebuild_tensor_v2'),
        MARK,
        cat(MARK, str('storage'), global('torch', 'FloatStorage'), str('93'), str('cpu'), int(storageNumel), 0x4e, TUPLE, BINPERSID),
        int(0),
        tuple([4]),
        tuple([1]),
        NEWFALSE,
        global('collections', 'OrderedDict'),
        EMPTY_TUPLE,
        REDUCE,
        TUPLE,
        REDUCE,
        SETITEM,
        STOP,
      );
      return cat(
        cat(PROTO2, 0x8a, 10, [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19], STOP),
        cat(PROTO2, 0x4d, [0xe9, 0x03], STOP),
        cat(PROTO2, EMPTY_DICT, STOP),
        object,
        cat(PROTO2, EMPTY_LIST, str('93'), APPEND, STOP),
        countBytes,
        FOUR_FLOATS,
      );
    };
    assert.deepStrictEqual(readPthRaw(legacy(4n, 4)).tensors.get('w')!.shape, [4]);
    assert.throws(() => readPthRaw(legacy(2n ** 60n, 4), { label: 'hostile.pth' }), /hostile\.pth is damaged or hostile: Expected 4 elements for storage 93 but its data says 1152921504606846976/);
    assert.throws(() => readPthRaw(legacy(2n ** 40n, 2 ** 40), { label: 'hostile.pth' }), /hostile\.pth is truncated: storage 93 needs bytes \d+\.\.\d+ but the file ends at \d+/);
  });
});
