// TemplateModel: the reference's starting point for a new model — one generator trained by L1 regression
// (lambda_regression) on aligned pairs. Copy this file to add a model, then add one line to MODEL_PLUGINS in
// src/models/index.ts (docs/architecture.md, "Adding a model").
import { BaseModel, ModelInput, ModelOptions, ModelPlugin } from './base_model';
import type { OptionParser } from '../options/option_parser';
import { l1Loss, tidy } from '../tensor';

/** The flags this model adds: they are typed here and read through this.opt. */
export interface TemplateOptionValues {
  /** Weight of the regression loss (train only). */
  lambda_regression: number;
}

/** The reference's modify_commandline_options: this model's defaults and flags. */
export function modifyTemplateModelOptions(parser: OptionParser, isTrain: boolean): void {
  parser.setDefaults({ dataset_mode: 'aligned' });
  if (isTrain) parser.addArgument('--lambda_regression', { type: 'float', default: 1.0, group: 'template', help: 'weight for the regression loss' });
}

export class TemplateModel extends BaseModel<TemplateOptionValues> {
  constructor(opt: ModelOptions<TemplateOptionValues>) {
    super(opt);
    this.lossNames = ['G'];
    this.visualNames = ['data_A', 'data_B', 'output'];
    this.modelNames = ['G'];
    this.networks.G = this.defineG(opt.input_nc, opt.output_nc);
    this.initNetworks();
    if (this.isTrain) this.optimizers = [this.adam(this.networks.G.parameters())];
  }

  setInput(input: ModelInput): void {
    this.setDirectedInput(input, ['data_A', 'data_B']);
  }

  forward(): void { this.setTensor('output', this.networks.G.forward(this.getTensor('data_A'))); }

  optimizeParameters(): void {
    tidy(() => {
      this.forward();
      this.optimizers[0].zeroGrad();
      const loss = l1Loss(this.getTensor('output'), this.getTensor('data_B')).mul(this.opt.lambda_regression ?? 1);
      this.backward(loss, this.optimizers[0]);
      this.optimizers[0].step();
      this.setLoss('G', loss);
    });
    this.setTensor('output', this.getTensor('output').detach());
  }
}

export const TEMPLATE: ModelPlugin = {
  options: { modifyCommandlineOptions: modifyTemplateModelOptions },
  model: TemplateModel,
  describingNetworks: () => ['G'],
};
