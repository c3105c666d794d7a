// TestModel: one generator in one direction, for inference on single images (`--model test`).
// `--model_suffix _A` loads a CycleGAN run's latest_net_G_A.pth.
import { BaseModel, ModelInput, ModelOptions, ModelPlugin, pathsOf } from './base_model';
import type { OptionParser } from '../options/option_parser';
import { expected } from '../options/option_errors';

/** The flag the test model adds. */
export interface TestModelOptionValues {
  /** Loads `[epoch]_net_G[model_suffix].pth`. */
  model_suffix: string;
}

export function modifyTestModelOptions(parser: OptionParser, isTrain: boolean): void {
  // The test model holds one generator and no losses: it cannot be trained.
  if (isTrain) throw expected('a trainable model (cycle_gan, pix2pix, cut, colorization, template)', '--model', 'test', 'the test model only runs at test time');
  parser.setDefaults({ dataset_mode: 'single' });
  parser.addArgument('--model_suffix', {
    type: 'str', default: '', group: 'test model',
    help: 'In checkpoints_dir, [epoch]_net_G[model_suffix].pth will be loaded as the generator.',
  });
}

/** One generator in one direction, for inference on single images (--model test; --model_suffix _A loads a CycleGAN run's G_A). */
export class TestModel extends BaseModel<TestModelOptionValues> {
  private readonly suffix: string;

  constructor(opt: ModelOptions<TestModelOptionValues>) {
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

export const TEST: ModelPlugin = {
  options: { modifyCommandlineOptions: modifyTestModelOptions },
  model: TestModel,
  describingNetworks: (opt: ModelOptions<TestModelOptionValues>) => [`G${opt.model_suffix ?? ''}`],
};
