/**
 * The training loss log of the reference's Visualizer (reference.md §9, 2025 format):
 * `<checkpoints_dir>/<name>/loss_log.txt`, a header line per run, then one record per print step,
 * each followed by a blank line:
 *   [Rank 0] (epoch: 1, iters: 4, time: 1.933, data: 0.031) , G_GAN: 1.129, G_L1: 35.884
 */
import * as fs from 'fs';
import * as path from 'path';
import { pythonFixed } from './python_format';

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Python's `time.strftime('%c')` in the C locale (local time): `Sun Nov  1 17:50:44 2026`. */
export function strftimeC(date: Date = new Date()): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const day = String(date.getDate()).padStart(2, ' '); // %e: space-padded day of month
  const clock = `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
  return `${WEEKDAYS[date.getDay()]} ${MONTHS[date.getMonth()]} ${day} ${clock} ${date.getFullYear()}`;
}

/** The header line the reference writes at the start of every run. */
export function lossLogHeader(date: Date = new Date()): string {
  return `================ Training Loss (${strftimeC(date)}) ================`;
}

/**
 * One loss record as the reference prints it (without the trailing newlines): losses in the given
 * order, each `.3f` with Python's rounding.
 */
export function formatLossLine(
  epoch: number,
  iters: number,
  losses: Readonly<Record<string, number>>,
  tComp: number,
  tData: number,
  rank = 0,
): string {
  let message = `[Rank ${rank}] (epoch: ${epoch}, iters: ${iters}, time: ${pythonFixed(tComp, 3)}, data: ${pythonFixed(tData, 3)}) `;
  for (const [name, value] of Object.entries(losses)) message += `, ${name}: ${pythonFixed(value, 3)}`;
  return message;
}

/** Appends loss records to loss_log.txt; only rank 0 should create one (as in the reference). */
export class LossLog {
  readonly file: string;

  /** Opens (appending) `<checkpointsDir>/<name>/loss_log.txt` and writes the run header. */
  constructor(checkpointsDir: string, name: string, now: Date = new Date()) {
    const folder = path.join(checkpointsDir, name);
    fs.mkdirSync(folder, { recursive: true });
    this.file = path.join(folder, 'loss_log.txt');
    fs.appendFileSync(this.file, `${lossLogHeader(now)}\n`);
  }

  /** Appends one record; the reference's message ends in a newline and is written with another, hence the blank line. */
  append(line: string): void {
    fs.appendFileSync(this.file, `${line}\n\n`);
  }

  /** Formats and appends one record, returning the line (for printing to stdout too). */
  record(epoch: number, iters: number, losses: Readonly<Record<string, number>>, tComp: number, tData: number, rank = 0): string {
    const line = formatLossLine(epoch, iters, losses, tComp, tData, rank);
    this.append(line);
    return line;
  }
}
