// Visualizer: what a training run shows and leaves behind — loss_log.txt, the web/index.html page of each
// epoch's images (the reference's util/visualizer.py without visdom/wandb), and console output.
import * as fs from 'fs';
import * as path from 'path';
import { HTML } from '../util/html';
import { formatLossLine, LossLog } from '../util/loss_log';
import { writeFileAtomic } from '../util/atomic_write';
import { visualToPng } from '../inference/visuals';
import type { Tensor } from '../tensor';

export interface VisualizerOptions {
  checkpoints_dir: string;
  name: string;
  no_html?: boolean;
  display_winsize: number;
  isTrain: boolean;
}

export class Visualizer {
  readonly webDir: string;
  readonly imageDir: string;
  private readonly log: LossLog | null;
  private savedThisEpoch = false;

  constructor(private readonly opt: VisualizerOptions, private readonly rank = 0) {
    this.webDir = path.join(opt.checkpoints_dir, opt.name, 'web');
    this.imageDir = path.join(this.webDir, 'images');
    if (opt.isTrain && !opt.no_html && rank === 0) fs.mkdirSync(this.imageDir, { recursive: true });
    this.log = rank === 0 ? new LossLog(opt.checkpoints_dir, opt.name) : null;
  }

  /** Called at the start of every epoch (the reference's reset()). */
  reset(): void { this.savedThisEpoch = false; }

  /**
   * Saves the current visuals as web/images/epoch<NNN>_<label>.png and rewrites web/index.html with every epoch
   * so far (newest first), when saveResult or nothing was saved this epoch yet.
   */
  displayCurrentResults(visuals: Map<string, Tensor>, epoch: number, saveResult: boolean): void {
    if (this.opt.no_html || this.rank !== 0 || !(saveResult || !this.savedThisEpoch)) return;
    this.savedThisEpoch = true;
    for (const [label, t] of visuals) {
      writeFileAtomic(path.join(this.imageDir, `epoch${String(epoch).padStart(3, '0')}_${label}.png`), visualToPng(t));
    }
    const page = new HTML(this.webDir, `Experiment name = ${this.opt.name}`, 1);
    const labels = [...visuals.keys()];
    for (let n = epoch; n >= 1; n--) {
      const ims = labels.map((l) => `epoch${String(n).padStart(3, '0')}_${l}.png`).filter((f) => fs.existsSync(path.join(this.imageDir, f)));
      if (ims.length === 0) continue;
      page.addHeader(`epoch [${n}]`);
      page.addImages(ims, ims.map((f) => f.replace(/^epoch\d+_/, '').replace(/\.png$/, '')), ims, this.opt.display_winsize);
    }
    page.save();
  }

  /** Prints and logs one loss record in the reference's current format. */
  printCurrentLosses(epoch: number, epochIter: number, losses: Record<string, number>, tComp: number, tData: number): string {
    // Every rank prints its record (as the reference); only rank 0 has a loss_log.txt.
    return this.log ? this.log.record(epoch, epochIter, losses, tComp, tData, this.rank)
      : formatLossLine(epoch, epochIter, losses, tComp, tData, this.rank);
  }

  appendLog(line: string): void { this.log?.append(line); }
}
