// The live training view (`img2img train --display_port N`), in place of the reference's visdom server: loss
// curves, the current visuals, progress with ETA, the options and the learning rate, pushed to any number of
// browsers with Server-Sent Events. Training never waits for a browser: events are written without awaiting,
// a client that falls behind is dropped (it reconnects and gets the whole history again), and the training loop
// only yields one event-loop turn per iteration so that connections are accepted while it runs.
import type { ValidationInfo } from '../train/validation';
import * as http from 'http';
import type { Options } from '../options/parse_options';
import { parseOptionsWithParser } from '../plugins';
import type { OptionParser } from '../options/option_parser';
import { pythonEquals, pythonStr } from '../util/python_format';
import { visualToPng } from '../inference/visuals';
import type { EpochInfo, IterationInfo, TrainingLoopCallbacks } from '../train/trainer';
import {
  closeServer, decodePathPart, guardClientErrors, guardHandler, listen, requestPath, sendAsset, sendBuffer, sendError, sendJson,
  SERVER_TIMEOUTS, urlOf,
} from '../web/http_util';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from './dashboard_page';
import { SseHub, sseFrame } from '../web/sse';

/** Loss points kept for the page; past this the history is thinned to every other point (newest kept). */
const MAX_LOSS_POINTS = 20_000;
/** Visual sets kept so that an image requested just after a newer set arrived is still served. */
const KEPT_VISUAL_SETS = 3;
/** Progress is pushed at most this often (loss points, visuals and epochs go out at once). */
const PROGRESS_INTERVAL_MS = 250;
/** Iteration times averaged for seconds per iteration and the ETA. */
const SPEED_WINDOW = 50;
/** Significant digits of the loss values sent (the chart needs far fewer than a double holds). */
const LOSS_DIGITS = 7;
/** Default bound on what one browser may leave unread before it is dropped. */
const DEFAULT_CLIENT_BUFFER_BYTES = 4 * 1024 * 1024;

export interface DashboardOptions {
  port: number;
  host: string;
  opt: Options;
  /** The parser the options came from (marks values that differ from their defaults); rebuilt when absent. */
  parser?: OptionParser;
  /** Bytes a watcher may leave unread before it is dropped (default 4 MiB). */
  maxClientBufferBytes?: number;
  /** Where unexpected request failures are logged (default stderr). */
  log?: (line: string) => void;
}

export interface Dashboard {
  url: string;
  /** Wraps the caller's callbacks (called after the dashboard's own) into the callbacks to give the training loop. */
  attach(callbacks: TrainingLoopCallbacks): TrainingLoopCallbacks;
  /** Tells the watchers the run is over, ends their streams and stops listening. */
  close(): Promise<void>;
  /** Watchers now, dropped and connected so far. */
  stats(): { clients: number; dropped: number; connected: number };
}

/** One row of the options table; `default` only where the value differs from it. */
export interface OptionRow { key: string; value: string; default?: string }

export interface LossPoint { it: number; epoch: number; epochIter: number; losses: Record<string, number> }

export interface Progress {
  epoch: number; epochIter: number; epochSize: number; startEpoch: number; lastEpoch: number; totalIters: number;
  lr: number; tComp: number; tData: number;
  /** Wall seconds per optimization step (averaged), including data loading and saving. */
  secPerIter: number | null;
  etaSeconds: number | null;
  elapsedSeconds: number;
}

interface RunInfo {
  name: string; model: string; dataroot: string; direction?: string; device: string; netG?: string;
  lossNames: string[]; visualNames: string[]; datasetSize: number; startEpoch: number; lastEpoch: number;
  batchSize: number; printFreq?: number; displayFreq?: number;
}

interface VisualSet {
  seq: number; epoch: number; totalIters: number;
  images: { label: string; width: number; height: number; png: Buffer }[];
}

type RunState = 'waiting' | 'training' | 'finished';

function optionRows(opt: Options, parser: OptionParser | undefined): OptionRow[] {
  const values: Record<string, unknown> = opt;
  const keys = Object.keys(values).filter((k) => (parser ? parser.has(k) || k === 'isTrain' : typeof values[k] !== 'object' || values[k] === null)).sort();
  return keys.map((key) => {
    const kind = parser?.numberKind(key) ?? 'float';
    const row: OptionRow = { key, value: parser ? pythonStr(values[key], kind) : String(values[key]) };
    if (parser && key !== 'isTrain') {
      const def = parser.getDefault(key);
      if (!pythonEquals(values[key], def)) row.default = pythonStr(def, kind);
    }
    return row;
  });
}

/** The parser the trainer would use for these options (only to tell defaults apart); none when that fails. */
function parserFor(opt: Options): OptionParser | undefined {
  try {
    return parseOptionsWithParser(['--dataroot', opt.dataroot, '--model', opt.model, '--dataset_mode', opt.dataset_mode],
      { isTrain: opt.isTrain ?? true, chooseSeed: () => 0 }).parser;
  } catch {
    return undefined;
  }
}

/** Width and height from a PNG's IHDR. */
function pngSize(png: Buffer): { width: number; height: number } {
  return png.length >= 24 ? { width: png.readUInt32BE(16), height: png.readUInt32BE(20) } : { width: 0, height: 0 };
}

/** The state of one run as the page sees it, and what changes it. */
class DashboardState {
  state: RunState = 'waiting';
  run: RunInfo | null = null;
  options: OptionRow[];
  lossNames: string[] = [];
  points: LossPoint[] = [];
  /** Learning rate at the iterations where it changed: [totalIters, lr]. */
  lrPoints: [number, number][] = [];
  epochs: EpochInfo[] = [];
  progress: Progress | null = null;
  visuals: VisualSet[] = [];
  /** --val_freq results, one per validation: the metric's value and the best so far. */
  validations: ValidationInfo[] = [];
  private nextVisualSeq = 1;
  private readonly stepMs: number[] = [];
  private lastStepAt: number | null = null;
  private startedAt = Date.now();

  constructor(opt: Options, private readonly parser: OptionParser | undefined) {
    this.options = optionRows(opt, parser);
  }

  start(info: Parameters<NonNullable<TrainingLoopCallbacks['onStart']>>[0]): void {
    const { opt, model } = info;
    this.options = optionRows(opt, this.parser);
    this.run = {
      name: opt.name, model: opt.model, dataroot: opt.dataroot, direction: opt.direction, device: opt.device,
      netG: opt.netG, lossNames: [...model.lossNames], visualNames: [...model.visualNames], datasetSize: info.datasetSize,
      startEpoch: info.startEpoch, lastEpoch: info.lastEpoch, batchSize: opt.batch_size,
      printFreq: opt.print_freq, displayFreq: opt.display_freq,
    };
    for (const n of model.lossNames) if (!this.lossNames.includes(n)) this.lossNames.push(n);
    this.state = 'training';
    this.startedAt = Date.now();
    this.lastStepAt = Date.now();
  }

  /** Records one step; returns the loss point when this was a print step. */
  iteration(info: IterationInfo): { point: LossPoint | null; lrChanged: boolean } {
    const now = Date.now();
    if (this.lastStepAt !== null) {
      this.stepMs.push(now - this.lastStepAt);
      if (this.stepMs.length > SPEED_WINDOW) this.stepMs.shift();
    }
    this.lastStepAt = now;
    if (this.state === 'waiting') this.state = 'training';
    const batch = this.run?.batchSize ?? 1;
    const secPerIter = this.stepMs.length ? this.stepMs.reduce((a, b) => a + b, 0) / this.stepMs.length / 1000 : null;
    const remainingImages = Math.max(0, (info.lastEpoch - info.epoch) * info.epochSize + info.epochSize - info.epochIter);
    this.progress = {
      epoch: info.epoch, epochIter: info.epochIter, epochSize: info.epochSize, lastEpoch: info.lastEpoch,
      startEpoch: this.run?.startEpoch ?? 1, totalIters: info.totalIters, lr: info.lr, tComp: info.tComp, tData: info.tData,
      secPerIter, etaSeconds: secPerIter === null ? null : Math.ceil(remainingImages / batch) * secPerIter,
      elapsedSeconds: (now - this.startedAt) / 1000,
    };
    const lastLr = this.lrPoints[this.lrPoints.length - 1];
    const lrChanged = !lastLr || lastLr[1] !== info.lr;
    if (lrChanged) this.lrPoints.push([info.totalIters, info.lr]);
    if (!info.losses) return { point: null, lrChanged };
    for (const n of Object.keys(info.losses)) if (!this.lossNames.includes(n)) this.lossNames.push(n);
    const losses: Record<string, number> = {};
    for (const [k, v] of Object.entries(info.losses)) losses[k] = Number.isFinite(v) ? Number(v.toPrecision(LOSS_DIGITS)) : v;
    const point: LossPoint = { it: info.totalIters, epoch: info.epoch, epochIter: info.epochIter, losses };
    this.points.push(point);
    if (this.points.length > MAX_LOSS_POINTS) this.points = this.points.filter((_, i, a) => i % 2 === 1 || i === a.length - 1);
    return { point, lrChanged };
  }

  addVisuals(epoch: number, totalIters: number, visuals: Map<string, import('../tensor').Tensor>): VisualSet {
    const images = [...visuals].map(([label, t]) => {
      const png = visualToPng(t);
      return { label, png, ...pngSize(png) };
    });
    const set: VisualSet = { seq: this.nextVisualSeq++, epoch, totalIters, images };
    this.visuals.push(set);
    if (this.visuals.length > KEPT_VISUAL_SETS) this.visuals.shift();
    return set;
  }

  epoch(info: EpochInfo): void {
    this.epochs.push({ ...info, losses: { ...info.losses } });
    if (info.epoch >= (this.run?.lastEpoch ?? Infinity)) this.state = 'finished';
  }

  findImage(seq: number, label: string): Buffer | null {
    const set = this.visuals.find((v) => v.seq === seq) ?? this.visuals[this.visuals.length - 1];
    return set?.images.find((i) => i.label === label)?.png ?? null;
  }

  /** Everything a page needs to draw itself from scratch. */
  snapshot(): object {
    const latest = this.visuals[this.visuals.length - 1];
    return {
      state: this.state, run: this.run, options: this.options, lossNames: this.lossNames, points: this.points,
      lrPoints: this.lrPoints, epochs: this.epochs, progress: this.progress, visuals: latest ? visualsMeta(latest) : null,
      validations: this.validations,
    };
  }
}

function visualsMeta(set: VisualSet): object {
  return {
    seq: set.seq, epoch: set.epoch, totalIters: set.totalIters,
    images: set.images.map(({ label, width, height }) => ({ label, width, height })),
  };
}

/** Starts the training view on host:port (0 picks a free port); resolves once it listens. */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const { port, host, opt } = options;
  const state = new DashboardState(opt, options.parser ?? parserFor(opt));
  const hub = new SseHub({ maxBufferBytes: options.maxClientBufferBytes ?? DEFAULT_CLIENT_BUFFER_BYTES });
  let progressTimer: NodeJS.Timeout | null = null;
  let progressSentAt = 0;
  let closed = false;
  const warned = new Set<string>();

  const server = http.createServer(SERVER_TIMEOUTS, guardHandler('dashboard', (req, res) => {
    const route = requestPath(req);
    if (req.method !== 'GET' && req.method !== 'HEAD') { sendError(res, 405, `${req.method} is not allowed here`, { Allow: 'GET, HEAD' }); return; }
    const visual = /^\/visuals\/(\d+)\/([^/]+)\.png$/.exec(route);
    if (route === '/' || route === '/index.html') sendAsset(req, res, DASHBOARD_HTML);
    else if (route === '/dashboard.js') sendAsset(req, res, DASHBOARD_JS);
    else if (route === '/dashboard.css') sendAsset(req, res, DASHBOARD_CSS);
    else if (route === '/events') hub.add(req, res, sseFrame('init', state.snapshot()));
    else if (route === '/api/state') sendJson(res, 200, { ...state.snapshot(), watchers: hub.stats() });
    else if (route === '/favicon.ico') { res.writeHead(204).end(); }
    else if (visual) {
      const label = decodePathPart(visual[2], 'visual name');
      const png = state.findImage(Number(visual[1]), label);
      if (png) sendBuffer(req, res, 'image/png', png, { 'Cache-Control': 'private, max-age=3600' });
      else sendError(res, 404, `no visual ${label.slice(0, 200)} yet`);
    } else sendError(res, 404, `nothing at ${route.slice(0, 200)}`);
  }, options.log));
  guardClientErrors(server);
  const address = await listen(server, port, host, { port: '--display_port', host: '--display_host' });

  const sendProgress = () => {
    progressTimer = null;
    progressSentAt = Date.now();
    if (state.progress) hub.broadcast('progress', state.progress);
  };
  const pushProgress = (now: boolean) => {
    if (now || Date.now() - progressSentAt >= PROGRESS_INTERVAL_MS) {
      if (progressTimer) clearTimeout(progressTimer);
      sendProgress();
    } else if (!progressTimer) {
      progressTimer = setTimeout(sendProgress, PROGRESS_INTERVAL_MS - (Date.now() - progressSentAt));
      progressTimer.unref();
    }
  };
  /** The dashboard never stops a run: a failure is reported once on stderr and that update is skipped. */
  const guarded = (what: string, fn: () => void) => {
    if (closed) return;
    try {
      fn();
    } catch (e) {
      if (!warned.has(what)) {
        warned.add(what);
        process.stderr.write(`dashboard: ${what} failed (${(e as Error).message}); training goes on\n`);
      }
    }
  };

  const own: Required<Pick<TrainingLoopCallbacks, 'onStart' | 'onIteration' | 'onVisuals' | 'onEpoch' | 'onValidation'>> = {
    onStart: (info) => guarded('start', () => {
      state.start(info);
      hub.broadcast('init', state.snapshot());
    }),
    onIteration: (info) => guarded('progress', () => {
      const { point, lrChanged } = state.iteration(info);
      if (point) hub.broadcast('loss', point);
      if (lrChanged) hub.broadcast('lr', state.lrPoints[state.lrPoints.length - 1]);
      pushProgress(point !== null);
    }),
    onVisuals: ({ epoch, totalIters, visuals }) => guarded('visuals', () => {
      hub.broadcast('visuals', visualsMeta(state.addVisuals(epoch, totalIters, visuals)));
    }),
    onEpoch: (info) => guarded('epoch', () => {
      state.epoch(info);
      hub.broadcast('epoch', state.epochs[state.epochs.length - 1]);
      if (state.state === 'finished') hub.broadcast('state', { state: state.state });
      pushProgress(true);
    }),
    onValidation: (info) => guarded('validation', () => {
      state.validations.push({ ...info, best: { ...info.best } });
      hub.broadcast('validation', info);
    }),
  };

  /** One event-loop turn, so that the server accepts and answers while the (synchronous) steps run. */
  const yieldToServer = () => new Promise<void>((resolve) => setImmediate(resolve));

  return {
    url: urlOf(host, address.port),
    attach(callbacks: TrainingLoopCallbacks = {}): TrainingLoopCallbacks {
      return {
        ...callbacks,
        onStart(info) { own.onStart(info); callbacks.onStart?.(info); },
        async onIteration(info) {
          own.onIteration(info);
          await callbacks.onIteration?.(info);
          if (!closed) await yieldToServer();
        },
        onVisuals(info) { own.onVisuals(info); callbacks.onVisuals?.(info); },
        async onEpoch(info) { own.onEpoch(info); await callbacks.onEpoch?.(info); },
        async onValidation(info) { own.onValidation(info); await callbacks.onValidation?.(info); },
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (progressTimer) clearTimeout(progressTimer);
      progressTimer = null;
      const progress = state.progress ? sseFrame('progress', state.progress) : '';
      await hub.close(progress + sseFrame('closed', { state: state.state }));
      await closeServer(server);
    },
    stats: () => hub.stats(),
  };
}
