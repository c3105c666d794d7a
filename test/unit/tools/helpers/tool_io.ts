/** A ToolIO that records what a command prints, and temporary folders for the tools tests. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ToolIO } from '../../../../src/tools/tool_args';

export interface CapturedIO extends ToolIO {
  lines: string[];
  errors: string[];
  progressText: string[];
  /** Everything printed, stdout and stderr lines together. */
  text(): string;
}

export function captureIO(tty = false): CapturedIO {
  const lines: string[] = [];
  const errors: string[] = [];
  const progressText: string[] = [];
  const progress = {
    isTTY: tty,
    columns: 100,
    write(chunk: string | Uint8Array) {
      progressText.push(String(chunk));
      return true;
    },
  } as unknown as NodeJS.WritableStream & { isTTY?: boolean };
  return {
    lines,
    errors,
    progressText,
    out: (line) => lines.push(line),
    err: (line) => errors.push(line),
    progress,
    text: () => [...lines, ...errors].join('\n'),
  };
}

const made: string[] = [];

/** A fresh temporary folder, removed by removeTempDirs(). */
export function tempDir(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `img2img-tools-${label}-`));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** Relative paths of every file and link below `dir`, sorted. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else out.push(child);
    }
  };
  walk('');
  return out.sort();
}
