/**
 * Option gathering as the reference's BaseOptions does it: defaults of reference.md §2.1–2.4,
 * the model/dataset hook passes, the fixtures' resolved options, and our post-processing.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { SHARED } from '../../helpers/paths';
import {
  gatherOptions,
  parseOptions,
  parseOptionsWithParser,
  parseTestOptions,
  parseTrainOptions,
} from '../../../src/plugins';
import { HelpRequested } from '../../../src/options/option_errors';
import { OptionParser } from '../../../src/options/option_parser';
import type { OptionHook } from '../../../src/options/plugin_options';
import { PLUGIN_HOOKS } from '../../../src/plugins';

const TRAIN_FIXTURES = path.join(SHARED, 'fixtures', 'parity', 'train');
/** Keys of the fixtures that depend on the machine that produced them, not on parsing. */
const MACHINE_KEYS = new Set(['checkpoints_dir', 'device']);
const fixedSeed = { chooseSeed: () => 1234 };

describe('options/parse_options', () => {
  describe('reference fixtures (shared/fixtures/parity/train/*/case.json)', () => {
    const cases = fs.existsSync(TRAIN_FIXTURES) ? fs.readdirSync(TRAIN_FIXTURES).sort() : [];
    it('has fixture cases', function () {
      assert.ok(cases.length > 0, 'no train fixtures found');
    });
    for (const name of cases) {
      it(`reproduces every resolved option of ${name}`, () => {
        const fixture = JSON.parse(fs.readFileSync(path.join(TRAIN_FIXTURES, name, 'case.json'), 'utf8'));
        const opt = parseOptions(fixture.command_line, { isTrain: true, ...fixedSeed }) as unknown as Record<string, unknown>;
        const mismatches: string[] = [];
        for (const [key, raw] of Object.entries(fixture.options as Record<string, unknown>)) {
          if (MACHINE_KEYS.has(key)) continue;
          const expectedValue = raw === 'inf' ? Infinity : raw;
          if (!(key in opt)) mismatches.push(`${key}: missing (reference ${JSON.stringify(raw)})`);
          else if (opt[key] !== expectedValue) mismatches.push(`${key}: ${String(opt[key])} (reference ${JSON.stringify(raw)})`);
        }
        assert.deepStrictEqual(mismatches, []);
      });
    }
  });

  describe('train defaults (reference.md §2.1, §2.2)', () => {
    const { opt } = parseTrainOptions(['--dataroot', 'data'], fixedSeed);

    it('has every base option with the reference default', () => {
      assert.deepStrictEqual(
        {
          dataroot: opt.dataroot, name: opt.name, checkpoints_dir: opt.checkpoints_dir, model: opt.model,
          input_nc: opt.input_nc, output_nc: opt.output_nc, ngf: opt.ngf, ndf: opt.ndf, netD: opt.netD, netG: opt.netG,
          n_layers_D: opt.n_layers_D, norm: opt.norm, init_type: opt.init_type, init_gain: opt.init_gain,
          no_dropout: opt.no_dropout, dataset_mode: opt.dataset_mode, direction: opt.direction,
          serial_batches: opt.serial_batches, num_threads: opt.num_threads, batch_size: opt.batch_size,
          load_size: opt.load_size, crop_size: opt.crop_size, max_dataset_size: opt.max_dataset_size,
          preprocess: opt.preprocess, no_flip: opt.no_flip, display_winsize: opt.display_winsize, epoch: opt.epoch,
          load_iter: opt.load_iter, verbose: opt.verbose, suffix: opt.suffix, use_wandb: opt.use_wandb,
          wandb_project_name: opt.wandb_project_name,
        },
        {
          dataroot: 'data', name: 'experiment_name', checkpoints_dir: './checkpoints', model: 'cycle_gan',
          input_nc: 3, output_nc: 3, ngf: 64, ndf: 64, netD: 'basic', netG: 'resnet_9blocks',
          n_layers_D: 3, norm: 'instance', init_type: 'normal', init_gain: 0.02,
          no_dropout: true /* cycle_gan's hook */, dataset_mode: 'unaligned', direction: 'AtoB',
          serial_batches: false, num_threads: 4, batch_size: 1,
          load_size: 286, crop_size: 256, max_dataset_size: Infinity,
          preprocess: 'resize_and_crop', no_flip: false, display_winsize: 256, epoch: 'latest',
          load_iter: 0, verbose: false, suffix: '', use_wandb: false,
          wandb_project_name: 'CycleGAN-and-pix2pix',
        },
      );
    });

    it('has every train option with the reference default', () => {
      assert.deepStrictEqual(
        {
          display_freq: opt.display_freq, update_html_freq: opt.update_html_freq, print_freq: opt.print_freq,
          no_html: opt.no_html, save_latest_freq: opt.save_latest_freq, save_epoch_freq: opt.save_epoch_freq,
          save_by_iter: opt.save_by_iter, continue_train: opt.continue_train, epoch_count: opt.epoch_count,
          phase: opt.phase, n_epochs: opt.n_epochs, n_epochs_decay: opt.n_epochs_decay, beta1: opt.beta1, lr: opt.lr,
          gan_mode: opt.gan_mode, pool_size: opt.pool_size, lr_policy: opt.lr_policy, lr_decay_iters: opt.lr_decay_iters,
          lambda_A: opt.lambda_A, lambda_B: opt.lambda_B, lambda_identity: opt.lambda_identity, isTrain: opt.isTrain,
        },
        {
          display_freq: 400, update_html_freq: 1000, print_freq: 100,
          no_html: false, save_latest_freq: 5000, save_epoch_freq: 5,
          save_by_iter: false, continue_train: false, epoch_count: 1,
          phase: 'train', n_epochs: 100, n_epochs_decay: 100, beta1: 0.5, lr: 0.0002,
          gan_mode: 'lsgan', pool_size: 50, lr_policy: 'linear', lr_decay_iters: 50,
          lambda_A: 10.0, lambda_B: 10.0, lambda_identity: 0.5, isTrain: true,
        },
      );
    });

    it('has our additions with their defaults', () => {
      assert.deepStrictEqual(
        {
          seed: opt.seed, device: opt.device, gpu_ids: opt.gpu_ids, gpu_id_list: opt.gpu_id_list,
          display_port: opt.display_port, display_host: opt.display_host, max_image_pixels: opt.max_image_pixels,
          skip_bad_images: opt.skip_bad_images, nan_policy: opt.nan_policy, threads: opt.threads,
          nproc_per_node: opt.nproc_per_node,
        },
        {
          seed: 1234, device: '', gpu_ids: '', gpu_id_list: [],
          display_port: 0, display_host: '127.0.0.1', max_image_pixels: 50000000,
          skip_bad_images: false, nan_policy: 'stop', threads: 0, nproc_per_node: 1,
        },
      );
    });

    it('has no test-only or visdom options', () => {
      for (const key of ['results_dir', 'aspect_ratio', 'eval', 'num_test', 'display_id', 'display_server', 'display_env', 'display_ncols']) {
        assert.ok(!(key in opt), key);
      }
      assert.throws(() => parseOptions(['--dataroot', 'd', '--display_id', '1']), /unrecognized arguments: --display_id 1/);
    });
  });

  describe('test options (reference.md §2.3)', () => {
    it('has the reference test defaults, model test and dataset single', () => {
      const { opt } = parseTestOptions(['--dataroot', 'data'], fixedSeed);
      assert.deepStrictEqual(
        {
          results_dir: opt.results_dir, aspect_ratio: opt.aspect_ratio, phase: opt.phase, eval: opt.eval,
          num_test: opt.num_test, model: opt.model, load_size: opt.load_size, dataset_mode: opt.dataset_mode,
          model_suffix: opt.model_suffix, netG: opt.netG, norm: opt.norm, no_dropout: opt.no_dropout, isTrain: opt.isTrain,
        },
        {
          results_dir: './results/', aspect_ratio: 1.0, phase: 'test', eval: false,
          num_test: 50, model: 'test', load_size: 256, dataset_mode: 'single',
          model_suffix: '', netG: 'resnet_9blocks', norm: 'instance', no_dropout: false, isTrain: false,
        },
      );
      for (const key of ['lr', 'n_epochs', 'lambda_L1', 'display_port', 'nan_policy']) assert.ok(!(key in opt), key);
    });

    it('takes load_size from the default crop_size, not the given one', () => {
      const { opt } = parseTestOptions(['--dataroot', 'd', '--crop_size', '512'], fixedSeed);
      assert.strictEqual(opt.load_size, 256);
      assert.strictEqual(opt.crop_size, 512);
    });

    it('pix2pix at test time has no --lambda_L1', () => {
      const { opt } = parseTestOptions(['--dataroot', 'd', '--model', 'pix2pix'], fixedSeed);
      assert.strictEqual(opt.norm, 'batch');
      assert.strictEqual(opt.dataset_mode, 'aligned');
      assert.throws(() => parseTestOptions(['--dataroot', 'd', '--model', 'pix2pix', '--lambda_L1', '5']),
        /unrecognized arguments: --lambda_L1 5/);
    });

    it('the test model refuses train mode', () => {
      assert.throws(() => parseOptions(['--dataroot', 'd', '--model', 'test'], { isTrain: true }),
        /^OptionError: Expected a trainable model .* for --model but received 'test'/);
    });
  });

  describe('model and dataset hooks (reference.md §2.4)', () => {
    it('pix2pix: batch norm, unet_256, aligned, vanilla GAN, no pool, lambda_L1 100', () => {
      const opt = parseOptions(['--dataroot', 'd', '--model', 'pix2pix'], fixedSeed);
      assert.deepStrictEqual(
        [opt.norm, opt.netG, opt.dataset_mode, opt.pool_size, opt.gan_mode, opt.lambda_L1, opt.no_dropout],
        ['batch', 'unet_256', 'aligned', 0, 'vanilla', 100.0, false],
      );
    });

    it('user flags beat hook defaults, and plugin flags are accepted after the hook pass', () => {
      const opt = parseOptions('--dataroot d --model pix2pix --norm instance --dataset_mode unaligned --lambda_L1=10', fixedSeed);
      assert.deepStrictEqual([opt.norm, opt.dataset_mode, opt.lambda_L1], ['instance', 'unaligned', 10]);
      const cycle = parseOptions(['--dataroot', 'd', '--lambda_A', '5', '--lambda_identity', '0'], fixedSeed);
      assert.deepStrictEqual([cycle.lambda_A, cycle.lambda_B, cycle.lambda_identity], [5, 10, 0]);
    });

    it('colorization model: pix2pix defaults + colorization dataset (1 → 2 channels)', () => {
      const opt = parseOptions(['--dataroot', 'd', '--model', 'colorization'], fixedSeed);
      assert.deepStrictEqual(
        [opt.dataset_mode, opt.input_nc, opt.output_nc, opt.direction, opt.norm, opt.netG, opt.lambda_L1],
        ['colorization', 1, 2, 'AtoB', 'batch', 'unet_256', 100],
      );
      assert.throws(() => parseOptions(['--dataroot', 'd', '--model', 'colorization', '--input_nc', '3']),
        { message: "Expected 1 for --input_nc but received '3' (the colorization dataset maps L to ab)" });
      assert.throws(() => parseOptions(['--dataroot', 'd', '--model', 'colorization', '--direction', 'BtoA']),
        /Expected AtoB for --direction but received 'BtoA'/);
    });

    it('template model and dataset', () => {
      const model = parseOptions(['--dataroot', 'd', '--model', 'template'], fixedSeed);
      assert.deepStrictEqual([model.dataset_mode, model.lambda_regression], ['aligned', 1.0]);
      const both = parseOptions(['--dataroot', 'd', '--model', 'template', '--dataset_mode', 'template'], fixedSeed);
      assert.deepStrictEqual([both.max_dataset_size, both.new_dataset_option], [10, 2.0]);
      const given = parseOptions(['--dataroot', 'd', '--dataset_mode', 'template', '--new_dataset_option', '3', '--max_dataset_size', '5'], fixedSeed);
      assert.deepStrictEqual([given.max_dataset_size, given.new_dataset_option], [5, 3]);
    });

    it('an unknown --model or --dataset_mode lists the known ones', () => {
      assert.throws(() => parseOptions(['--dataroot', 'd', '--model', 'x']),
        { message: "Expected one of cycle_gan, pix2pix, cut, test, colorization, template for --model but received 'x'" });
      assert.throws(() => parseOptions(['--dataroot', 'd', '--dataset_mode', 'paired']),
        { message: "Expected one of unaligned, aligned, single, colorization, template for --dataset_mode but received 'paired'" });
    });

    it('custom hooks: a new model plugin adds its flags and its name becomes a --model choice', () => {
      const calls: string[] = [];
      const mine: OptionHook = {
        modifyCommandlineOptions(parser: OptionParser, isTrain: boolean) {
          calls.push(`modify:${isTrain}`);
          parser.setDefaults({ netG: 'unet_128' });
          parser.addArgument('--lambda_mine', { type: 'float', default: 3.0 });
        },
        checkOptions(opt) { calls.push(`check:${opt.lambda_mine}`); },
      };
      const opt = parseOptions(['--dataroot', 'd', '--model', 'mine', '--lambda_mine', '4'],
        { modelHooks: { ...PLUGIN_HOOKS.modelHooks, mine }, ...fixedSeed }) as unknown as Record<string, unknown>;
      assert.deepStrictEqual([opt.netG, opt.lambda_mine], ['unet_128', 4]);
      assert.deepStrictEqual(calls, ['modify:true', 'check:4']);
    });
  });

  describe('post-processing', () => {
    it('appends the formatted --suffix to the name', () => {
      const opt = parseOptions(['--dataroot', 'd', '--model', 'pix2pix', '--suffix', '{model}_{netG}_size{load_size}_lr{lr}'], fixedSeed);
      assert.strictEqual(opt.name, 'experiment_name_pix2pix_unet_256_size286_lr0.0002');
      const formatted = parseOptions(['--dataroot', 'd', '--suffix', '{batch_size:03d}_{lambda_A}_{isTrain}'], fixedSeed);
      assert.strictEqual(formatted.name, 'experiment_name_001_10.0_True');
      assert.throws(() => parseOptions(['--dataroot', 'd', '--suffix', '{nope}']),
        { message: "Expected option names in braces such as {model} for --suffix but received '{nope}'" });
    });

    it('chooses a random seed when none is given and keeps a given one', () => {
      const chosen = parseOptions(['--dataroot', 'd']).seed;
      assert.ok(Number.isInteger(chosen) && chosen >= 0 && chosen < 2 ** 31, String(chosen));
      assert.strictEqual(parseOptions(['--dataroot', 'd', '--seed', '42']).seed, 42);
      assert.throws(() => parseOptions(['--dataroot', 'd', '--seed', '-1']), /Expected an integer >= 0 for --seed but received '-1'/);
    });

    it('maps --gpu_ids onto --device and passes the id list on', () => {
      const cases: [string[], string, number[]][] = [
        [['--gpu_ids', '-1'], 'cpu', []],
        [['--gpu_ids', '0'], 'cuda:0', [0]],
        [['--gpu_ids', '1,2'], 'cuda:1', [1, 2]],
        [['--gpu_ids=0', '--device', 'cuda'], 'cuda:0', [0]],
        [['--device', 'cuda:1'], 'cuda:1', []],
        [[], '', []],
      ];
      for (const [flags, device, list] of cases) {
        const opt = parseOptions(['--dataroot', 'd', ...flags], fixedSeed);
        assert.deepStrictEqual([opt.device, opt.gpu_id_list], [device, list], flags.join(' '));
      }
    });

    it('validates the form of --device and --gpu_ids', () => {
      assert.throws(() => parseOptions(['--dataroot', 'd', '--device', 'gpu']),
        { message: "Expected cpu, cuda or cuda:N for --device but received 'gpu'" });
      assert.throws(() => parseOptions(['--dataroot', 'd', '--gpu_ids', 'a,b']),
        /^OptionError: Expected comma-separated GPU ids .* for --gpu_ids but received 'a,b'/);
      assert.throws(() => parseOptions(['--dataroot', 'd', '--gpu_ids', '0', '--device', 'cpu']),
        { message: "Expected a device that agrees with --gpu_ids 0 (cuda:0) for --device but received 'cpu'" });
    });

    it('accepts a shell-like string with quotes', () => {
      const opt = parseOptions(`--dataroot "my data/facades" --name 'a b' --direction BtoA`, fixedSeed);
      assert.deepStrictEqual([opt.dataroot, opt.name, opt.direction], ['my data/facades', 'a b', 'BtoA']);
    });

    it('gatherOptions returns the parsed options with isTrain and no seed chosen yet', () => {
      const opt = gatherOptions(['--dataroot', 'd', '--model', 'pix2pix'], { isTrain: true });
      assert.strictEqual(opt.isTrain, true);
      assert.strictEqual(opt.seed, null);
      assert.strictEqual(opt.lambda_L1, 100);
    });

    it('--help shows the options added by the chosen model', () => {
      assert.throws(() => parseOptionsWithParser(['--model', 'pix2pix', '--help']), (error: Error) => {
        assert.ok(error instanceof HelpRequested);
        assert.match(error.helpText, /\npix2pix:\n {2}--lambda_L1 LAMBDA_L1 +weight for L1 loss \(default: 100\.0\)/);
        assert.match(error.helpText, /--norm \{instance,batch,none,syncbatch\}\n +instance normalization or batch normalization \(default: batch\)/);
        return true;
      });
    });
  });
});
