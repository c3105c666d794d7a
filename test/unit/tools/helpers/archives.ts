/**
 * Tiny archive writers for the tools tests: zip (stored or deflated entries, Unix symlinks) and tar(.gz)
 * (files, folders, symlinks, hard links, devices, GNU long names, pax paths), so hostile archives can be
 * made byte by byte without any archiver installed.
 */
import * as zlib from 'zlib';
import { crc32 } from '../../../../src/util/crc32';

export interface ZipEntrySpec {
  name: string;
  data?: Buffer | string;
  /** Deflate the data (method 8) instead of storing it. */
  deflate?: boolean;
  /** Make the entry a Unix symbolic link to this target. */
  symlink?: string;
}

/** A zip archive with a central directory; names are written as given (no checks: that is the point). */
export function makeZip(entries: ZipEntrySpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const raw = Buffer.from(entry.symlink ?? entry.data ?? '');
    const method = entry.deflate ? 8 : 0;
    const stored = method === 8 ? zlib.deflateRawSync(raw) : raw;
    const crc = crc32(raw);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, stored);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made on Unix, so the mode bits count
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(stored.length, 20);
    central.writeUInt32LE(raw.length, 24);
    central.writeUInt16LE(name.length, 28);
    const isDir = entry.name.endsWith('/');
    const mode = entry.symlink !== undefined ? 0o120777 : isDir ? 0o040755 : 0o100644;
    central.writeUInt32LE(((mode << 16) | (isDir ? 0x10 : 0)) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + stored.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

export interface TarEntrySpec {
  name: string;
  data?: Buffer | string;
  /** '0' file (default), '5' folder, '2' symlink, '1' hard link, '3' char device, '6' FIFO. */
  type?: '0' | '5' | '2' | '1' | '3' | '6';
  linkname?: string;
  /** Write the name as a GNU long-name record ('L') before the header. */
  gnuLongName?: boolean;
  /** Write the name as a pax 'path' record before the header. */
  paxPath?: boolean;
}

function octal(value: number, length: number): string {
  return value.toString(8).padStart(length - 1, '0') + '\0';
}

function tarHeader(name: string, size: number, type: string, linkname = ''): Buffer {
  const block = Buffer.alloc(512);
  block.write(name.slice(0, 100), 0, 'utf8');
  block.write(octal(type === '5' ? 0o755 : 0o644, 8), 100, 'latin1');
  block.write(octal(0, 8), 108, 'latin1');
  block.write(octal(0, 8), 116, 'latin1');
  block.write(octal(size, 12), 124, 'latin1');
  block.write(octal(0, 12), 136, 'latin1');
  block.write(type, 156, 'latin1');
  block.write(linkname.slice(0, 100), 157, 'utf8');
  block.write('ustar\0', 257, 'latin1');
  block.write('00', 263, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(octal(sum, 7) + ' ', 148, 'latin1');
  return block;
}

function padded(data: Buffer): Buffer {
  const pad = (512 - (data.length % 512)) % 512;
  return Buffer.concat([data, Buffer.alloc(pad)]);
}

/** An uncompressed tar stream with its two zero end blocks. */
export function makeTar(entries: TarEntrySpec[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const type = entry.type ?? '0';
    const data = type === '0' ? Buffer.from(entry.data ?? '') : Buffer.alloc(0);
    let headerName = entry.name;
    if (entry.gnuLongName) {
      const longName = Buffer.from(`${entry.name}\0`, 'utf8');
      blocks.push(tarHeader('././@LongLink', longName.length, 'L'), padded(longName));
      headerName = entry.name.slice(0, 99);
    }
    if (entry.paxPath) {
      const record = (key: string, value: string) => {
        const body = ` ${key}=${value}\n`;
        let length = body.length + 1;
        while (String(length).length + body.length !== length) length = String(length).length + body.length;
        return `${length}${body}`;
      };
      const pax = Buffer.from(record('path', entry.name), 'utf8');
      blocks.push(tarHeader('PaxHeader/x', pax.length, 'x'), padded(pax));
      headerName = 'placeholder-name-overridden-by-pax';
    }
    blocks.push(tarHeader(headerName, data.length, type, entry.linkname ?? ''));
    if (data.length) blocks.push(padded(data));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export function makeTarGz(entries: TarEntrySpec[]): Buffer {
  return zlib.gzipSync(makeTar(entries));
}
