/** The argparse work-alike: value forms, conversions, defaults, strictness and help. */
import * as assert from 'assert';
import { OptionParser } from '../../../src/options/option_parser';
import { HelpRequested, OptionError } from '../../../src/options/option_errors';

function sampleParser(): OptionParser {
  const parser = new OptionParser('sample');
  parser.addArgument('--dataroot', { type: 'str', required: true, group: 'basic' });
  parser.addArgument('--batch_size', { type: 'int', default: 1, min: 1, group: 'data' });
  parser.addArgument('--lr', { type: 'float', default: 0.0002, group: 'train', help: 'initial learning rate' });
  parser.addArgument('--netG', { type: 'str', default: 'resnet_9blocks', choices: ['unet_256', 'unet_128', 'resnet_9blocks', 'resnet_6blocks'], group: 'model' });
  parser.addArgument('--no_flip', { type: 'flag', group: 'data' });
  parser.addArgument('--load_iter', { type: 'int', default: '0', group: 'additional' });
  parser.addArgument('--max_dataset_size', { type: 'int', default: Infinity, group: 'data' });
  parser.addArgument('--gpu_ids', { type: 'str', default: '' });
  return parser;
}

describe('options/option_parser', () => {
  it('parses --flag value and --flag=value forms and converts types', () => {
    const values = sampleParser().parse(['--dataroot', 'd', '--batch_size=4', '--lr', '1e-3', '--netG=unet_128', '--no_flip']);
    assert.deepStrictEqual(
      { dataroot: values.dataroot, batch_size: values.batch_size, lr: values.lr, netG: values.netG, no_flip: values.no_flip },
      { dataroot: 'd', batch_size: 4, lr: 0.001, netG: 'unet_128', no_flip: true },
    );
  });

  it('fills defaults: flags false, inf stays Infinity, a string default of an int option is converted', () => {
    const parser = sampleParser();
    const values = parser.parse(['--dataroot', 'd']);
    assert.strictEqual(values.no_flip, false);
    assert.strictEqual(values.max_dataset_size, Infinity);
    assert.strictEqual(values.load_iter, 0);
    assert.strictEqual(parser.getDefault('load_iter'), '0'); // the reference's declared default
  });

  it('accepts negative numbers as values (--gpu_ids -1) and the last repetition wins', () => {
    const values = sampleParser().parse(['--dataroot', 'd', '--gpu_ids', '-1', '--batch_size', '2', '--batch_size', '3']);
    assert.strictEqual(values.gpu_ids, '-1');
    assert.strictEqual(values.batch_size, 3);
  });

  it('accepts Python int/float spellings (+3, 1_000, inf) ', () => {
    const values = sampleParser().parse(['--dataroot', 'd', '--batch_size', '+3', '--max_dataset_size', '1_000', '--lr', 'inf']);
    assert.strictEqual(values.batch_size, 3);
    assert.strictEqual(values.max_dataset_size, 1000);
    assert.strictEqual(values.lr, Infinity);
  });

  it('rejects bad integers, floats, choices and minimums in one message shape', () => {
    const parser = sampleParser();
    assert.throws(() => parser.parse(['--dataroot', 'd', '--batch_size', 'abc']),
      { name: 'OptionError', message: "Expected an integer for --batch_size but received 'abc'" });
    assert.throws(() => parser.parse(['--dataroot', 'd', '--batch_size', '1.5']),
      { message: "Expected an integer for --batch_size but received '1.5'" });
    assert.throws(() => parser.parse(['--dataroot', 'd', '--lr', 'fast']),
      { message: "Expected a number for --lr but received 'fast'" });
    assert.throws(() => parser.parse(['--dataroot', 'd', '--netG', 'unet']),
      { message: "Expected one of unet_256, unet_128, resnet_9blocks, resnet_6blocks for --netG but received 'unet'" });
    assert.throws(() => parser.parse(['--dataroot', 'd', '--batch_size', '0']),
      { message: "Expected an integer >= 1 for --batch_size but received '0'" });
  });

  it('reports missing values, switches given values, and required options', () => {
    const parser = sampleParser();
    assert.throws(() => parser.parse(['--dataroot', 'd', '--lr']), { message: 'Expected a value for --lr but received nothing' });
    assert.throws(() => parser.parse(['--dataroot', 'd', '--lr', '--no_flip']), { message: 'Expected a value for --lr but received nothing' });
    assert.throws(() => parser.parse(['--dataroot', 'd', '--no_flip=yes']),
      { message: "Expected no value for --no_flip but received 'yes' (it is a switch)" });
    assert.throws(() => parser.parse([]), { message: 'Expected a value for --dataroot but received nothing (it is required)' });
  });

  it('strict parse names unrecognized arguments with a suggestion; parseKnown returns them', () => {
    const parser = sampleParser();
    assert.throws(() => parser.parse(['--dataroot', 'd', '--foo']), (error: Error) => {
      assert.ok(error instanceof OptionError);
      assert.strictEqual(error.message, 'unrecognized arguments: --foo');
      return true;
    });
    assert.throws(() => parser.parse(['--dataroot', 'd', '--gpu_id', '0']),
      { message: 'unrecognized arguments: --gpu_id 0 (did you mean --gpu_ids?)' });
    assert.throws(() => parser.parse(['--dataroot', 'd', '--batchsize', '2', '--netg', 'x']),
      { message: 'unrecognized arguments: --batchsize 2 --netg x (--batchsize: did you mean --batch_size?; --netg: did you mean --netG?)' });
    const known = parser.parseKnown(['--dataroot', 'd', '--lambda_L1', '50', 'stray', '--batch_size', '2']);
    assert.deepStrictEqual(known.extras, ['--lambda_L1', '50', 'stray']);
    assert.deepStrictEqual(known.unknownFlags, ['--lambda_L1']);
    assert.strictEqual(known.values.batch_size, 2);
  });

  it("bool options read as CUT's str2bool with nargs='?': alone true, a boolean word sets it, anything else is not taken", () => {
    const p = new OptionParser();
    p.addArgument('--nce_idt', { type: 'bool', default: false });
    p.addArgument('--name', { type: 'str', default: 'x' });
    assert.strictEqual(p.parse([]).nce_idt, false);
    assert.strictEqual(p.parse(['--nce_idt']).nce_idt, true);
    assert.strictEqual(p.parse(['--nce_idt', 'False']).nce_idt, false);
    assert.strictEqual(p.parse(['--nce_idt=yes']).nce_idt, true);
    assert.deepStrictEqual(p.parse(['--nce_idt', '--name', 'y']), { nce_idt: true, name: 'y' });
    assert.throws(() => p.parse(['--nce_idt=maybe']), /Expected a boolean \(yes, true, t, y, 1, no, false, f, n, 0\) for --nce_idt but received 'maybe'/);
    assert.match(p.formatHelp(), /--nce_idt \[NCE_IDT\]/);
  });

  it('does not accept prefix abbreviations', () => {
    assert.throws(() => sampleParser().parse(['--dataroot', 'd', '--batch', '2']), /unrecognized arguments: --batch 2 \(did you mean --batch_size\?\)/);
  });

  it('setDefaults changes existing defaults, records unknown names, and applies to options added later', () => {
    const parser = sampleParser();
    parser.setDefaults({ netG: 'unet_256', extra: 7, later: 2.0 });
    assert.strictEqual(parser.getDefault('netG'), 'unet_256');
    assert.strictEqual(parser.getDefault('extra'), 7);
    assert.strictEqual(parser.getDefault('missing'), null);
    parser.addArgument('--later', { type: 'float' });
    const values = parser.parse(['--dataroot', 'd']);
    assert.strictEqual(values.netG, 'unet_256');
    assert.strictEqual(values.extra, 7);
    assert.strictEqual(values.later, 2.0);
  });

  it('rejects a duplicate option', () => {
    assert.throws(() => sampleParser().addArgument('--lr', { type: 'float' }), /already exists/);
  });

  it('--help throws HelpRequested with grouped help, even without required options', () => {
    const parser = sampleParser();
    assert.doesNotThrow(() => parser.parseKnown(['--help']));
    assert.throws(() => parser.parse(['-h']), (error: Error) => {
      assert.ok(error instanceof HelpRequested);
      const help = (error as HelpRequested).helpText;
      assert.match(help, /^usage: sample \[options\]/);
      assert.match(help, /\ntrain:\n {2}--lr LR +initial learning rate \(default: 0\.0002\)/);
      assert.match(help, /--max_dataset_size MAX_DATASET_SIZE\n +\(default: inf\)/);
      assert.match(help, /--netG \{unet_256,unet_128,resnet_9blocks,resnet_6blocks\}/);
      assert.match(help, /--dataroot DATAROOT +\(required\)/);
      assert.ok(help.indexOf('basic:') < help.indexOf('data:'));
      return true;
    });
  });
});
