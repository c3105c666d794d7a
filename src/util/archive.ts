/**
 * Extracts the reference's dataset archives (.zip for CycleGAN, .tar.gz for pix2pix) with node's zlib only,
 * refusing anything that would write outside the target folder: absolute entry names, names with a `..`
 * component, symbolic links whose target leaves the folder (directly or through other links), and hard
 * links to anything that is not a file extracted before them. Devices and FIFOs are refused too.
 *
 * Bombs are refused as well: the bytes and entries an archive may extract to are bounded (in total, and
 * in bytes per byte of archive), zip entries may not overlap (src/util/zip_directory.ts), and a file may be
 * the target of one tar hard link at most (each copy counts against the byte limit).
 * Corruption is caught wherever the format allows: zip members by their CRC-32 and size, tar headers by
 * their checksum, and a .tar.gz by gzip's own CRC-32 and length — the whole gzip stream is read to its end,
 * past the tar end-of-archive blocks, so a damaged or cut tail is not mistaken for a complete archive.
 *
 * Extraction goes into a temporary sibling folder that is renamed to the target only when every entry was
 * written and checked, so a refused or broken archive leaves nothing behind. With `unwrapSingleFolder`, the
 * archive's single top folder becomes the target, and symbolic links are checked against that folder — where
 * they will live — not against the temporary one.
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
import { crc32 } from './crc32';
import {
  descriptorSource, END_OF_CENTRAL_DIRECTORY_SIGNATURE, LOCAL_HEADER_SIGNATURE, METHOD_DEFLATE, METHOD_STORED, readZipDirectory, ZipEntry, ZipFormatError, ZipSource } from './zip_directory';


export type ArchiveFormat = 'zip' | 'tar.gz' | 'tar';

/** A refused or unreadable archive; `entry` names the member at fault when there is one. */
export class ArchiveError extends Error {
  /** Stable across releases, for callers that branch on the kind of failure. */
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

/** Bounds on what one archive may extract to; every bound is checked before the bytes are written. */
export interface ExtractLimits {
  /** Bytes of file data in all (default 64 GiB: the largest published dataset is under 9 GB). */
  maxBytes?: number;
  /** Entries of any kind, metadata records included (default 2,000,000). */
  maxEntries?: number;
  /** Bytes extracted per byte of archive beyond the first `ratioAllowance` bytes (default 100; images compress ~1:1). */
  maxRatio?: number;
  /** Bytes any archive may extract to whatever its size (default 8 MiB), so tiny archives of text are not refused. */
  ratioAllowance?: number;
  /** Tar hard links to any one file (default 1): more is a fan-out bomb, never a dataset. */
  maxLinksPerFile?: number;
}

export const DEFAULT_EXTRACT_LIMITS: Required<ExtractLimits> = {
  maxBytes: 64 * 2 ** 30,
  maxEntries: 2_000_000,
  maxRatio: 100,
  ratioAllowance: 8 << 20,
  maxLinksPerFile: 1,
};

/** The bytes of file data an archive of `archiveBytes` may extract to under `limits`. */
function byteLimit(archiveBytes: number, limits: Required<ExtractLimits>): number {
  return Math.min(limits.maxBytes, Math.max(limits.ratioAllowance, archiveBytes * limits.maxRatio));
}

export interface ExtractOptions {
  limits?: ExtractLimits;
  /** When the archive holds one top folder (`facades/…`, as upstream's do), that folder becomes `dest`. */
  unwrapSingleFolder?: boolean;
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

const TAR_BLOCK = 512;
/** Zip members up to this size are read and inflated in one call. */
const SMALL_ENTRY = 8 << 20;
/** Longest symbolic link target read from a zip member. */
const MAX_LINK_TARGET = 4096;

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
  if (length >= 4 && (bytes.readUInt32LE(0) === LOCAL_HEADER_SIGNATURE || bytes.readUInt32LE(0) === END_OF_CENTRAL_DIRECTORY_SIGNATURE)) return 'zip';
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

function formatLimit(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${bytes} bytes`;
}

// ---------------------------------------------------------------------------------------------------------
// Writing entries into the temporary folder

interface PendingLink {
  entry: string;
  parts: string[];
  target: string;
}

/** The part shared by both formats: checked names, limits, files, folders, and links created last. */
class Extraction {
  readonly summary: ExtractSummary;
  private readonly links: PendingLink[] = [];
  /** Folders known to exist, so each is created once (archives hold thousands of files per folder). */
  private readonly folders = new Set<string>();
  private readonly hardLinksTo = new Map<string, number>();
  private readonly limits: Required<ExtractLimits>;
  /** The smaller of the total limit and the ratio limit for this archive's size. */
  readonly maxBytes: number;
  private entries = 0;

  constructor(
    readonly archive: string,
    readonly root: string,
    format: ArchiveFormat,
    archiveBytes: number,
    limits: ExtractLimits,
  ) {
    this.summary = { format, files: 0, directories: 0, links: 0, bytes: 0, skipped: [] };
    this.limits = { ...DEFAULT_EXTRACT_LIMITS, ...limits };
    this.maxBytes = byteLimit(archiveBytes, this.limits);
  }

  refuse(entry: string, problem: string): never {
    throw new ArchiveError(this.archive, problem, entry);
  }

  /** Counts one more entry (of any kind) against the limit. */
  countEntry(entry: string): void {
    if (++this.entries > this.limits.maxEntries) {
      this.refuse(entry, `is one too many: Expected at most ${this.limits.maxEntries} entries for the archive but received more (an archive bomb?)`);
    }
  }

  /** Refuses, before anything is written, data that would take the archive past its byte limit. */
  reserve(entry: string, bytes: number): void {
    if (this.summary.bytes + bytes > this.maxBytes) {
      this.refuse(
        entry,
        `would take the extracted data past its limit: Expected at most ${formatLimit(this.maxBytes)} for the archive ` +
          `(${this.limits.maxRatio}x its size, or ${formatLimit(this.limits.maxBytes)} in all) but received ` +
          `${formatLimit(this.summary.bytes + bytes)} (an archive bomb?)`,
      );
    }
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

  /** Opens the file for a member of `size` bytes (parents created); null when the member is skipped. */
  openFile(entry: string, size: number): { fd: number; full: string } | null {
    const at = this.resolve(entry, 'file');
    if (!at) return null;
    this.reserve(entry, size);
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
    const count = (this.hardLinksTo.get(source) ?? 0) + 1;
    if (count > this.limits.maxLinksPerFile) {
      this.refuse(entry, `is a hard link to '${target}': Expected at most ${this.limits.maxLinksPerFile} hard link(s) to one file but received ${count} (a hard-link bomb?)`);
    }
    this.hardLinksTo.set(source, count);
    this.reserve(entry, stat.size);
    try {
      fs.mkdirSync(path.dirname(at.full), { recursive: true });
      fs.copyFileSync(source, at.full);
    } catch (err) {
      this.refuse(entry, `could not be written: ${(err as Error).message}`);
    }
    this.fileWritten(stat.size);
  }

  /**
   * The folder that becomes the target: the temporary folder, or with `unwrap` its single top folder when it
   * has exactly one (and nothing else).
   */
  contentRoot(unwrap: boolean): string {
    if (!unwrap) return this.root;
    const top = fs.readdirSync(this.root, { withFileTypes: true });
    return top.length === 1 && top[0].isDirectory() ? path.join(this.root, top[0].name) : this.root;
  }

  /**
   * Creates the recorded symbolic links, then checks where each really leads, against `finalRoot` (the folder
   * that will be renamed to the target): a link inside the archive can still lead out of the dataset once its
   * top folder is moved (`facades/up -> ..`), and a chain of links that are each inside can lead out too
   * (`a -> .` then `b -> a/..`).
   */
  finishLinks(finalRoot: string): void {
    for (const link of this.links) {
      const full = path.join(this.root, ...link.parts);
      if (!isInside(finalRoot, full)) this.refuse(link.entry, `is a symbolic link outside the target folder '${path.basename(finalRoot)}'`);
      const lexical = path.resolve(path.dirname(full), ...link.target.split('/'));
      if (!isInside(finalRoot, lexical)) {
        this.refuse(link.entry, `is a symbolic link to '${link.target}', which is outside the target folder once extracted`);
      }
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
    const realRoot = fs.realpathSync.native(finalRoot);
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
// Zip

const isUnixMade = (entry: ZipEntry): boolean => entry.versionMadeBy >> 8 === 3;
/** Unix file type bits when the archive was made on Unix (0 otherwise). */
const unixType = (entry: ZipEntry): number => (isUnixMade(entry) ? (entry.externalAttributes >>> 16) & 0o170000 : 0);
const isZipSymlink = (entry: ZipEntry): boolean => unixType(entry) === 0o120000;
const isZipDirectory = (entry: ZipEntry): boolean =>
  entry.name.endsWith('/') || unixType(entry) === 0o040000 || (entry.versionMadeBy >> 8 === 0 && (entry.externalAttributes & 0x10) !== 0);

function zipDirectory(file: string, source: ZipSource): ZipEntry[] {
  try {
    return readZipDirectory(source);
  } catch (err) {
    if (err instanceof ZipFormatError) throw new ArchiveError(file, `${err.message}; delete it and download again`);
    throw err;
  }
}

async function extractZip(file: string, extraction: Extraction): Promise<void> {
  const fd = fs.openSync(file, 'r');
  try {
    const source = descriptorSource(fd);
    const entries = zipDirectory(file, source);
    // names, kinds and sizes are checked before anything is written, so a hostile archive fails fast
    let total = 0;
    for (const entry of entries) {
      extraction.countEntry(entry.name);
      const checked = checkEntryName(entry.name);
      if ('problem' in checked) extraction.refuse(entry.name, checked.problem);
      const type = unixType(entry);
      if (type && !isZipSymlink(entry) && !isZipDirectory(entry) && type !== 0o100000) {
        extraction.refuse(entry.name, 'is a device, FIFO or socket, which an image dataset never holds');
      }
      if (!isZipDirectory(entry) && !isZipSymlink(entry)) {
        total += entry.size;
        if (total > extraction.maxBytes) extraction.reserve(entry.name, total);
      }
    }
    for (const entry of entries) {
      if (isZipDirectory(entry)) {
        extraction.directory(entry.name);
        continue;
      }
      const dataStart = entry.dataOffset;
      const stream = (): Readable =>
        entry.compressedSize === 0 ? Readable.from([]) : fs.createReadStream(file, { start: dataStart, end: dataStart + entry.compressedSize - 1 });
      if (isZipSymlink(entry)) {
        const target = await collect(stream(), entry, extraction);
        extraction.symlink(entry.name, target.toString('utf8'));
        continue;
      }
      const out = extraction.openFile(entry.name, entry.size);
      if (!out) continue;
      let result: { written: number; crc: number };
      try {
        result = await writeZipMember(source, entry, stream, out.fd);
      } catch (err) {
        extraction.refuse(entry.name, `could not be extracted: ${(err as Error).message}`);
      } finally {
        fs.closeSync(out.fd);
      }
      const { written, crc } = result;
      if (written !== entry.size) extraction.refuse(entry.name, `has ${written} bytes but its header says ${entry.size} (corrupt archive)`);
      if (crc !== entry.crc32) extraction.refuse(entry.name, 'fails its CRC-32 check (corrupt archive)');
      extraction.fileWritten(written);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes one member's data to `out`; returns what was written and its CRC-32 (checked by the caller). */
async function writeZipMember(source: ZipSource, entry: ZipEntry, stream: () => Readable, out: number): Promise<{ written: number; crc: number }> {
  if (entry.compressedSize <= SMALL_ENTRY && entry.size <= SMALL_ENTRY) {
    // small members (most dataset images) in one read: far faster than a stream per file
    const stored = source.read(entry.dataOffset, entry.compressedSize);
    const data = entry.method === METHOD_DEFLATE ? zlib.inflateRawSync(stored, { maxOutputLength: Math.max(1, entry.size) }) : stored;
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
  if (entry.method === METHOD_STORED) await pipeline(stream(), sink);
  else await pipeline(stream(), createInflateRaw(), sink);
  return { written, crc };
}

/** A small member (a symlink target) read whole, inflated when needed. */
async function collect(source: Readable, entry: ZipEntry, extraction: Extraction): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    const stream = entry.method === METHOD_DEFLATE ? source.pipe(createInflateRaw()) : source;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > MAX_LINK_TARGET) throw new Error(`a symbolic link target longer than ${MAX_LINK_TARGET} bytes`);
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

/**
 * After the end-of-archive blocks: reads the rest of the stream, which must be zeros (tar pads its last
 * record with them). For a .tar.gz this is what makes gunzip reach — and check — the CRC-32 and length in
 * its trailer; stopping at the end marker would accept a damaged or cut tail as a complete archive.
 */
async function drainAfterEnd(file: string, reader: ByteReader, extraction: Extraction): Promise<void> {
  let drained = 0;
  for (;;) {
    const chunk = await reader.readSome(1 << 20);
    if (chunk.length === 0) return;
    drained += chunk.length;
    if (drained > extraction.maxBytes) extraction.reserve('(after the end-of-archive marker)', drained);
    if (chunk.some((b) => b !== 0)) {
      throw new ArchiveError(file, `has data after its end-of-archive marker (at byte ${reader.position - chunk.length} of the tar data): Expected zeros but received a second archive or garbage`);
    }
  }
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
    if (block.every((b) => b === 0)) return drainAfterEnd(file, reader, extraction); // end-of-archive marker
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
    extraction.countEntry(name);

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
      const out = extraction.openFile(name, size);
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

/** True for the temporary folders temporarySiblingOf(dest) names (left behind by a killed run). */
export function isTemporarySiblingOf(dest: string, name: string): boolean {
  return name.startsWith(`.${path.basename(dest)}.extracting-`);
}

/**
 * Checks what can be checked of a complete archive without extracting it: a .tar.gz is inflated to its end,
 * so that gzip's CRC-32 and length are verified; a zip's directory is read and checked. Throws ArchiveError.
 * A download is accepted only after this, so a damaged or cut file is never kept as a good one.
 */
export async function checkArchiveIntegrity(file: string, limits: ExtractLimits = {}): Promise<ArchiveFormat> {
  const format = sniffArchive(file);
  // tar headers and padding come on top of the file data: twice the data limit bounds the stream generously
  const maxStream = 2 * byteLimit(fs.statSync(file).size, { ...DEFAULT_EXTRACT_LIMITS, ...limits }) + (1 << 20);
  if (format === 'zip') {
    const fd = fs.openSync(file, 'r');
    try {
      zipDirectory(file, descriptorSource(fd));
    } finally {
      fs.closeSync(fd);
    }
  } else if (format === 'tar.gz') {
    try {
      let inflated = 0;
      const input = fs.createReadStream(file);
      const gunzip = input.pipe(createGunzip());
      input.on('error', (err) => gunzip.destroy(err));
      try {
        for await (const chunk of gunzip as AsyncIterable<Buffer>) {
          inflated += chunk.length; // inflating is the check
          if (inflated > maxStream) {
            throw new ArchiveError(file, `is refused: Expected at most ${formatLimit(maxStream)} of tar data for the archive but received more (a gzip bomb?)`);
          }
        }
      } finally {
        input.destroy();
      }
    } catch (err) {
      if (err instanceof ArchiveError) throw err;
      throw new ArchiveError(file, `is corrupt or truncated (${(err as Error).message}): delete it and download again`);
    }
  }
  return format;
}

/**
 * Extracts `file` (zip, tar.gz or tar, recognised by content) so that `dest` — which must not exist —
 * appears only once everything was written and checked. Throws ArchiveError, naming the entry, for any
 * refused member; nothing is left behind then.
 */
export async function extractArchive(file: string, dest: string, options: ExtractOptions = {}): Promise<ExtractSummary> {
  if (fs.existsSync(dest)) throw new Error(`cannot extract ${file}: ${dest} already exists`);
  const format = sniffArchive(file);
  const temporary = temporarySiblingOf(dest);
  fs.mkdirSync(temporary, { recursive: true });
  const extraction = new Extraction(file, temporary, format, fs.statSync(file).size, options.limits ?? {});
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
    const root = extraction.contentRoot(!!options.unwrapSingleFolder);
    extraction.finishLinks(root);
    fs.renameSync(root, dest);
  } finally {
    fs.rmSync(temporary, { recursive: true, force: true });
  }
  return extraction.summary;
}
