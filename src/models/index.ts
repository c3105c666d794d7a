// Models are plugins found by name: `--model pix2pix` -> Pix2PixModel. A new model is one file plus one line here.
import type { BaseModel, ModelOptions } from './base_model';
import { ColorizationModel } from './colorization_model';
import { CycleGANModel } from './cycle_gan_model';
import { CUTModel } from './cut_model';
import { Pix2PixModel } from './pix2pix_model';
import { TestModel } from './test_model';
import { TemplateModel } from './template_model';
import { parseOptions } from '../options/parse_options';
import { resolveDevice } from '../runtime';

export type ModelClass = new (opt: ModelOptions) => BaseModel;

export const MODELS: Record<string, ModelClass> = {
  pix2pix: Pix2PixModel,
  cycle_gan: CycleGANModel,
  cut: CUTModel,
  test: TestModel,
  colorization: ColorizationModel,
  template: TemplateModel,
};

export function findModelClass(name: string): ModelClass {
  const cls = MODELS[name];
  if (!cls) throw new Error(`Expected one of ${Object.keys(MODELS).join(', ')} for --model but received '${name}'`);
  return cls;
}

/**
 * Builds the model named by opt.model and runs its setup (init, checkpoint loading when testing or continuing,
 * schedulers). Accepts parsed options or a command line.
 */
export function createModel(opt: ModelOptions | string | readonly string[], config: { isTrain?: boolean } = {}): BaseModel {
  const options = typeof opt === 'string' || Array.isArray(opt) ? parseOptions(opt as string[], { isTrain: config.isTrain ?? true }) : opt as ModelOptions;
  resolveDevice(options.device); // fail early on an impossible device
  const model = new (findModelClass(options.model))(options);
  try {
    model.setup();
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

export { BaseModel, Pix2PixModel, CycleGANModel, CUTModel, TestModel, ColorizationModel, TemplateModel };
