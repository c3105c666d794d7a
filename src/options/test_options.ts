/**
 * Test options: the reference's TestOptions (reference.md §2.3) on top of the base options.
 * `load_size` defaults to the *default* crop_size (256), exactly as the reference does, so a lone
 * `--crop_size 512` at test time still leaves load_size at 256.
 */
import { addBaseOptions, PluginNames } from './base_options';
import { OptionParser } from './option_parser';

/** The test flags (the reference's options/test_options.py). */
export interface TestOptionValues {
  results_dir: string;
  aspect_ratio: number;
  eval: boolean;
  num_test: number;
}

export function addTestOptions(parser: OptionParser): OptionParser {
  const test = 'test parameters';
  parser.addArgument('--results_dir', { type: 'str', default: './results/', group: test, help: 'saves results here.' });
  parser.addArgument('--aspect_ratio', { type: 'float', default: 1.0, group: test, help: 'aspect ratio of result images' });
  parser.addArgument('--phase', { type: 'str', default: 'test', group: test, help: 'train, val, test, etc' });
  // Dropout and batch norm behave as in training unless --eval is given (the pix2pix paper's choice).
  parser.addArgument('--eval', { type: 'flag', group: test, help: 'use eval mode during test time.' });
  parser.addArgument('--num_test', { type: 'int', default: 50, min: 0, group: test, help: 'how many test images to run' });
  parser.setDefaults({ model: 'test' });
  parser.setDefaults({ load_size: parser.getDefault('crop_size') });
  return parser;
}

/** The full test parser before model/dataset hooks run. */
export function createTestParser(plugins: PluginNames, prog = 'img2img test'): OptionParser {
  const parser = new OptionParser(prog, 'Run a trained pix2pix / CycleGAN model on a dataset.');
  addBaseOptions(parser, plugins);
  addTestOptions(parser);
  return parser;
}
