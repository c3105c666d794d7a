/**
 * Extracts the reference's dataset archives (.zip for CycleGAN, .tar.gz for pix2pix) with node's zlib only,
 * refusing anything that would write outside the target folder: absolute entry names, names with a `..`
 * component, symbolic links whose target leaves the folder (directly or through other links), and hard
 * links to anything that is not a file extracted before them. Devices and FIFOs are refused too.
 *
 * Extraction goes into a temporary sibling folder that is renamed to the target only when every entry was
 * written and checked, so a refused or broken archive leaves nothing behind.
 *
 * macOS metadata (`__MACOSX/…` and AppleDouble `._name` files) is skipped: those files carry image
 * extensions but are not images, and would break the dataset listing.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { Readable } from 'stream';
import { pipeline } from 'stream/promises';
import * as zlib from 'zlib';
import { createGunzip, createInflateRaw } from 'zlib';

export type ArchiveFormat = 'zip' | 'tar.gz' | 'tar';

/** A refused or unreadable archive; `entry` names the member at fault when there is one. */
export class ArchiveError extends Error {
  readonly code = 'ERR_IMG2IMG_ARCHIVE';
  constructor(
    readonly archive: string,
    problem: string,
    readonly entry?: string,
  ) {
    super(entry !== undefined ? `archive ${archive} refused: entry '${entry}' ${problem}` : `archive ${archive} ${problem}`);
    this.name = 'ArchiveError';
  }
}

export interface ExtractSummary {
  format: ArchiveFormat;
  files: number;
  directories: number;
  links: number;
  /** Bytes of file data written. */
  bytes: number;
  /** Entries left out on purpose (macOS metadata). */
  skipped: string[];
}

const ZIP_LOCAL = 0x04034b50;
const ZIP_CENTRAL = 0x02014b50;
const ZIP_END = 0x06054b50;
const ZIP64_END = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
/** Largest End Of Central Directory record: 22 bytes plus a comment of up to 65535 bytes. */
const ZIP_END_SEARCH = 22 + 0xffff;
const TAR_BLOCK = 512;
/** Zip members up to this size are read and inflated in one call. */
const SMALL_ENTRY = 8 << 20;

// ---------------------------------------------------------------------------------------------------------
// Recognising archives

/** Which reader `file` needs, from its first bytes (not its name): a server error page is caught here. */
export function sniffArchive(file: string): ArchiveFormat {
  const head = Buffer.alloc(TAR_BLOCK);
  let length: number;
  const fd = fs.openSync(file, 'r');
  try {
    length = fs.readSync(fd, head, 0, head.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  const bytes = head.subarray(0, length);
  if (length >= 4 && (bytes.readUInt32LE(0) === ZIP_LOCAL || bytes.readUInt32LE(0) === ZIP_END)) return 'zip';
  if (length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return 'tar.gz';
  if (length >= 263 && bytes.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  throw new ArchiveError(file, `is not a zip or tar.gz archive: ${describeStart(bytes)}`);
}

function describeStart(bytes: Buffer): string {
  if (bytes.length === 0) return 'the file is empty';
  const text = bytes.subarray(0, 40).toString('latin1');
  if (/^[\x09\x0a\x0d\x20-\x7e]+$/.test(text)) {
    return `it starts with text ${JSON.stringify(text)}${/<html|<!doctype/i.test(text) ? ' (a web page: the server or mirror sent an error page)' : ''}`;
  }
  return `it starts with bytes ${Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ')}`;
}

// ---------------------------------------------------------------------------------------------------------
// Entry names

/** The components of a member name inside the target folder, or the reason it is refused. */
export function checkEntryName(raw: string): { parts: string[] } | { problem: string } {
  if (raw.includes('\0')) return { problem: 'contains a NUL byte' };
  const name = raw.replace(/\\/g, '/');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return { problem: 'is an absolute path (it would be written outside the target folder)' };
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { problem: "contains '..' (path traversal: it would be written outside the target folder)" };
  return { parts };
}

/** macOS resource forks and Finder metadata: never part of a dataset. */
function isMacMetadata(parts: string[]): boolean {
  return parts[0] === '__MACOSX' || (parts.length > 0 && parts[parts.length - 1].startsWith('._'));
}

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative) && relative.split(path.sep)[0] !== '..');
}

// ---------------------------------------------------------------------------------------------------------
// Writing entries into the temporary folder

interface PendingLink {
  entry: string;
  parts: string[];
  target: string;
}

/** The part shared by both formats: checked names, files, folders, and links created last. */
class Extraction {
  readonly summary: ExtractSummary;
  private readonly links: PendingLink[] = [];
  /** Folders known to exist, so each is created once (archives hold thousands of files per folder). */
  private readonly folders = new Set<string>();

  constructor(
    readonly archive: string,
    readonly root: string,
    format: ArchiveFormat,
  ) {
    this.summary = { format, files: 0, directories: 0, links: 0, bytes: 0, skipped: [] };
  }

  refuse(entry: string, problem: string): never {
    throw new ArchiveError(this.archive, problem, entry);
  }

  /** Checks a member name; null when the member is skipped (macOS metadata, or the root folder itself). */
  resolve(entry: string, kind: 'file' | 'directory' | 'link'): { parts: string[]; full: string } | null {
    const checked = checkEntryName(entry);
    if ('problem' in checked) this.refuse(entry, checked.problem);
    const { parts } = checked;
    if (parts.length === 0) {
      if (kind === 'directory') return null;
      this.refuse(entry, 'has an empty name');
    }
    if (isMacMetadata(parts)) {
      this.summary.skipped.push(entry);
      return null;
    }
    const full = path.join(this.root, ...parts);
    if (!isInside(this.root, full)) this.refuse(entry, 'resolves outside the target folder');
    return { parts, full };
  }

  directory(entry: string): void {
    const at = this.resolve(entry, 'directory');
    if (!at) return;
    try {
      fs.mkdirSync(at.full, { recursive: true });
      this.folders.add(at.full);
    } catch (err) {
      this.refuse(entry, `could not be created: ${(err as Error).message}`);
    }
    this.summary.directories++;
  }

  /** Opens the file for a member (parents created); null when the member is skipped. */
  openFile(entry: string): { fd: number; full: string } | null {
    const at = this.resolve(entry, 'file');
    if (!at) return null;
    try {
      this.ensureFolder(path.dirname(at.full));
      // no symbolic link exists yet in the folder (they are created last), so this cannot write through one
      return { fd: fs.openSync(at.full, 'w', 0o644), full: at.full };
    } catch (err) {
      this.refuse(entry, `could not be written: ${(err as Error).message}`);
    }
  }

  private ensureFolder(dir: string): void {
    if (this.folders.has(dir)) return;
    fs.mkdirSync(dir, { recursive: true });
    this.folders.add(dir);
  }

  fileWritten(bytes: number): void {
    this.summary.files++;
    this.summary.bytes += bytes;
  }

  /** Records a symbolic link, refusing at once one whose target is absolute or climbs out of the folder. */
  symlink(entry: string, target: string): void {
    const at = this.resolve(entry, 'link');
    if (!at) return;
    if (target === '' || target.includes('\0')) this.refuse(entry, 'is a symbolic link with an empty or invalid target');
    const normalized = target.replace(/\\/g, '/');
    if (normalized.startsWith('/') || /^[A-Za-z]:/.test(normalized)) {
      this.refuse(entry, `is a symbolic link to the absolute path '${target}' (outside the target folder)`);
    }
    const resolved = path.resolve(path.dirname(at.full), ...normalized.split('/'));
    if (!isInside(this.root, resolved)) this.refuse(entry, `is a symbolic link to '${target}', which is outside the target folder`);
    this.links.push({ entry, parts: at.parts, target: normalized });
  }

  /** A tar hard link: a copy of a regular file extracted earlier from the same archive. */
  hardlink(entry: string, target: string): void {
    const at = this.resolve(entry, 'file');
    if (!at) return;
    const checked = checkEntryName(target);
    if ('problem' in checked || checked.parts.length === 0) {
      this.refuse(entry, `is a hard link to '${target}', which is outside the target folder`);
    }
    const source = path.join(this.root, ...checked.parts);
    let stat: fs.Stats | null = null;
    try {
      stat = fs.lstatSync(source);
    } catch {
      stat = null;
    }
    if (!stat || !stat.isFile()) this.refuse(entry, `is a hard link to '${target}', which is not a file extracted before it`);
    try {
      fs.mkdirSync(path.dirname(at.full), { recursive: true });
      fs.copyFileSync(source, at.full);
    } catch (err) {
      this.refuse(entry, `could not be written: ${(err as Error).message}`);
    }
    this.fileWritten(stat.size);
  }

  /**
   * Creates the recorded symbolic links, then checks where each really leads: a chain of links that are each
   * inside the folder can still lead out of it (`a -> .` then `b -> a/..`).
   */
  finishLinks(): void {
    const realRoot = fs.realpathSync.native(this.root);
    for (const link of this.links) {
      const full = path.join(this.root, ...link.parts);
      // the link's own folder must be reached without following a link
      let dir = this.root;
      for (const part of link.parts.slice(0, -1)) {
        dir = path.join(dir, part);
        let stat: fs.Stats | null = null;
        try {
          stat = fs.lstatSync(dir);
        } catch {
          stat = null;
        }
        if (stat?.isSymbolicLink()) this.refuse(link.entry, `lies below the symbolic link '${path.relative(this.root, dir)}'`);
      }
      try {
        fs.mkdirSync(path.dirname(full), { recursive: true });
        fs.symlinkSync(link.target, full);
      } catch (err) {
        this.refuse(link.entry, `could not be created: ${(err as Error).message}`);
      }
      this.summary.links++;
    }
    for (const link of this.links) {
      const full = path.join(this.root, ...link.parts);
      let real: string | null = null;
      try {
        real = fs.realpathSync.native(full); // the OS resolves `link/..` through the link; the JS realpath would not
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ELOOP') this.refuse(link.entry, `is a symbolic link to '${link.target}' that loops`);
        // dangling: harmless unless its target climbs, which could lead out once the missing part appears
        if (link.target.split('/').includes('..')) {
          this.refuse(link.entry, `is a symbolic link to '${link.target}', which does not exist and climbs with '..'`);
        }
      }
      if (real !== null && !isInside(realRoot, real)) {
        this.refuse(link.entry, `is a symbolic link to '${link.target}', which leads outside the target folder (through other links)`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// CRC-32 (zip stores one per member)

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** zlib.crc32 exists from node 20.15; the table version is the fallback. */
const nativeCrc32 = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

export function crc32(data: Uint8Array, previous = 0): number {
  if (nativeCrc32) return nativeCrc32(data, previous);
  let crc = ~previous >>> 0;
  for (let i = 0; i < data.length; i++) crc = CRC_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

// ---------------------------------------------------------------------------------------------------------
// Zip

interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  isSymlink: boolean;
  isDirectory: boolean;
  /** Unix file type bits when the archive was made on Unix (0 otherwise). */
  unixType: number;
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buf.subarray(0, done);
}

function readU64(buf: Buffer, offset: number): number {
  const value = buf.readBigUInt64LE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('64-bit zip field too large');
  return Number(value);
}

function readZipDirectory(file: string, fd: number, fileSize: number): ZipEntry[] {
  const corrupt = (what: string): never => {
    throw new ArchiveError(file, `is not a valid zip archive (${what}); it may be truncated: delete it and download again`);
  };
  const tailStart = Math.max(0, fileSize - ZIP_END_SEARCH);
  const tail = readAt(fd, tailStart, fileSize - tailStart);
  let end = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === ZIP_END) {
      end = i;
      break;
    }
  }
  if (end < 0) corrupt('no end-of-central-directory record');
  let count = tail.readUInt16LE(end + 10);
  let cdSize = tail.readUInt32LE(end + 12);
  let cdOffset = tail.readUInt32LE(end + 16);
  const endPosition = tailStart + end;
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locator = endPosition >= 20 ? readAt(fd, endPosition - 20, 20) : Buffer.alloc(0);
    if (locator.length < 20 || locator.readUInt32LE(0) !== ZIP64_LOCATOR) corrupt('missing zip64 locator');
    const zip64End = readAt(fd, readU64(locator, 8), 56);
    if (zip64End.length < 56 || zip64End.readUInt32LE(0) !== ZIP64_END) corrupt('bad zip64 end record');
    count = readU64(zip64End, 32);
    cdSize = readU64(zip64End, 40);
    cdOffset = readU64(zip64End, 48);
  }
  if (cdOffset + cdSize > fileSize) corrupt('the central directory lies past the end of the file');
  const cd = readAt(fd, cdOffset, cdSize);
  const entries: ZipEntry[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    if (pos + 46 > cd.length || cd.readUInt32LE(pos) !== ZIP_CENTRAL) corrupt(`bad central directory entry ${i}`);
    const madeBy = cd.readUInt16LE(pos + 4);
    const flags = cd.readUInt16LE(pos + 8);
    const method = cd.readUInt16LE(pos + 10);
    const crc = cd.readUInt32LE(pos + 16);
    let compressedSize = cd.readUInt32LE(pos + 20);
    let size = cd.readUInt32LE(pos + 24);
    const nameLength = cd.readUInt16LE(pos + 28);
    const extraLength = cd.readUInt16LE(pos + 30);
    const commentLength = cd.readUInt16LE(pos + 32);
    const external = cd.readUInt32LE(pos + 38);
    let localOffset = cd.readUInt32LE(pos + 42);
    const nameBytes = cd.subarray(pos + 46, pos + 46 + nameLength);
    // bit 11: UTF-8 names; otherwise CP437, whose ASCII part is all datasets use
    const name = nameBytes.toString(flags & 0x800 ? 'utf8' : 'latin1');
    const extra = cd.subarray(pos + 46 + nameLength, pos + 46 + nameLength + extraLength);
    for (let e = 0; e + 4 <= extra.length; ) {
      const id = extra.readUInt16LE(e);
      const length = extra.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let at = e + 4;
        if (size === 0xffffffff && at + 8 <= e + 4 + length) { size = readU64(extra, at); at += 8; }
        if (compressedSize === 0xffffffff && at + 8 <= e + 4 + length) { compressedSize = readU64(extra, at); at += 8; }
        if (localOffset === 0xffffffff && at + 8 <= e + 4 + length) { localOffset = readU64(extra, at); at += 8; }
      }
      e += 4 + length;
    }
    const unixType = madeBy >> 8 === 3 ? (external >>> 16) & 0o170000 : 0;
    entries.push({
      name,
      method,
      flags,
      crc,
      compressedSize,
      size,
      localOffset,
      unixType,
      isSymlink: unixType === 0o120000,
      isDirectory: name.endsWith('/') || unixType === 0o040000 || (madeBy >> 8 === 0 && (external & 0x10) !== 0),
    });
    pos += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

async function extractZip(file: string, extraction: Extraction): Promise<void> {
  const fd = fs.openSync(file, 'r');
  try {
    const fileSize = fs.fstatSync(fd).size;
    const entries = readZipDirectory(file, fd, fileSize);
    // every name is checked before anything is written, so a hostile archive fails fast
    for (const entry of entries) {
      const checked = checkEntryName(entry.name);
      if ('problem' in checked) extraction.refuse(entry.name, checked.problem);
      if (entry.unixType && !entry.isSymlink && !entry.isDirectory && entry.unixType !== 0o100000) {
        extraction.refuse(entry.name, 'is a device, FIFO or socket, which an image dataset never holds');
      }
    }
    for (const entry of entries) {
      if (entry.isDirectory) {
        extraction.directory(entry.name);
        continue;
      }
      if (entry.flags & 0x1) extraction.refuse(entry.name, 'is encrypted');
      if (entry.method !== 0 && entry.method !== 8) {
        extraction.refuse(entry.name, `uses compression method ${entry.method}; only stored (0) and deflate (8) are supported`);
      }
      const local = readAt(fd, entry.localOffset, 30);
      if (local.length < 30 || local.readUInt32LE(0) !== ZIP_LOCAL) extraction.refuse(entry.name, 'has a bad local header (corrupt or truncated archive)');
      const dataStart = entry.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      if (dataStart + entry.compressedSize > fileSize) extraction.refuse(entry.name, 'runs past the end of the archive (truncated download?)');
      const source = (): Readable =>
        entry.compressedSize === 0
          ? Readable.from([])
          : fs.createReadStream(file, { start: dataStart, end: dataStart + entry.compressedSize - 1 });
      if (entry.isSymlink) {
        const target = await collect(source(), entry, extraction);
        extraction.symlink(entry.name, target.toString('utf8'));
        continue;
      }
      const out = extraction.openFile(entry.name);
      if (!out) continue;
      let result: { written: number; crc: number };
      try {
        result = await writeZipMember(fd, entry, dataStart, source, out.fd);
      } catch (err) {
        extraction.refuse(entry.name, `could not be extracted: ${(err as Error).message}`);
      } finally {
        fs.closeSync(out.fd);
      }
      const { written, crc } = result;
      if (written !== entry.size) extraction.refuse(entry.name, `has ${written} bytes but its header says ${entry.size} (corrupt archive)`);
      if (crc !== entry.crc) extraction.refuse(entry.name, 'fails its CRC-32 check (corrupt archive)');
      extraction.fileWritten(written);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes one member's data to `out`; returns what was written and its CRC-32 (checked by the caller). */
async function writeZipMember(fd: number, entry: ZipEntry, dataStart: number, source: () => Readable, out: number): Promise<{ written: number; crc: number }> {
  if (entry.compressedSize <= SMALL_ENTRY && entry.size <= SMALL_ENTRY) {
    // small members (most dataset images) in one read: far faster than a stream per file
    const stored = readAt(fd, dataStart, entry.compressedSize);
    const data = entry.method === 8 ? zlib.inflateRawSync(stored, { maxOutputLength: Math.max(1, entry.size) }) : stored;
    fs.writeSync(out, data);
    return { written: data.length, crc: crc32(data) };
  }
  let written = 0;
  let crc = 0;
  const sink = async (chunks: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of chunks) {
      written += chunk.length;
      if (written > entry.size) throw new Error(`it inflates to more than the ${entry.size} bytes its header says (zip bomb?)`);
      crc = crc32(chunk, crc);
      fs.writeSync(out, chunk);
    }
  };
  if (entry.method === 8) await pipeline(source(), createInflateRaw(), sink);
  else await pipeline(source(), sink);
  return { written, crc };
}

/** A small member (a symlink target) read whole, inflated when needed. */
async function collect(source: Readable, entry: ZipEntry, extraction: Extraction): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    const stream = entry.method === 8 ? source.pipe(createInflateRaw()) : source;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > 4096) throw new Error('a symbolic link target longer than 4096 bytes');
      chunks.push(chunk);
    }
  } catch (err) {
    extraction.refuse(entry.name, `could not be read: ${(err as Error).message}`);
  }
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------------------------------------------------
// Tar (optionally gzip-compressed)

/** Pulls exact byte counts out of an async stream of chunks. */
class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private done = false;
  private readonly iterator: AsyncIterator<Buffer>;
  /** Bytes handed out so far (offset in the uncompressed tar stream). */
  position = 0;

  constructor(source: AsyncIterable<Buffer>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  private async fill(wanted: number): Promise<void> {
    while (this.buffered < wanted && !this.done) {
      const next = await this.iterator.next();
      if (next.done) this.done = true;
      else {
        this.chunks.push(next.value);
        this.buffered += next.value.length;
      }
    }
  }

  /** Exactly `n` bytes, or fewer at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out = all.subarray(0, Math.min(n, all.length));
    const rest = all.subarray(out.length);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    this.position += out.length;
    return out;
  }

  /** Up to `max` bytes (at least 1 unless the stream ended): for streaming file data. */
  async readSome(max: number): Promise<Buffer> {
    await this.fill(1);
    if (this.chunks.length === 0) return Buffer.alloc(0);
    const first = this.chunks[0];
    const out = first.subarray(0, Math.min(max, first.length));
    if (out.length === first.length) this.chunks.shift();
    else this.chunks[0] = first.subarray(out.length);
    this.buffered -= out.length;
    this.position += out.length;
    return out;
  }
}

function tarString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? field.length : end).toString('utf8');
}

function tarNumber(block: Buffer, offset: number, length: number): number {
  const field = block.subarray(offset, offset + length);
  if (field[0] & 0x80) {
    // GNU base-256: big-endian binary with the top bit of the first byte as the marker
    let value = field[0] & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i];
    return value;
  }
  const text = field.toString('latin1').replace(/[\0 ]+$/, '').replace(/^[\0 ]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return NaN;
  return parseInt(text, 8);
}

function tarChecksumOk(block: Buffer): boolean {
  const stored = tarNumber(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

/** pax extended header records: "<length> <key>=<value>\n". */
function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const length = Number(data.subarray(pos, space).toString('latin1'));
    if (!Number.isInteger(length) || length <= 0) break;
    const record = data.subarray(space + 1, pos + length - 1).toString('utf8');
    const equals = record.indexOf('=');
    if (equals > 0) out[record.slice(0, equals)] = record.slice(equals + 1);
    pos += length;
  }
  return out;
}

async function extractTar(file: string, source: AsyncIterable<Buffer>, extraction: Extraction): Promise<void> {
  const reader = new ByteReader(source);
  let longName: string | null = null;
  let longLink: string | null = null;
  let pax: Record<string, string> = {};
  const truncated = (): never => {
    throw new ArchiveError(file, `is truncated (it ends inside an entry at byte ${reader.position} of the tar data): delete it and download again`);
  };
  for (;;) {
    const block = await reader.read(TAR_BLOCK);
    if (block.length === 0) return; // no end marker: tolerated, as GNU tar does with a warning
    if (block.length < TAR_BLOCK) truncated();
    if (block.every((b) => b === 0)) return; // end-of-archive marker
    if (!tarChecksumOk(block)) {
      throw new ArchiveError(file, `is not a valid tar archive (bad header checksum at byte ${reader.position - TAR_BLOCK})`);
    }
    const type = String.fromCharCode(block[156] || 0x30);
    const size = Number(pax.size ?? tarNumber(block, 124, 12));
    if (!Number.isSafeInteger(size) || size < 0) throw new ArchiveError(file, `has a bad size field at byte ${reader.position - TAR_BLOCK}`);
    const magic = block.subarray(257, 262).toString('latin1');
    const prefix = magic === 'ustar' ? tarString(block, 345, 155) : '';
    const headerName = prefix ? `${prefix}/${tarString(block, 0, 100)}` : tarString(block, 0, 100);
    const name = pax.path ?? longName ?? headerName;
    const linkName = pax.linkpath ?? longLink ?? tarString(block, 157, 100);
    const padding = (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;

    const readData = async (): Promise<Buffer> => {
      if (size > 1 << 20) throw new ArchiveError(file, `has a metadata record of ${size} bytes`, name);
      const data = await reader.read(size + padding);
      if (data.length < size + padding) truncated();
      return data.subarray(0, size);
    };
    const skipData = async (): Promise<void> => {
      let left = size + padding;
      while (left > 0) {
        const chunk = await reader.readSome(Math.min(left, 1 << 20));
        if (chunk.length === 0) truncated();
        left -= chunk.length;
      }
    };

    // metadata records apply to the next entry
    if (type === 'x') { pax = parsePax(await readData()); continue; }
    if (type === 'g') { await skipData(); continue; }
    if (type === 'L') { longName = (await readData()).toString('utf8').replace(/\0+$/, ''); continue; }
    if (type === 'K') { longLink = (await readData()).toString('utf8').replace(/\0+$/, ''); continue; }
    pax = {};
    longName = null;
    longLink = null;

    if ((type === '0' || type === '7') && name.endsWith('/')) {
      extraction.directory(name); // pre-POSIX tar marks folders by a trailing slash only
      await skipData();
    } else if (type === '0' || type === '7') {
      const out = extraction.openFile(name);
      let left = size;
      try {
        while (left > 0) {
          const chunk = await reader.readSome(Math.min(left, 1 << 20));
          if (chunk.length === 0) truncated();
          if (out) fs.writeSync(out.fd, chunk);
          left -= chunk.length;
        }
      } finally {
        if (out) fs.closeSync(out.fd);
      }
      const pad = await reader.read(padding);
      if (pad.length < padding) truncated();
      if (out) extraction.fileWritten(size);
    } else if (type === '5') {
      extraction.directory(name);
      await skipData();
    } else if (type === '2') {
      extraction.symlink(name, linkName);
      await skipData();
    } else if (type === '1') {
      extraction.hardlink(name, linkName);
      await skipData();
    } else if (type === 'V') {
      await skipData(); // volume label
    } else {
      const what: Record<string, string> = { '3': 'a character device', '4': 'a block device', '6': 'a FIFO', S: 'a sparse file' };
      extraction.refuse(name, `is ${what[type] ?? `of tar type '${type}'`}, which an image dataset never holds`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------

/** A unique sibling of `dest` to extract into; hidden, so listings of the parent do not pick it up. */
export function temporarySiblingOf(dest: string): string {
  return path.join(path.dirname(dest), `.${path.basename(dest)}.extracting-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Extracts `file` (zip, tar.gz or tar, recognised by content) so that `dest` — which must not exist —
 * appears only once everything was written and checked. Throws ArchiveError, naming the entry, for any
 * refused member; nothing is left behind then.
 */
export async function extractArchive(file: string, dest: string): Promise<ExtractSummary> {
  if (fs.existsSync(dest)) throw new Error(`cannot extract ${file}: ${dest} already exists`);
  const format = sniffArchive(file);
  const temporary = temporarySiblingOf(dest);
  fs.mkdirSync(temporary, { recursive: true });
  const extraction = new Extraction(file, temporary, format);
  try {
    if (format === 'zip') {
      await extractZip(file, extraction);
    } else {
      const input = fs.createReadStream(file);
      const stream = format === 'tar.gz' ? input.pipe(createGunzip()) : input;
      if (format === 'tar.gz') input.on('error', (err) => stream.destroy(err));
      try {
        await extractTar(file, stream as AsyncIterable<Buffer>, extraction);
      } catch (err) {
        if (err instanceof ArchiveError) throw err;
        throw new ArchiveError(file, `is corrupt or truncated (${(err as Error).message}): delete it and download again`);
      } finally {
        stream.destroy();
        input.destroy();
      }
    }
    extraction.finishLinks();
    fs.renameSync(temporary, dest);
  } catch (err) {
    fs.rmSync(temporary, { recursive: true, force: true });
    throw err;
  }
  return extraction.summary;
}
