/**
 * What the fuzzer feeds: the image decoders' public entry point (src/data/image_io.ts), the checkpoint readers
 * (src/checkpoint: .pth zip and legacy, safetensors), and the archive reader (src/util/archive.ts, extracting
 * into a scratch folder). A target may fail only with a clean error: one of the project's error classes, or an
 * error whose `code` starts with ERR_IMG2IMG_. Anything else (a TypeError, a RangeError, a plain Error) is a bug.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readStateDictRaw } from '../../src/checkpoint';
import { decodeImage } from '../../src/data/image_io';
import { checkArchiveIntegrity, extractArchive } from '../../src/util/archive';

export type TargetName = 'image' | 'checkpoint' | 'archive' | 'selftest';
export const FUZZ_TARGETS: readonly TargetName[] = ['image', 'checkpoint', 'archive'];

/** The error classes (by name: class identity does not cross processes) that are a clean refusal. */
const CLEAN_ERROR_NAMES = new Set(['ImageFileError', 'CheckpointError', 'ArchiveError']);

export function isCleanError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return CLEAN_ERROR_NAMES.has(err.name) || (typeof code === 'string' && code.startsWith('ERR_IMG2IMG_'));
}

/** Small limits: a fuzz input that extracts or decodes to more is refused quickly, which is what is tested. */
const MAX_PIXELS = 4_000_000;
const ARCHIVE_LIMITS = { maxBytes: 32 << 20, maxEntries: 10_000 };

export async function runTarget(target: TargetName, input: Buffer, scratch: string): Promise<void> {
  switch (target) {
    case 'image':
      decodeImage(input, { name: 'fuzz-input', maxPixels: MAX_PIXELS });
      return;
    case 'checkpoint':
      readStateDictRaw(input, { label: 'fuzz-input' });
      return;
    case 'archive': {
      const file = path.join(scratch, 'input.archive');
      const dest = path.join(scratch, 'out', 'dataset');
      fs.rmSync(path.join(scratch, 'out'), { recursive: true, force: true });
      fs.writeFileSync(file, input);
      try {
        await checkArchiveIntegrity(file);
        await extractArchive(file, dest, { limits: ARCHIVE_LIMITS, unwrapSingleFolder: true });
      } finally {
        fs.rmSync(path.join(scratch, 'out'), { recursive: true, force: true });
      }
      return;
    }
    case 'selftest':
      // the harness's own check: inputs starting with these words hang, crash the process, throw uncleanly, or hoard memory
      if (input.subarray(0, 4).toString('latin1') === 'HANG') for (;;);
      if (input.subarray(0, 5).toString('latin1') === 'CRASH') process.abort();
      if (input.subarray(0, 5).toString('latin1') === 'THROW') throw new TypeError('an unclean error');
      if (input.subarray(0, 5).toString('latin1') === 'GREED') {
        const hoard = Array.from({ length: 64 }, () => Buffer.alloc(16 << 20, 1)); // 1 GiB, touched
        for (;;) if (hoard.length < 0) break;
      }
      return;
  }
}
