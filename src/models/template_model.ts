// TemplateModel: the reference's starting point for a new model — one generator trained by L1 regression
// (lambda_regression) on aligned pairs. Copy this file to add a model.
import { BaseModel, ModelInput, ModelOptions } from './base_model';
import { modifyTemplateModelOptions } from '../options/plugin_options';
import { l1Loss, tidy } from '../tensor';

export class TemplateModel extends BaseModel {
  static modifyCommandlineOptions = modifyTemplateModelOptions;

  constructor(opt: ModelOptions) {
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
      const loss = l1Loss(this.getTensor('output'), this.getTensor('data_B')).mul((this.opt as unknown as { lambda_regression?: number }).lambda_regression ?? 1);
      this.backward(loss, this.optimizers[0]);
      this.optimizers[0].step();
      this.setLoss('G', loss);
    });
    this.setTensor('output', this.getTensor('output').detach());
  }
}
