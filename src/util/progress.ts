/**
 * Training progress on the console: a redrawn one-line bar (epoch, iteration, ETA, current losses)
 * when the stream is a terminal, and plain occasional lines when it is a file or pipe (CI logs),
 * so logs never fill with carriage returns.
 */

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Iterations (or images) in one epoch. */
  total: number;
  epoch: number;
  /** Last epoch of the run (n_epochs + n_epochs_decay). */
  lastEpoch: number;
  stream?: ProgressStream;
  /** Terminal redraws are limited to one per this many ms. */
  redrawIntervalMs?: number;
  /** Without a terminal, a plain line is written at most once per this many ms. */
  plainIntervalMs?: number;
  /** Clock (ms), replaceable in tests. */
  now?: () => number;
}

/** `1h02m03s`, `4m05s`, `7s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m${String(s).padStart(2, '0')}s`;
  if (m > 0) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

function formatLosses(losses: Readonly<Record<string, number>>): string {
  return Object.entries(losses).map(([name, value]) => `${name} ${value.toFixed(3)}`).join(' ');
}

export class ProgressBar {
  private readonly stream: ProgressStream;
  private readonly isTerminal: boolean;
  private readonly now: () => number;
  private readonly startedAt: number;
  private lastDrawAt = -Infinity;
  private drawnWidth = 0;
  private done = 0;
  private losses: Readonly<Record<string, number>> = {};
  private finished = false;

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stdout;
    this.isTerminal = this.stream.isTTY === true;
    this.now = options.now ?? (() => Date.now());
    this.startedAt = this.now();
  }

  /** The status text for `done` of `total`, e.g. `epoch 3/200 [=====>    ] 120/400 30% ETA 1m05s | G_GAN 1.129`. */
  describe(barWidth = 20): string {
    const { total, epoch, lastEpoch } = this.options;
    const fraction = total > 0 ? Math.min(1, this.done / total) : 0;
    const elapsed = (this.now() - this.startedAt) / 1000;
    const eta = this.done > 0 ? (elapsed / this.done) * Math.max(0, total - this.done) : NaN;
    const filled = Math.round(fraction * barWidth);
    const bar = filled >= barWidth ? '='.repeat(barWidth) : '='.repeat(filled) + '>' + ' '.repeat(barWidth - filled - 1);
    const losses = formatLosses(this.losses);
    const timing = this.done >= total ? `took ${formatDuration(elapsed)}` : `ETA ${formatDuration(eta)}`;
    return `epoch ${epoch}/${lastEpoch} [${bar}] ${this.done}/${total} ${Math.floor(fraction * 100)}% ${timing}${losses ? ` | ${losses}` : ''}`;
  }

  /** Records progress; draws when due (terminal: throttled redraw; otherwise: an occasional plain line). */
  update(done: number, losses?: Readonly<Record<string, number>>): void {
    this.done = done;
    if (losses) this.losses = losses;
    const now = this.now();
    const interval = this.isTerminal ? this.options.redrawIntervalMs ?? 100 : this.options.plainIntervalMs ?? 10_000;
    if (now - this.lastDrawAt < interval) return;
    this.lastDrawAt = now;
    this.draw();
  }

  /** Draws the final state and ends the line. */
  finish(losses?: Readonly<Record<string, number>>): void {
    if (this.finished) return;
    if (losses) this.losses = losses;
    this.finished = true;
    this.draw();
    if (this.isTerminal) this.stream.write('\n');
  }

  /** Prints a message (e.g. a loss record) without breaking the bar. */
  log(message: string): void {
    if (this.isTerminal && this.drawnWidth > 0) {
      this.stream.write(`\r${' '.repeat(this.drawnWidth)}\r${message}\n`);
      this.drawnWidth = 0;
      if (!this.finished) this.draw();
    } else {
      this.stream.write(`${message}\n`);
    }
  }

  private draw(): void {
    if (!this.isTerminal) {
      this.stream.write(`${this.describe()}\n`);
      return;
    }
    const columns = this.stream.columns ?? 80;
    let text = this.describe(Math.max(10, Math.min(30, columns - 60)));
    if (text.length > columns - 1) text = text.slice(0, columns - 1); // never wrap, or \r would not return to the start
    const padding = Math.max(0, this.drawnWidth - text.length);
    this.stream.write(`\r${text}${' '.repeat(padding)}`);
    this.drawnWidth = text.length;
  }
}
