/**
 * The zip layer on its own: CRC-32, PyTorch's entry layout, and refusal of damaged directories.
 */
import * as assert from 'assert';
import { encodeStoredZip, ZipArchive } from '../../../src/checkpoint/zip';
import { crc32, crc32Portable } from '../../../src/util/crc32';

/** The textbook bit-at-a-time CRC-32, to check the sliced one against. */
function referenceCrc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('checkpoint: zip', () => {
  for (const [label, crc] of [['crc32', crc32], ['crc32Portable (the fallback without zlib.crc32)', crc32Portable]] as const) {
    it(`${label} matches the standard check value and a bitwise reference, also when continued`, () => {
      assert.strictEqual(crc(Buffer.from('123456789')), 0xcbf43926);
      assert.strictEqual(crc(Buffer.alloc(0)), 0);
      const data = Buffer.alloc(1000);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
      for (const length of [1, 7, 8, 9, 63, 1000]) assert.strictEqual(crc(data.subarray(0, length)), referenceCrc32(data.subarray(0, length)), `length ${length}`);
      assert.strictEqual(crc(data.subarray(300), crc(data.subarray(0, 300))), crc(data));
    });
  }

  it('lays entries out like PyTorchStreamWriter: FB padding to 64 bytes, data descriptors, zip64 end records', () => {
    const bytes = Buffer.concat(encodeStoredZip([{ name: 'valid_conv/data.pkl', data: Buffer.alloc(300, 1) }, { name: 'valid_conv/version', data: Buffer.from('3\n') }]));
    // first local header: no version, flags 0x0808, stored, zero times and sizes, 'FB' extra of 11 'Z's
    assert.strictEqual(bytes.subarray(0, 30).toString('hex'), '504b0304000008080000000000000000000000000000000000001300' + '0f00');
    assert.strictEqual(bytes.subarray(49, 64).toString('latin1'), 'FB\x0b\x00ZZZZZZZZZZZ');
    const archive = new ZipArchive(bytes, 'mem');
    assert.deepStrictEqual(archive.entries.map((e) => e.dataOffset), [64, 448]);
    assert.ok(bytes.includes(Buffer.from('504b0606', 'hex')) && bytes.includes(Buffer.from('504b0607', 'hex')));
    assert.strictEqual(bytes.readUInt32LE(bytes.length - 22), 0x06054b50);
  });

  it('refuses damaged directories with messages that name the file', () => {
    const bytes = Buffer.concat(encodeStoredZip([{ name: 'a/data.pkl', data: Buffer.alloc(10, 1) }]));
    const centralStart = bytes.indexOf(Buffer.from('504b0102', 'hex'));

    const badOffset = Buffer.from(bytes);
    badOffset.writeUInt32LE(9999, centralStart + 42);
    assert.throws(() => new ZipArchive(badOffset, 'bad.pth'), /checkpoint bad\.pth is damaged: Expected a zip local header for a\/data\.pkl at byte 9999/);

    const badSize = Buffer.from(bytes);
    badSize.writeUInt32LE(5000, centralStart + 20);
    badSize.writeUInt32LE(5000, centralStart + 24);
    assert.throws(() => new ZipArchive(badSize, 'bad.pth'), /checkpoint bad\.pth is truncated or damaged: Expected zip entry a\/data\.pkl \(bytes 64\.\.5064\) to end before its central directory/);

    const badMethod = Buffer.from(bytes);
    badMethod.writeUInt16LE(12, centralStart + 10); // bzip2
    assert.throws(() => new ZipArchive(badMethod, 'bad.pth'), /Expected compression method 0 \(stored\) or 8 \(deflate\) for zip entry a\/data\.pkl but received 12/);

    const encrypted = Buffer.from(bytes);
    encrypted.writeUInt16LE(0x0809, centralStart + 8);
    assert.throws(() => new ZipArchive(encrypted, 'bad.pth'), /zip entry a\/data\.pkl is encrypted/);

    assert.throws(() => new ZipArchive(Buffer.alloc(10), 'tiny.pth'), /checkpoint tiny\.pth is truncated: Expected at least 22 bytes/);
    assert.throws(() => new ZipArchive(bytes.subarray(0, 40), 'cut.pth'), /checkpoint cut\.pth is truncated or damaged/);
  });

  it('refuses a deflated entry that claims more than deflate can produce', () => {
    const bytes = Buffer.concat(encodeStoredZip([{ name: 'a/data.pkl', data: Buffer.alloc(10, 1) }]));
    const centralStart = bytes.indexOf(Buffer.from('504b0102', 'hex'));
    bytes.writeUInt16LE(8, centralStart + 10);
    bytes.writeUInt32LE(0x7fffffff, centralStart + 24);
    assert.throws(() => new ZipArchive(bytes, 'bomb.pth'), /checkpoint bomb\.pth is refused: zip entry a\/data\.pkl claims to inflate 10 bytes to 2147483647, more than deflate can/);
  });
});
