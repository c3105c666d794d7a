// BaseModel: what every model shares (the reference's models/base_model.py). A model declares lossNames,
// modelNames, visualNames and its optimizers, and implements setInput/forward/optimizeParameters; this class
// turns those lists into losses, visuals, saving, loading, LR updates and resumable training state.
import * as fs from 'fs';
import * as path from 'path';
import { isTrainOptions } from '../options/parse_options';
import type { Options } from '../options/parse_options';
import type { OptionHook } from '../options/plugin_options';
import { defineD, defineG, Network } from '../networks';
import { Adam } from '../optim';
import { resolveDevice } from '../runtime';
import type { ResolvedDevice } from '../device';
import { native } from '../native';
import { keep, noGrad, Tensor, tidy } from '../tensor';
import { createScheduler, LrScheduler } from './schedulers';
import { PythonRandom } from '../util/python_random';
import { loadCheckpoint, saveNetworkCheckpoint } from '../checkpoint/network_checkpoint';
import { findNetworkCheckpoint, listNetworkCheckpoints, loadLabel, networkFileName, trainingStateFileName } from '../checkpoint/run_checkpoints';
import { checkPrecision, Precision } from '../precision';
import { DynamicLossScaler } from '../loss_scaler';

/** One batch as the models take it: tensors or raw CHW floats with their shapes, plus image paths. */
export interface ModelInput {
  A?: Tensor | { data: Float32Array; shape: number[] };
  B?: Tensor | { data: Float32Array; shape: number[] };
  A_paths?: string[] | string;
  B_paths?: string[] | string;
}

/** Parsed options as a model reads them: the shared ones plus the flags of its own hook (O, absent at test time). */
export type ModelOptions<O extends object = object> = Options & Partial<O>;

/** A model class, as the registry holds them. */
export type ModelClass = new (opt: ModelOptions) => BaseModel;

/**
 * A model plugin, what `--model <name>` finds in the registry (src/models/index.ts). Its file declares everything
 * about the model: the option hook (the reference's modify_commandline_options), the class (which sets lossNames,
 * visualNames and modelNames), and which saved networks describe a run.
 */
export interface ModelPlugin {
  options: OptionHook;
  model: ModelClass;
  /**
   * The saved networks whose descriptions give a resumed (train) or tested (test) run its architecture options:
   * at most one generator and one discriminator, as they share the architecture flags.
   */
  describingNetworks(opt: ModelOptions): string[];
}

/** What every model shares (the reference's BaseModel): a model declares lossNames, modelNames, visualNames and optimizers and implements setInput, forward and optimizeParameters. */
export abstract class BaseModel<O extends object = object> {
  readonly opt: ModelOptions<O>;
  readonly isTrain: boolean;
  readonly device: ResolvedDevice;
  /** Autocast dtype of every network's forward (--precision, checked against the device here, at the edge). */
  readonly precision: Precision;
  readonly saveDir: string;
  lossNames: string[] = [];
  modelNames: string[] = [];
  visualNames: string[] = [];
  optimizers: Adam[] = [];
  schedulers: LrScheduler[] = [];
  /** Networks by model name ('G', 'D', 'G_A', …). */
  readonly networks: Record<string, Network> = {};
  imagePaths: string[] = [];
  /** The reference's metric for the plateau policy (never updated by shipped models). */
  metric = 0;
  /** Python-random-compatible generator for the model's own draws (ImagePool). */
  readonly rng: PythonRandom;
  /** False on ranks > 0 of a distributed run: only rank 0 writes checkpoints (saveNetworks writes nothing). */
  writesFiles = true;

  protected readonly tensors = new Map<string, Tensor>();
  protected readonly losses = new Map<string, Tensor | number>();
  /** Whether setup() retained the large-block CPU cache (released once, in dispose). */
  private holdsBlockCache = false;

  constructor(opt: ModelOptions<O>) {
    this.opt = opt;
    this.isTrain = !!opt.isTrain;
    this.device = resolveDevice(opt.device);
    this.precision = checkPrecision(opt.precision, this.device, { force: opt.force_precision, option: '--precision' });
    this.saveDir = path.join(opt.checkpoints_dir, opt.name);
    this.rng = new PythonRandom(((opt.seed ?? 0) + 1) >>> 0);
    // As the reference: cuDNN autotuning unless image sizes vary (scale_width).
    if (this.device.startsWith('cuda')) native().setCudnnBenchmark(opt.preprocess !== 'scale_width');
  }

  /** Model-specific setInput: move the batch to the device and unpack it according to the direction. */
  abstract setInput(input: ModelInput): void;
  /** Runs the generators on the current input (the reference's forward()). */
  abstract forward(): void;
  /** One training step: forward, then the D and G updates. */
  abstract optimizeParameters(): void;

  /** Builds a generator with this model's options (construction only: init happens in initNetworks). */
  protected defineG(inputNc: number, outputNc: number): Network {
    const o = this.opt;
    return defineG({ netG: o.netG, inputNc, outputNc, ngf: o.ngf, norm: o.norm, useDropout: !o.no_dropout, skipInit: true });
  }
  protected defineD(inputNc: number): Network {
    const o = this.opt;
    return defineD({ netD: o.netD, inputNc, ndf: o.ndf, nLayersD: o.n_layers_D, norm: o.norm, skipInit: true });
  }

  /**
   * The reference's setup(), first half: for each model name in order, move to the device and apply init_weights
   * (all networks are constructed before any is initialised, as in the 2025 reference).
   */
  protected initNetworks(): void {
    for (const name of this.modelNames) {
      const net = this.networks[name];
      if (this.device !== 'cpu') net.to(this.device);
      net.initWeights(this.opt.init_type, this.opt.init_gain);
      net.precision = this.precision;
    }
  }

  /** The reference's setup(), second half: load checkpoints when testing or continuing, then schedulers. */
  setup(): void {
    if (!this.isTrain || this.opt.continue_train) {
      const loadSuffix = loadLabel(this.opt);
      // A resumable training state holds the weights too (the trainer restores it after setup).
      const hasState = this.isTrain && fs.existsSync(path.join(this.saveDir, trainingStateFileName(loadSuffix)));
      if (!hasState) this.loadNetworks(loadSuffix);
    }
    const opt = this.opt;
    if (isTrainOptions(opt)) this.schedulers = this.optimizers.map((o) => createScheduler(opt, o.lr));
    // Training frees and re-allocates the same large CPU blocks every step: keep them for reuse while this model
    // lives (cpp/cpu_block_cache.cc; 450 k -> 42 k page faults over a 7-step pix2pix unet_256 run).
    if (this.isTrain && this.device === 'cpu' && !this.holdsBlockCache) {
      native().retainCpuBlockCache();
      this.holdsBlockCache = true;
    }
  }

  /** The reference's Adam; fp16 training gives each optimizer its dynamic loss scaler. */
  protected adam(params: Tensor[]): Adam {
    const optimizer = new Adam(params, { lr: this.opt.lr ?? 0.0002, beta1: this.opt.beta1 ?? 0.5 });
    if (this.precision === 'fp16') optimizer.lossScaler = new DynamicLossScaler();
    return optimizer;
  }

  /** loss.backward() for the gradients `optimizer` will apply (multiplied by its loss scale under fp16). */
  protected backward(loss: Tensor, optimizer: Adam): void {
    (optimizer.lossScaler ? optimizer.lossScaler.scaleLoss(loss) : loss).backward();
  }

  /** Converts an input entry to a tensor on the model's device. The model owns the result. */
  protected toDeviceTensor(v: ModelInput['A'], what: string): Tensor {
    if (!v) throw new Error(`setInput needs ${what}`);
    if (v instanceof Tensor) return v.device === this.device ? v.clone() : v.to(this.device);
    return Tensor.fromFloat32Array(v.data, v.shape, this.device);
  }

  /**
   * Unpacks a paired batch by --direction (the reference's set_input): `names[0]` gets the input side, `names[1]` the
   * target side, and the image paths follow the input side.
   */
  protected setDirectedInput(input: ModelInput, names: [string, string] = ['real_A', 'real_B']): void {
    const AtoB = this.opt.direction === 'AtoB';
    this.setTensor(names[0], this.toDeviceTensor(AtoB ? input.A : input.B, AtoB ? 'A' : 'B'));
    this.setTensor(names[1], this.toDeviceTensor(AtoB ? input.B : input.A, AtoB ? 'B' : 'A'));
    this.imagePaths = pathsOf(AtoB ? input.A_paths : input.B_paths);
  }

  /** Replaces a named tensor (a visual or an intermediate) and frees the previous one. */
  protected setTensor(name: string, t: Tensor | null): void {
    const prev = this.tensors.get(name);
    if (prev && prev !== t) prev.dispose();
    // The model owns its named tensors: they survive the tidy() scope of the step that made them.
    if (t) this.tensors.set(name, keep(t)); else this.tensors.delete(name);
  }
  protected getTensor(name: string): Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`${name} is not set: call setInput() and forward() first`);
    return t;
  }
  /** Keeps a loss (detached) for getCurrentLosses; the value is read lazily. */
  protected setLoss(name: string, t: Tensor | number): void {
    const prev = this.losses.get(name);
    if (prev instanceof Tensor) prev.dispose();
    this.losses.set(name, typeof t === 'number' ? t : keep(t.detach()));
  }

  /** Loss name -> value, in lossNames order (the reference's get_current_losses). */
  getCurrentLosses(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const name of this.lossNames) {
      const v = this.losses.get(name);
      if (v === undefined) continue;
      out[name] = typeof v === 'number' ? v : v.item();
    }
    return out;
  }

  /** Visual name -> tensor (shared; copy before keeping). */
  getCurrentVisuals(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const name of this.visualNames) {
      const t = this.tensors.get(name);
      if (t) out.set(name, t);
    }
    return out;
  }

  /** The file paths of the current input batch. */
  getImagePaths(): string[] { return this.imagePaths; }

  /**
   * Runs once on the first training batch before the first optimizeParameters, for models whose networks are shaped
   * by data (CUT's data_dependent_initialize builds its PatchSampleF here). Most models need nothing.
   */
  dataDependentInitialize(_input: ModelInput): void { /* most models are fully built by their constructor */ }

  /** Called with a training state's tensor shapes before it is restored: a model builds what the state holds but it lacks yet (CUT's F). */
  prepareForTrainingState(_shapes: Map<string, { shape: number[] }>): void { /* most models are fully built by their constructor */ }

  /** Hook for models whose visuals need post-processing (colorization). */
  computeVisuals(): void { /* most models show their tensors as they are */ }

  /** Forward without gradients, then computeVisuals (the reference's test()). */
  test(): void {
    noGrad(() => tidy(() => { this.forward(); }));
    this.computeVisuals();
  }

  /** Every network in eval mode. */
  eval(): void { for (const n of this.modelNames) this.networks[n].eval(); }
  /** Every network in training mode. */
  train(): void { for (const n of this.modelNames) this.networks[n].train(); }

  /** Turns gradients of `nets` on or off (the reference's set_requires_grad). */
  setRequiresGrad(nets: Network[], on: boolean): void { for (const n of nets) n.setRequiresGrad(on); }

  /** Steps every scheduler at the end of an epoch; returns [old, new] LR of the first optimizer. */
  updateLearningRate(): [number, number] {
    const old = this.optimizers[0]?.lr ?? 0;
    this.schedulers.forEach((s, i) => {
      if (s.policy === 'plateau') s.step(this.metric); else s.step();
      this.optimizers[i].lr = s.lr;
    });
    return [old, this.optimizers[0]?.lr ?? 0];
  }

  /** Network description context stored in our sidecars. */
  protected checkpointContext(epoch: string | number): Record<string, string | number | boolean> {
    return { model: this.opt.model, direction: this.opt.direction, name: this.opt.name, epoch: String(epoch) };
  }

  /** Writes `<epoch>_net_<name>.pth` (+ sidecar, with `context` added to its own) for every model name, atomically. */
  saveNetworks(epoch: string | number, context: Record<string, string | number | boolean> = {}): string[] {
    if (!this.writesFiles) return [];
    fs.mkdirSync(this.saveDir, { recursive: true });
    const files: string[] = [];
    for (const name of this.modelNames) {
      const file = path.join(this.saveDir, networkFileName(epoch, name));
      saveNetworkCheckpoint(this.networks[name], file, { ...this.checkpointContext(epoch), ...context });
      files.push(file);
    }
    return files;
  }

  /** Loads `<epoch>_net_<name>.pth` (or .safetensors) for every model name, with the InstanceNorm patch. */
  loadNetworks(epoch: string | number): void {
    for (const name of this.modelNames) {
      const file = findNetworkCheckpoint(this.saveDir, epoch, this.checkpointName(name));
      if (!file) {
        throw new Error(`checkpoint ${path.join(this.saveDir, networkFileName(epoch, this.checkpointName(name)))} does not exist (looked for --epoch ${this.opt.epoch}` +
          `${this.opt.load_iter > 0 ? `, --load_iter ${this.opt.load_iter}` : ''} in ${this.saveDir}); ` +
          `available: ${listNetworkCheckpoints(this.saveDir).join(', ') || 'none'}`);
      }
      const ck = loadCheckpoint(file);
      this.networks[name].loadStateDict(ck.tensors, { what: `checkpoint ${file}` });
    }
  }

  /** The file name part of a network (test model: G + model_suffix). */
  protected checkpointName(name: string): string { return name; }

  /** Total parameter counts, as print_networks. */
  describeNetworks(verbose = false): string {
    const lines = ['---------- Networks initialized -------------'];
    for (const name of this.modelNames) {
      const net = this.networks[name];
      if (verbose) lines.push(net.describe());
      lines.push(`[Network ${name}] Total number of parameters : ${(net.numParameters() / 1e6).toFixed(3)} M`);
    }
    lines.push('-----------------------------------------------');
    return lines.join('\n');
  }

  /** Releases every native tensor and network of the model. */
  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
    for (const v of this.losses.values()) if (v instanceof Tensor) v.dispose();
    this.losses.clear();
    for (const n of Object.values(this.networks)) n.dispose();
    if (this.holdsBlockCache) {
      this.holdsBlockCache = false;
      native().releaseCpuBlockCache();
    }
  }

  /** Extra state beyond weights and optimizers (ImagePools): named tensor lists. */
  extraState(): Record<string, Tensor[]> { return {}; }
  /** Restores what a model saves beyond its networks and optimizers (image pools); none by default. */
  restoreExtraState(_state: Record<string, Tensor[]>): void { /* models with pools override */ }
}

/** Normalises image paths from a batch into a list. */
export function pathsOf(v: string[] | string | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}
