// The resumable state of a training run (the reference saves weights only): every `latest` save also writes
// <epoch>_state.safetensors holding the networks, Adam moments and steps, scheduler states, counters, ImagePool
// contents and every RNG state, in one file renamed into place, so a kill at any moment leaves either the
// previous complete state or the new one.
import * as fs from 'fs';
import * as path from 'path';
import type { BaseModel } from '../models/base_model';
import type { PythonRandomState } from '../util/python_random';
import type { SchedulerState } from '../models/schedulers';
import { readStateDictRaw, writeSafetensorsRaw } from '../checkpoint';
import type { RawStateDict, RawTensor } from '../checkpoint/raw_tensor';
import { networkToRaw } from '../checkpoint/network_checkpoint';
import { STATE_KEY, trainingStateFileName } from '../checkpoint/run_checkpoints';
import { getRngState, setRngState } from '../runtime';
import { Tensor } from '../tensor';
import type { LossScalerState } from '../loss_scaler';


export interface TrainingCounters {
  /** Epoch the state belongs to. */
  epoch: number;
  /** Images seen in this epoch when saved (0 when the epoch is complete). */
  epochIter: number;
  totalIters: number;
  /** True when saved after the epoch ended (after the LR update): resume at epoch + 1. */
  epochComplete: boolean;
}

export interface TrainingStateMeta extends TrainingCounters {
  version: 1;
  model: string;
  modelNames: string[];
  seed: number;
  adamSteps: number[][];
  lrs: number[];
  /** fp16 runs: each optimizer's loss scaler (null where it has none); absent in states written before issue 20. */
  lossScalers?: Array<LossScalerState | null>;
  schedulers: SchedulerState[];
  torchRng: string;
  dataRng: PythonRandomState | null;
  /** Data RNG at the start of the saved epoch: a mid-epoch resume replays that epoch's order from it. */
  dataRngEpochStart: PythonRandomState | null;
  modelRng: PythonRandomState;
  extraCounts: Record<string, number>;
  savedAt: string;
}

export function statePath(saveDir: string, epoch: string | number): string {
  return path.join(saveDir, trainingStateFileName(epoch));
}

function raw(t: Tensor): RawTensor {
  return { dtype: t.dtype as RawTensor['dtype'], shape: t.shape, data: t.toBytes() };
}

/** Writes the whole state atomically (nothing on a model that does not write files: ranks > 0 of a distributed run). */
export function saveTrainingState(file: string, model: BaseModel, counters: TrainingCounters,
  rngs: { data: PythonRandomState | null; dataEpochStart: PythonRandomState | null }): void {
  if (!model.writesFiles) return;
  const tensors: RawStateDict = new Map();
  for (const name of model.modelNames) {
    for (const [k, v] of networkToRaw(model.networks[name])) tensors.set(`net.${name}.${k}`, v);
  }
  const adamSteps: number[][] = [];
  model.optimizers.forEach((o, i) => {
    const steps: number[] = [];
    o.getState().forEach((e, j) => {
      steps.push(e.step);
      if (e.expAvg && e.expAvgSq) {
        tensors.set(`optim.${i}.${j}.exp_avg`, raw(e.expAvg));
        tensors.set(`optim.${i}.${j}.exp_avg_sq`, raw(e.expAvgSq));
      }
      e.expAvg?.dispose(); e.expAvgSq?.dispose();
    });
    adamSteps.push(steps);
  });
  const extraCounts: Record<string, number> = {};
  for (const [name, list] of Object.entries(model.extraState())) {
    extraCounts[name] = list.length;
    list.forEach((t, j) => tensors.set(`extra.${name}.${j}`, raw(t)));
  }
  const meta: TrainingStateMeta = {
    version: 1, ...counters, model: model.opt.model, modelNames: model.modelNames, seed: model.opt.seed ?? 0,
    adamSteps, lrs: model.optimizers.map((o) => o.lr), lossScalers: model.optimizers.map((o) => o.lossScaler?.state() ?? null), schedulers: model.schedulers.map((s) => s.stateDict()),
    torchRng: getRngState().toString('base64'), dataRng: rngs.data, dataRngEpochStart: rngs.dataEpochStart,
    modelRng: model.rng.getState(), extraCounts, savedAt: new Date().toISOString(),
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeSafetensorsRaw(file, tensors, { [STATE_KEY]: JSON.stringify(meta) });
}

/** Reads a state file's metadata only (cheap check before a resume). */
export function readTrainingStateMeta(file: string): TrainingStateMeta {
  const r = readStateDictRaw(file);
  const text = r.metadata[STATE_KEY];
  if (!text) throw new Error(`${file} is not a torch-img2img training state (no ${STATE_KEY} metadata)`);
  return JSON.parse(text) as TrainingStateMeta;
}

/** Restores networks, optimizers, schedulers, pools and the torch/model RNGs; returns the metadata. */
export function loadTrainingState(file: string, model: BaseModel): TrainingStateMeta {
  const r = readStateDictRaw(file);
  const text = r.metadata[STATE_KEY];
  if (!text) throw new Error(`${file} is not a torch-img2img training state (no ${STATE_KEY} metadata)`);
  const meta = JSON.parse(text) as TrainingStateMeta;
  if (meta.model !== model.opt.model) {
    throw new Error(`training state ${file} is from a ${meta.model} run but --model is ${model.opt.model}`);
  }
  model.prepareForTrainingState(r.tensors);
  for (const name of model.modelNames) {
    const prefix = `net.${name}.`;
    const sd = new Map([...r.tensors].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
    model.networks[name].loadStateDict(sd, { what: `network ${name} in training state ${file}` });
  }
  model.optimizers.forEach((o, i) => {
    const steps = meta.adamSteps[i] ?? [];
    const state = Array.from({ length: o.numParams }, (_, j) => {
      const m = r.tensors.get(`optim.${i}.${j}.exp_avg`), v = r.tensors.get(`optim.${i}.${j}.exp_avg_sq`);
      return {
        step: steps[j] ?? 0,
        expAvg: m ? Tensor.fromBytes(m.data, m.dtype, m.shape) : null,
        expAvgSq: v ? Tensor.fromBytes(v.data, v.dtype, v.shape) : null,
      };
    });
    o.setState(state);
    for (const e of state) { e.expAvg?.dispose(); e.expAvgSq?.dispose(); }
    o.lr = meta.lrs[i] ?? o.lr;
    const scaler = meta.lossScalers?.[i];
    if (scaler && o.lossScaler) o.lossScaler.loadState(scaler);
  });
  model.schedulers.forEach((s, i) => { if (meta.schedulers[i]) s.loadStateDict(meta.schedulers[i]); });
  const extra: Record<string, Tensor[]> = {};
  for (const [name, count] of Object.entries(meta.extraCounts ?? {})) {
    extra[name] = [];
    for (let j = 0; j < count; j++) {
      const t = r.tensors.get(`extra.${name}.${j}`);
      if (t) extra[name].push(Tensor.fromBytes(t.data, t.dtype, t.shape, model.device));
    }
  }
  model.restoreExtraState(extra);
  for (const list of Object.values(extra)) for (const t of list) t.dispose();
  setRngState(Buffer.from(meta.torchRng, 'base64'));
  model.rng.setState(meta.modelRng);
  return meta;
}
