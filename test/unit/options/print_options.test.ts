/**
 * opt.txt in the reference's format (reference.md §2.5). The expected text is produced by real Python
 * argparse + the reference's print loop over the same option declarations, and a few lines are
 * also pinned literally.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseOptionsWithParser } from '../../../src/plugins';
import { formatOptions, printOptions, saveOptions } from '../../../src/options/print_options';
import { OptionParser } from '../../../src/options/option_parser';
import { PYTHON, runPython } from '../../helpers/run_python';

/** The reference's print_options loop, over an argparse parser declared like ours. */
const REFERENCE_PRINT = String.raw`
import argparse, json, sys
spec = json.load(sys.stdin)
parser = argparse.ArgumentParser()
types = {'int': int, 'float': float, 'str': str}
for arg in spec['args']:
    default = arg['default']
    if isinstance(default, dict) and default.get('inf'):
        default = float('inf')
    elif arg['type'] == 'float' and isinstance(default, int) and not isinstance(default, bool):
        default = float(default)  # JSON drops the ".0" of Python float literals
    if arg['type'] == 'flag':
        parser.add_argument(arg['flag'], action='store_true', default=default)
    else:
        parser.add_argument(arg['flag'], type=types[arg['type']], default=default)
opt = parser.parse_args(spec['argv'])
opt.isTrain = spec['isTrain']
if opt.suffix:
    opt.name = opt.name + ('_' + opt.suffix.format(**vars(opt)))
message = ''
message += '----------------- Options ---------------\n'
for k, v in sorted(vars(opt).items()):
    comment = ''
    default = parser.get_default(k)
    if v != default:
        comment = '\t[default: %s]' % str(default)
    message += '{:>25}: {:<30}{}\n'.format(str(k), str(v), comment)
message += '----------------- End -------------------'
sys.stdout.write(message)
`;

function referenceText(parser: OptionParser, argv: string[], isTrain: boolean): string {
  const args = parser.arguments.map((argument) => ({
    flag: argument.flag,
    type: argument.spec.type,
    default: argument.spec.default === Infinity ? { inf: true } : argument.spec.default,
  }));
  return runPython(REFERENCE_PRINT, JSON.stringify({ args, argv, isTrain }));
}

describe('options/print_options', () => {
  const commandLines: [string, string[], boolean][] = [
    ['cycle_gan train defaults', ['--dataroot', './datasets/horse2zebra', '--seed', '7'], true],
    ['pix2pix train with changes', ['--dataroot', './datasets/facades', '--name', 'facades_pix2pix', '--model', 'pix2pix',
      '--direction', 'BtoA', '--lambda_L1', '50', '--lr', '1e-05', '--max_dataset_size', '12', '--load_iter', '0',
      '--n_epochs', '5', '--beta1', '0.9', '--seed', '3', '--suffix', '{netG}_b{batch_size}', '--no_flip'], true],
    ['template train with hook defaults', ['--dataroot', 'd', '--model', 'template', '--dataset_mode', 'template', '--seed', '0'], true],
    ['test defaults', ['--dataroot', './datasets/facades/testB', '--seed', '1', '--aspect_ratio', '2', '--load_iter', '5'], false],
  ];

  for (const [title, argv, isTrain] of commandLines) {
    it(`matches Python's print_options for ${title}`, function () {
      assert.ok(PYTHON, 'this test needs /usr/bin/python3 (.ci/run installs it)');
      const { opt, parser } = parseOptionsWithParser(argv, { isTrain });
      const ours = formatOptions(opt, parser);
      const reference = referenceText(parser, argv, isTrain);
      if (ours !== reference) {
        const ourLines = ours.split('\n');
        const refLines = reference.split('\n');
        const first = ourLines.findIndex((line, i) => line !== refLines[i]);
        assert.fail(`first differing line ${first}:\n ours: ${JSON.stringify(ourLines[first])}\n  ref: ${JSON.stringify(refLines[first])}`);
      }
    });
  }

  it('pins the reference quirks literally', () => {
    const { opt, parser } = parseOptionsWithParser(
      ['--dataroot', 'data', '--model', 'pix2pix', '--lambda_L1', '50', '--seed', '9'], { isTrain: true });
    const lines = formatOptions(opt, parser).split('\n');
    assert.strictEqual(lines[0], '----------------- Options ---------------');
    assert.strictEqual(lines[lines.length - 1], '----------------- End -------------------');
    const line = (key: string) => lines.find((text) => text.startsWith(`${key.padStart(25)}: `));
    assert.strictEqual(line('isTrain'), `${'isTrain'.padStart(25)}: ${'True'.padEnd(30)}\t[default: None]`);
    assert.strictEqual(line('load_iter'), `${'load_iter'.padStart(25)}: ${'0'.padEnd(30)}\t[default: 0]`);
    assert.strictEqual(line('lambda_L1'), `${'lambda_L1'.padStart(25)}: ${'50.0'.padEnd(30)}\t[default: 100.0]`);
    assert.strictEqual(line('norm'), `${'norm'.padStart(25)}: ${'batch'.padEnd(30)}`); // hook default: no comment
    assert.strictEqual(line('max_dataset_size'), `${'max_dataset_size'.padStart(25)}: ${'inf'.padEnd(30)}`);
    assert.strictEqual(line('lr'), `${'lr'.padStart(25)}: ${'0.0002'.padEnd(30)}`);
    assert.strictEqual(line('no_flip'), `${'no_flip'.padStart(25)}: ${'False'.padEnd(30)}`);
    assert.strictEqual(line('seed'), `${'seed'.padStart(25)}: ${'9'.padEnd(30)}\t[default: None]`);
    assert.strictEqual(line('dataroot'), `${'dataroot'.padStart(25)}: ${'data'.padEnd(30)}\t[default: None]`);
    assert.strictEqual(line('gpu_id_list'), undefined); // derived values are not options
    const keys = lines.slice(1, -1).map((text) => text.split(':')[0].trim());
    assert.deepStrictEqual(keys, [...keys].sort());
  });

  it('saves <checkpoints_dir>/<name>/<phase>_opt.txt with a trailing newline', () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-opt-'));
    try {
      const { opt, parser } = parseOptionsWithParser(
        ['--dataroot', 'd', '--checkpoints_dir', folder, '--name', 'run', '--seed', '1'], { isTrain: false });
      const printed: string[] = [];
      const file = printOptions(opt, parser, (text) => printed.push(text));
      assert.strictEqual(file, path.join(folder, 'run', 'test_opt.txt'));
      assert.strictEqual(fs.readFileSync(file, 'utf8'), `${printed[0]}\n`);
      const trainRun = parseOptionsWithParser(['--dataroot', 'd', '--checkpoints_dir', folder, '--name', 'run', '--seed', '1']);
      assert.strictEqual(saveOptions(trainRun.opt, trainRun.parser), path.join(folder, 'run', 'train_opt.txt'));
      assert.deepStrictEqual(fs.readdirSync(path.join(folder, 'run')).sort(), ['test_opt.txt', 'train_opt.txt']);
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});
