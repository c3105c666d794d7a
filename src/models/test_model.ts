// TestModel: one generator in one direction, for inference on single images (`--model test`).
// `--model_suffix _A` loads a CycleGAN run's latest_net_G_A.pth.
import { BaseModel, ModelInput, ModelOptions, pathsOf } from './base_model';
import { modifyTestModelOptions } from '../options/plugin_options';

/** One generator in one direction, for inference on single images (--model test; --model_suffix _A loads a CycleGAN run's G_A). */
export class TestModel extends BaseModel {
  /** The model's option defaults and extra flags (the reference's modify_commandline_options). */
  static modifyCommandlineOptions = modifyTestModelOptions;
  private readonly suffix: string;

  constructor(opt: ModelOptions) {
    super(opt);
    if (this.isTrain) throw new Error('TestModel cannot be used during training time: use --model pix2pix or cycle_gan');
    this.suffix = opt.model_suffix ?? '';
    this.lossNames = [];
    this.visualNames = ['real', 'fake'];
    this.modelNames = ['G' + this.suffix];
    this.networks['G' + this.suffix] = this.defineG(opt.input_nc, opt.output_nc);
    this.initNetworks();
  }

  setInput(input: ModelInput): void {
    this.setTensor('real', this.toDeviceTensor(input.A, 'A'));
    this.imagePaths = pathsOf(input.A_paths);
  }

  forward(): void {
    this.setTensor('fake', this.networks['G' + this.suffix].forward(this.getTensor('real')));
  }

  optimizeParameters(): void { /* no training for the test model */ }
}
