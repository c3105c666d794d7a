/**
 * The reference's print_options: every option sorted by name, `{:>25}: {:<30}` plus
 * `\t[default: X]` where the value differs from the parser's default, values printed as Python
 * prints them (True, None, inf, 0.0002, 100.0). Saved as <checkpoints_dir>/<name>/<phase>_opt.txt.
 * Quirks kept on purpose: isTrain shows `[default: None]`, and load_iter always shows `[default: 0]`
 * (its declared default is the string '0'); defaults changed by a model's hook count as defaults.
 */
import * as fs from 'fs';
import * as path from 'path';
import { OptionParser } from './option_parser';
import { pythonEquals, pythonStr } from '../util/python_format';
import { writeFileAtomic } from '../util/atomic_write';

export const OPTIONS_HEADER = '----------------- Options ---------------';
export const OPTIONS_FOOTER = '----------------- End -------------------';

/** Minimal view of the options this module needs. */
export interface PrintableOptions {
  checkpoints_dir: string;
  name: string;
  phase: string;
}

function padStart(text: string, width: number): string {
  const missing = width - [...text].length; // Python counts code points
  return missing > 0 ? ' '.repeat(missing) + text : text;
}

function padEnd(text: string, width: number): string {
  const missing = width - [...text].length;
  return missing > 0 ? text + ' '.repeat(missing) : text;
}

/**
 * The options block exactly as the reference prints it (no trailing newline). Only parser options
 * and isTrain are listed — the keys the reference's namespace holds when it prints (derived values
 * such as gpu_id_list are not).
 */
export function formatOptions(opt: object, parser: OptionParser): string {
  const values = opt as Record<string, unknown>;
  const keys = Object.keys(values).filter((key) => parser.has(key) || key === 'isTrain').sort();
  let message = `${OPTIONS_HEADER}\n`;
  for (const key of keys) {
    const kind = parser.numberKind(key);
    const value = values[key];
    const defaultValue = parser.getDefault(key);
    const comment = pythonEquals(value, defaultValue) ? '' : `\t[default: ${pythonStr(defaultValue, kind)}]`;
    message += `${padStart(key, 25)}: ${padEnd(pythonStr(value, kind), 30)}${comment}\n`;
  }
  return message + OPTIONS_FOOTER;
}

/** Writes `<checkpoints_dir>/<name>/<phase>_opt.txt` (the block plus a newline, atomically) and returns its path. */
export function saveOptions(opt: PrintableOptions, parser: OptionParser): string {
  const experimentDir = path.join(opt.checkpoints_dir, opt.name);
  fs.mkdirSync(experimentDir, { recursive: true });
  const file = path.join(experimentDir, `${opt.phase}_opt.txt`);
  writeFileAtomic(file, `${formatOptions(opt, parser)}\n`);
  return file;
}

/** What the reference's print_options does: print the block, then save it. Returns the saved path. */
export function printOptions(
  opt: PrintableOptions,
  parser: OptionParser,
  print: (text: string) => void = (text) => console.log(text),
): string {
  print(formatOptions(opt, parser));
  return saveOptions(opt, parser);
}
