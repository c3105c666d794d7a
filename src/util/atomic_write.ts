/**
 * Writes a file so that readers see either the old content or the complete new content, never a torn file:
 * write a temporary file next to the target, fsync it, rename it over the target, fsync the folder.
 * A full disk (ENOSPC) or any other error leaves the previous file untouched and no temporary behind; a crash
 * (kill -9, power loss) leaves the previous file untouched and at most a stale `<target>.tmp-<pid>-<hex>`, which
 * removeStaleTemporaries() cleans up and which no reader takes for a checkpoint (its name does not end in .pth).
 *
 * Test hook: IMG2IMG_FAULT_SAVE_DELAY_MS=<ms> makes writeFileAtomic sleep that long (blocking the thread; the async
 * twin waits on a timer) after the temporary file is complete and before the rename, so a test can kill the
 * process in the middle of a save.
 * It is read on every call and does nothing unless set; never set it outside tests.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';

export type AtomicWriteData = Buffer | string | ReadonlyArray<Buffer>;

/** Thrown when a write fails; the message names the target and the cause (e.g. ENOSPC). */
export class AtomicWriteError extends Error {
  readonly code = 'ERR_IMG2IMG_WRITE';
  readonly path: string;

  constructor(target: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`Could not write ${target}: ${reason} (the previous file, if any, is unchanged)`, { cause });
    this.name = 'AtomicWriteError';
    this.path = target;
  }
}

/** Same folder as the target, so the final rename never crosses file systems. */
function temporaryPathFor(target: string): string {
  return `${target}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** `<target>.tmp-<pid>-<12 hex digits>`, as temporaryPathFor names them. */
const TEMPORARY_NAME = /\.tmp-(\d+)-[0-9a-f]{12}$/;

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * Removes the temporaries that writers killed in the middle of a save left in `folder` (those of processes that
 * no longer run; a live writer's file is never touched). Returns the removed file names.
 */
export function removeStaleTemporaries(folder: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(folder);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMPORARY_NAME.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || isProcessAlive(pid)) continue;
    try {
      fs.rmSync(path.join(folder, name), { force: true });
      removed.push(name);
    } catch {
      // cannot remove it: it stays harmless (no reader takes it for a checkpoint)
    }
  }
  return removed;
}

function faultInjectionDelayMs(): number {
  const ms = Number(process.env.IMG2IMG_FAULT_SAVE_DELAY_MS ?? 0);
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

/** The IMG2IMG_FAULT_SAVE_DELAY_MS test hook (see the file comment): blocks the thread, as a slow disk would. */
function faultInjectionDelay(): void {
  const ms = faultInjectionDelayMs();
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The same hook for writeFileAtomicAsync: waits without blocking the event loop. */
async function faultInjectionDelayAsync(): Promise<void> {
  const ms = faultInjectionDelayMs();
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
}

function chunksOf(data: AtomicWriteData): ReadonlyArray<Buffer> {
  if (typeof data === 'string') return [Buffer.from(data, 'utf8')];
  if (Buffer.isBuffer(data)) return [data];
  return data;
}

/** Checked as each chunk is written, so a bad chunk fails the write like any I/O error (and is cleaned up alike). */
function assertChunk(chunk: unknown, index: number): asserts chunk is Buffer {
  if (!Buffer.isBuffer(chunk)) throw new TypeError(`Expected a Buffer for chunk ${index} of the data but received ${typeof chunk}`);
}

function writeAllSync(fd: number, chunk: Buffer): void {
  let written = 0;
  while (written < chunk.length) {
    written += fs.writeSync(fd, chunk, written, chunk.length - written);
  }
}

/** Makes the rename durable. Some file systems refuse fsync on a folder; the rename itself already happened then. */
function fsyncFolderSync(folder: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(folder, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    if (!isFolderSyncUnsupported(err)) throw err;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

async function fsyncFolder(folder: string): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(folder, 'r');
    await handle.sync();
  } catch (err) {
    if (!isFolderSyncUnsupported(err)) throw err;
  } finally {
    await handle?.close();
  }
}

function isFolderSyncUnsupported(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EINVAL' || code === 'EISDIR' || code === 'EPERM' || code === 'EACCES';
}

/** Writes `data` to `target` atomically (see the file comment). Throws AtomicWriteError on any failure. */
export function writeFileAtomic(target: string, data: AtomicWriteData): void {
  const temporary = temporaryPathFor(target);
  let fd: number | undefined;
  try {
    fd = fs.openSync(temporary, 'wx', 0o666);
    chunksOf(data).forEach((chunk, index) => {
      assertChunk(chunk, index);
      writeAllSync(fd as number, chunk);
    });
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    faultInjectionDelay();
    fs.renameSync(temporary, target);
    fsyncFolderSync(path.dirname(target));
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failing; the original error is the one to report
      }
    }
    fs.rmSync(temporary, { force: true });
    throw new AtomicWriteError(target, err);
  }
}

/** The asynchronous twin of writeFileAtomic: same steps, on the libuv pool. */
export async function writeFileAtomicAsync(target: string, data: AtomicWriteData): Promise<void> {
  const temporary = temporaryPathFor(target);
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(temporary, 'wx', 0o666);
    const chunks = chunksOf(data);
    for (let index = 0; index < chunks.length; index++) {
      const chunk = chunks[index];
      assertChunk(chunk, index);
      let written = 0;
      while (written < chunk.length) {
        const result = await handle.write(chunk, written, chunk.length - written);
        written += result.bytesWritten;
      }
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await faultInjectionDelayAsync();
    await fs.promises.rename(temporary, target);
    await fsyncFolder(path.dirname(target));
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await fs.promises.rm(temporary, { force: true });
    throw new AtomicWriteError(target, err);
  }
}
