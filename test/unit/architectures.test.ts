/**
 * The architecture table (src/architectures.ts): names parse to the native builder's fields, the option choices
 * and defineG/defineD read the same table, the state-dict signatures recognise every family's real networks,
 * and the native layer builds from the fields alone (it only range-checks them).
 */
import * as assert from 'assert';
import {
  architectureNames, DISCRIMINATOR_ARCHS, forwardFlops, GENERATOR_ARCHS, guessArchitecture, minInputSize,
  resolveArchitecture, sizeMultiple,
} from '../../src/architectures';
import { native } from '../../src/native';
import { defineD, defineG, definePatchSampleF } from '../../src/networks';
import { parseOptions } from '../../src/plugins';
import { Tensor } from '../../src/tensor';

describe('architecture table', () => {
  it('parses listed and grammar names into builder fields', () => {
    const fields = (kind: 'G' | 'D', arch: string, nLayersD?: number) => resolveArchitecture({ kind, arch, nLayersD })?.fields;
    assert.deepStrictEqual(fields('G', 'unet_256'), { builder: 'unet', numDowns: 8, sizeMultiple: 256 });
    assert.deepStrictEqual(fields('G', 'unet_6downs'), { builder: 'unet', numDowns: 6, sizeMultiple: 64 });
    assert.deepStrictEqual(fields('G', 'resnet_6blocks'), { builder: 'resnet', nBlocks: 6, nDownsampling: 2, sizeMultiple: 4 });
    assert.deepStrictEqual(fields('D', 'basic', 5), { builder: 'n_layers', nLayersD: 3, sizeMultiple: 1 });
    assert.deepStrictEqual(fields('D', 'n_layers', 5), { builder: 'n_layers', nLayersD: 5, sizeMultiple: 1 });
    assert.deepStrictEqual(fields('D', 'pixel'), { builder: 'pixel', sizeMultiple: 1 });
    for (const [kind, arch] of [['G', 'unet_64'], ['G', 'basic'], ['D', 'unet_256'], ['G', 'resnet_blocks']] as const) {
      assert.strictEqual(resolveArchitecture({ kind, arch }), null, `${kind} ${arch}`);
    }
    assert.deepStrictEqual([sizeMultiple('unet_128'), minInputSize('unet_128'), sizeMultiple('resnet_9blocks'), minInputSize('resnet_9blocks')], [128, 128, 4, 8]);
  });

  it("CUT's families: the antialias switches pick them under the reference's names; F has its own kind", () => {
    const r = (d: Parameters<typeof resolveArchitecture>[0]) => resolveArchitecture(d)?.fields;
    assert.deepStrictEqual(r({ kind: 'G', arch: 'resnet_9blocks', antialias: true, antialiasUp: false }),
      { builder: 'resnet_cut', nBlocks: 9, nDownsampling: 2, antialias: true, antialiasUp: false, sizeMultiple: 4 });
    assert.deepStrictEqual(r({ kind: 'G', arch: 'resnet_9blocks', antialias: false, antialiasUp: false }), { builder: 'resnet', nBlocks: 9, nDownsampling: 2, sizeMultiple: 4 });
    assert.deepStrictEqual(r({ kind: 'D', arch: 'n_layers', nLayersD: 2, antialias: true }), { builder: 'n_layers_cut', nLayersD: 2, sizeMultiple: 1 });
    assert.deepStrictEqual(r({ kind: 'D', arch: 'pixel', antialias: true }), { builder: 'pixel', sizeMultiple: 1 }); // CUT's PixelDiscriminator has no blur
    assert.deepStrictEqual(r({ kind: 'F', arch: 'mlp_sample' }), { builder: 'patch_sample_mlp', sizeMultiple: 1 });
    assert.deepStrictEqual(r({ kind: 'F', arch: 'sample' }), { builder: 'patch_sample', sizeMultiple: 1 });
    assert.deepStrictEqual(architectureNames('G').names, [...GENERATOR_ARCHS]); // the CUT G adds no names of its own
    assert.deepStrictEqual(architectureNames('F').names, ['mlp_sample', 'sample']);
    // Stride-1 convs before each blur pool: the antialiased D counts more than the plain one; F counts its MLPs.
    const d = { kind: 'D' as const, arch: 'basic', inputNc: 3, width: 4, norm: 'none' };
    assert.ok(forwardFlops({ ...d, antialias: true }, 64, 64) > forwardFlops(d, 64, 64));
    assert.strictEqual(forwardFlops({ kind: 'F', arch: 'mlp_sample', inputNc: 3, width: 8, norm: 'none', featureChannels: [3, 16] }, 1, 4),
      2 * (3 * 8 + 64 + 16 * 8 + 64) * 4);
  });

  it("recognises CUT's networks from their state dicts (blur filters, MLPs)", () => {
    const nets = [
      defineG({ netG: 'resnet_2blocks', ngf: 4, norm: 'instance', antialias: true, antialiasUp: true }),
      defineG({ netG: 'resnet_2blocks', ngf: 4, norm: 'instance', antialias: false, antialiasUp: true }),
      defineD({ netD: 'basic', ndf: 4, norm: 'instance', antialias: true }),
      definePatchSampleF({ featureChannels: [3, 8, 16], netFNc: 8 }),
    ];
    try {
      const guesses = nets.map((net) => {
        const shapes = new Map<string, number[]>();
        for (const [k, t] of net.stateDict()) { shapes.set(k, t.shape); t.dispose(); }
        const g = guessArchitecture(shapes);
        return [g.kind, g.arch, g.width, g.norm, g.antialias ?? null, g.antialiasUp ?? null, g.featureChannels ?? null];
      });
      assert.deepStrictEqual(guesses, [
        ['G', 'resnet_2blocks', 4, 'instance', true, true, null],
        ['G', 'resnet_2blocks', 4, 'instance', false, true, null],
        ['D', 'basic', 4, 'instance', true, null, null],
        ['F', 'mlp_sample', 8, 'none', null, null, [3, 8, 16]],
      ]);
    } finally {
      for (const net of nets) net.dispose();
    }
  });

  it('the option choices, their order and the CLI grammar come from the table', () => {
    assert.deepStrictEqual(architectureNames('G').names, [...GENERATOR_ARCHS]);
    assert.deepStrictEqual(architectureNames('D').names, [...DISCRIMINATOR_ARCHS]);
    assert.strictEqual(parseOptions(['--dataroot', 'd', '--netG', 'resnet_3blocks', '--seed', '0']).netG, 'resnet_3blocks');
    assert.throws(() => parseOptions(['--dataroot', 'd', '--netG', 'resnet_x']),
      { message: "Expected one of unet_256, unet_128, resnet_9blocks, resnet_6blocks for --netG but received 'resnet_x'" });
  });

  it('counts FLOPs per family (pixel D by hand: 2·(3·4 + 4·8 + 8·1)·8·8)', () => {
    assert.strictEqual(forwardFlops({ kind: 'D', arch: 'pixel', inputNc: 3, width: 4, norm: 'batch' }, 8, 8), 2 * (12 + 32 + 8) * 64);
    assert.throws(() => forwardFlops({ kind: 'G', arch: 'nope', inputNc: 3, width: 4, norm: 'batch' }, 8, 8), /no FLOP count .* 'nope'/);
  });

  it('recognises each family from its real state dict', () => {
    const nets = [
      defineG({ netG: 'unet_6downs', ngf: 4, norm: 'batch', inputNc: 1, outputNc: 2 }),
      defineG({ netG: 'resnet_3blocks', ngf: 4, norm: 'instance' }),
      defineD({ netD: 'n_layers', nLayersD: 2, ndf: 4, norm: 'none', inputNc: 6 }),
      defineD({ netD: 'pixel', ndf: 4, norm: 'batch' }),
    ];
    try {
      const guesses = nets.map((net) => {
        const shapes = new Map<string, number[]>();
        for (const [k, t] of net.stateDict()) { shapes.set(k, t.shape); t.dispose(); }
        const g = guessArchitecture(shapes);
        return [g.kind, g.arch, g.width, g.inputNc, g.norm, g.outputNc ?? g.nLayersD ?? null];
      });
      assert.deepStrictEqual(guesses, [
        ['G', 'unet_6downs', 4, 1, 'batch', 2],
        ['G', 'resnet_3blocks', 4, 3, 'instance', 3],
        ['D', 'n_layers', 4, 6, 'none', 2],
        ['D', 'pixel', 4, 3, 'batch', null],
      ]);
    } finally {
      for (const net of nets) net.dispose();
    }
    assert.deepStrictEqual(guessArchitecture(new Map([['w', [1]]])), { known: false });
  });

  it('the native layer builds from the builder fields and only range-checks them', () => {
    const g = defineG({ netG: 'unet_5downs', ngf: 2, norm: 'none' });
    const x = Tensor.fromFloat32Array(new Float32Array(3 * 32 * 32), [1, 3, 32, 32]);
    try {
      const y = g.forward(x);
      assert.deepStrictEqual(y.shape, [1, 3, 32, 32]);
      y.dispose();
    } finally {
      x.dispose();
      g.dispose();
    }
    const spec = { kind: 'G' as const, arch: 'mine', inputNc: 3, outputNc: 3, width: 4, norm: 'batch', paddingType: 'reflect', sizeMultiple: 4 };
    assert.throws(() => new (native().Network)({ ...spec, builder: 'nope' }),
      { message: "Expected a generator builder (unet, resnet, resnet_cut) for netG 'mine' builder but received 'nope'" });
    assert.throws(() => new (native().Network)({ ...spec, builder: 'resnet', nBlocks: 2, nDownsampling: 9 }),
      { message: 'Expected an integer between 0 and 8 for nDownsampling but received 9' });
    assert.throws(() => new (native().Network)({ ...spec, builder: 'unet', numDowns: 3 }),
      { message: "Expected a U-Net depth between 5 and 12 for netG but received 'mine'" });
  });
});
