// The model registry: `--model pix2pix` -> PIX2PIX (src/models/pix2pix_model.ts). A plugin file declares its option
// hook, its class and the networks that describe a run; a new model is one file plus one line in MODEL_PLUGINS.
import type { BaseModel, ModelClass, ModelOptions, ModelPlugin } from './base_model';
import { COLORIZATION, ColorizationModel } from './colorization_model';
import { CUT, CUTModel } from './cut_model';
import { CYCLE_GAN, CycleGANModel } from './cycle_gan_model';
import { PIX2PIX, Pix2PixModel } from './pix2pix_model';
import { TEST, TestModel } from './test_model';
import { TEMPLATE, TemplateModel } from './template_model';
import { expected } from '../options/option_errors';
import { resolveDevice } from '../runtime';

/** Models by --model name, in the order help and errors list them. */
export const MODEL_PLUGINS: Readonly<Record<string, ModelPlugin>> = {
  cycle_gan: CYCLE_GAN,
  pix2pix: PIX2PIX,
  cut: CUT,
  test: TEST,
  colorization: COLORIZATION,
  template: TEMPLATE,
};

/** The model classes by --model name. */
export const MODELS: Readonly<Record<string, ModelClass>> = Object.fromEntries(Object.entries(MODEL_PLUGINS).map(([name, p]) => [name, p.model]));

/** The plugin of --model `name`; an error naming the known ones otherwise. */
export function findModelPlugin(name: string): ModelPlugin {
  const plugin = MODEL_PLUGINS[name];
  if (!plugin) throw expected(`one of ${Object.keys(MODEL_PLUGINS).join(', ')}`, '--model', name);
  return plugin;
}

/** The class of --model `name`; an error naming the known ones otherwise. */
export function findModelClass(name: string): ModelClass {
  return findModelPlugin(name).model;
}

/** Builds the model named by opt.model and runs its setup (init, checkpoint loading when testing or continuing, schedulers). */
export function createModel(opt: ModelOptions): BaseModel {
  resolveDevice(opt.device); // fail early on an impossible device
  const model = new (findModelClass(opt.model))(opt);
  try {
    model.setup();
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

export { BaseModel, Pix2PixModel, CycleGANModel, CUTModel, TestModel, ColorizationModel, TemplateModel };
export type { ModelClass, ModelOptions, ModelPlugin };
