/**
 * The safetensors reader checks every header field against the file, like the reference implementation, and keeps
 * the tensors in the order of their data.
 */
import * as assert from 'assert';
import { readSafetensorsRaw, readStateDictRaw } from '../../../src/checkpoint';

/** A safetensors file from a header object (serialized as given) and data bytes; `declaredLength` can lie. */
function safetensorsFile(header: unknown, data: Buffer, declaredLength?: bigint): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(declaredLength ?? BigInt(json.length));
  return Buffer.concat([length, json, data]);
}

function refuses(bytes: Buffer, message: RegExp): void {
  assert.throws(() => readSafetensorsRaw(bytes, { label: 'w.safetensors' }), (err: Error) => {
    assert.match(err.message, /^checkpoint w\.safetensors /);
    assert.match(err.message, message);
    return true;
  });
}

describe('checkpoint: safetensors validation', () => {
  it('returns tensors in data order, not header order, with metadata', () => {
    const header = {
      b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
      __metadata__: { epoch: '3' },
      a: { dtype: 'I64', shape: [], data_offsets: [0, 8] },
      z: { dtype: 'BOOL', shape: [0], data_offsets: [12, 12] },
    };
    const result = readSafetensorsRaw(safetensorsFile(header, Buffer.alloc(12, 1)));
    assert.deepStrictEqual([...result.tensors.keys()], ['a', 'b', 'z']);
    assert.deepStrictEqual(result.metadata, { epoch: '3' });
    assert.deepStrictEqual(result.tensors.get('a')!.shape, []);
    assert.strictEqual(result.tensors.get('z')!.data.length, 0);
  });

  it('refuses a file shorter than its length prefix or header', () => {
    refuses(Buffer.alloc(5), /is truncated: Expected at least 8 bytes for a safetensors file but received 5/);
    refuses(safetensorsFile({}, Buffer.alloc(0), 1000n), /is truncated: Expected a 1000-byte safetensors header but the file has 10 bytes/);
    refuses(safetensorsFile({}, Buffer.alloc(0), 2n ** 40n), /is refused: Expected a safetensors header of at most 100000000 bytes but received 1099511627776/);
  });

  it('refuses a header that is not a JSON object', () => {
    refuses(safetensorsFile('{"a": ', Buffer.alloc(0)), /is damaged: its safetensors header is not valid JSON/);
    refuses(safetensorsFile('[1,2]', Buffer.alloc(0)), /Expected a JSON object for its safetensors header but received \[1,2\]/);
  });

  it('refuses unknown dtypes, bad shapes and metadata that is not strings', () => {
    refuses(safetensorsFile({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, Buffer.alloc(1)), /Expected a dtype among F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL for tensor 'w' but received "F8_E4M3"/);
    refuses(safetensorsFile({ w: { dtype: 'toString', shape: [1], data_offsets: [0, 1] } }, Buffer.alloc(1)), /for tensor 'w' but received "toString"/);
    refuses(safetensorsFile({ w: { dtype: 'U8', shape: [-1], data_offsets: [0, 1] } }, Buffer.alloc(1)), /Expected a shape of non-negative integers for tensor 'w' but received \[-1\]/);
    refuses(safetensorsFile({ w: { dtype: 'U8', shape: [1.5], data_offsets: [0, 1] } }, Buffer.alloc(1)), /shape of non-negative integers/);
    refuses(safetensorsFile({ __metadata__: { epoch: 3 } }, Buffer.alloc(0)), /Expected a string for __metadata__\.epoch but received 3/);
  });

  it('refuses offsets out of range, sizes that do not match, overlaps and unclaimed bytes', () => {
    refuses(safetensorsFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, Buffer.alloc(4)), /Expected data_offsets within the 4 data bytes for tensor 'w' but received \[0,8\]/);
    refuses(safetensorsFile({ w: { dtype: 'F32', shape: [2], data_offsets: [4, 0] } }, Buffer.alloc(8)), /data_offsets within/);
    refuses(safetensorsFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, Buffer.alloc(8)), /Expected 12 bytes \(shape \[3\] of float32\) between data_offsets for tensor 'w' but received \[0,8\]/);
    refuses(safetensorsFile({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, Buffer.alloc(8)), /Expected 4835703278458516698824704 bytes/);
    refuses(
      safetensorsFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, Buffer.alloc(8)),
      /is damaged: tensors 'a' and 'b' overlap \(bytes 4\.\.8\)/,
    );
    refuses(safetensorsFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, Buffer.alloc(8)), /data bytes 0\.\.4 belong to no tensor/);
    refuses(safetensorsFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, Buffer.alloc(8)), /data bytes 4\.\.8 belong to no tensor/);
  });

  it('readStateDictRaw sniffs safetensors and reports it', () => {
    const bytes = safetensorsFile({ w: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, Buffer.alloc(4));
    const result = readStateDictRaw(bytes);
    assert.strictEqual(result.format, 'safetensors');
    assert.strictEqual(result.tensors.get('w')!.dtype, 'float16');
  });
});
