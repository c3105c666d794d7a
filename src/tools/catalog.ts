/**
 * What `img2img download` knows about: the reference's published datasets and pretrained generators
 * (datasets/download_*_dataset.sh, scripts/download_*_model.sh), where they live on the server, and the
 * architecture of each pretrained generator, which the .pth files themselves do not record.
 */
import type { NetworkDescription } from '../networks';
import { expected, OptionError } from '../options/option_errors';

/** The reference's server. It has had outages, so --mirror / IMG2IMG_MIRROR can point elsewhere. */
export const DEFAULT_MIRROR = 'http://efrosgans.eecs.berkeley.edu';
export const MIRROR_ENV = 'IMG2IMG_MIRROR';

export type DatasetKind = 'pix2pix' | 'cyclegan';
export const DATASET_KINDS: readonly DatasetKind[] = ['pix2pix', 'cyclegan'];

/** download_pix2pix_dataset.sh: aligned A|B pairs in <name>/{train,val,test}, as .tar.gz. */
export const PIX2PIX_DATASETS = ['facades', 'night2day', 'edges2handbags', 'edges2shoes', 'maps'] as const;

/** download_cyclegan_dataset.sh: unpaired sets in <name>/{trainA,trainB,testA,testB}, as .zip. */
export const CYCLEGAN_DATASETS = [
  'apple2orange', 'summer2winter_yosemite', 'horse2zebra', 'monet2photo', 'cezanne2photo', 'ukiyoe2photo',
  'vangogh2photo', 'maps', 'facades', 'iphone2dslr_flower', 'ae_photos', 'mini', 'mini_pix2pix', 'mini_colorization',
] as const;

/** download_cyclegan_model.sh: single resnet_9blocks generators, used with --model test --no_dropout. */
export const CYCLEGAN_MODELS = [
  'apple2orange', 'orange2apple', 'summer2winter_yosemite', 'winter2summer_yosemite', 'horse2zebra', 'zebra2horse',
  'monet2photo', 'style_monet', 'style_cezanne', 'style_ukiyoe', 'style_vangogh', 'sat2map', 'map2sat',
  'cityscapes_photo2label', 'cityscapes_label2photo', 'facades_photo2label', 'facades_label2photo', 'iphone2dslr_flower',
] as const;

/** download_pix2pix_model.sh: unet_256 generators with batch norm, used with --model pix2pix. */
export const PIX2PIX_MODELS = ['edges2shoes', 'sat2map', 'map2sat', 'facades_label2photo', 'day2night'] as const;

/** Names the reference's scripts refuse, and why. */
export const REFUSED_DATASETS: Readonly<Record<string, string>> = {
  cityscapes:
    'the Cityscapes license does not allow redistribution: register at https://www.cityscapes-dataset.com, ' +
    'download gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip, and build the aligned dataset yourself ' +
    '(the reference has datasets/prepare_cityscapes_dataset.py for that)',
};

/**
 * SHA-256 of each published file, by its path below the server (so that mirrors are checked too).
 *
 * None is known here: the reference's scripts publish no checksums, and this project was built without access
 * to the server, so no true hash could be computed — and none is made up. Every published name is therefore
 * listed with `null`, which `img2img download` reports as "not verified" (pass --sha256 to check a hash you
 * trust). Fill in an entry only from a file you downloaded and checked yourself.
 */
export const PUBLISHED_SHA256: Readonly<Record<string, string | null>> = Object.fromEntries([
  ...PIX2PIX_DATASETS.map((name) => [`pix2pix/datasets/${name}.tar.gz`, null]),
  ...CYCLEGAN_DATASETS.map((name) => [`cyclegan/datasets/${name}.zip`, null]),
  ...PIX2PIX_MODELS.map((name) => [`pix2pix/models-pytorch/${name}.pth`, null]),
  ...CYCLEGAN_MODELS.map((name) => [`cyclegan/pretrained_models/${name}.pth`, null]),
]);

export interface DatasetEntry {
  name: string;
  kind: DatasetKind;
  url: string;
  /** The published file's SHA-256 (lowercase hex), or null when no true hash is known (see PUBLISHED_SHA256). */
  sha256: string | null;
  /** File name of the archive on the server and while downloading. */
  archiveName: string;
  /** What the archive holds, for messages. */
  layout: string;
}

export interface ModelEntry {
  name: string;
  kind: DatasetKind;
  url: string;
  /** As DatasetEntry.sha256. */
  sha256: string | null;
  /** The generator the file holds: the sidecar written next to it. */
  network: NetworkDescription;
  /** How to use it, for the message after downloading. */
  usage: string;
}

/** CycleGAN's pretrained generators: ResnetGenerator(3, 3, 64, instance norm, no dropout, 9 blocks). */
const CYCLEGAN_GENERATOR: NetworkDescription = {
  kind: 'G', arch: 'resnet_9blocks', inputNc: 3, outputNc: 3, width: 64, norm: 'instance', useDropout: false, paddingType: 'reflect',
};

/** pix2pix's pretrained generators: UnetGenerator(3, 3, 8 downs, 64, batch norm, dropout), the pix2pix defaults. */
const PIX2PIX_GENERATOR: NetworkDescription = {
  kind: 'G', arch: 'unet_256', inputNc: 3, outputNc: 3, width: 64, norm: 'batch', useDropout: true, paddingType: 'reflect',
};

/** `http://host/` and `http://host` both give `http://host`; anything but http(s) is refused. */
export function normalizeMirror(mirror: string, source: string): string {
  let parsed: URL | null = null;
  try {
    parsed = new URL(mirror);
  } catch {
    // reported below
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw expected('an http:// or https:// URL', source, mirror);
  }
  return mirror.replace(/\/+$/, '');
}

/** The base URL: --mirror, else $IMG2IMG_MIRROR, else the reference's server. */
export function resolveMirror(flag: string | null | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return normalizeMirror(flag, '--mirror');
  const fromEnv = env[MIRROR_ENV];
  if (fromEnv) return normalizeMirror(fromEnv, MIRROR_ENV);
  return DEFAULT_MIRROR;
}

function includes(list: readonly string[], name: string): boolean {
  return list.includes(name);
}

/** The kinds under which a dataset name is published (facades and maps are published as both). */
export function datasetKindsOf(name: string): DatasetKind[] {
  const kinds: DatasetKind[] = [];
  if (includes(PIX2PIX_DATASETS, name)) kinds.push('pix2pix');
  if (includes(CYCLEGAN_DATASETS, name)) kinds.push('cyclegan');
  return kinds;
}

/** The kinds under which a model name is published (sat2map, map2sat and facades_label2photo are both). */
export function modelKindsOf(name: string): DatasetKind[] {
  const kinds: DatasetKind[] = [];
  if (includes(PIX2PIX_MODELS, name)) kinds.push('pix2pix');
  if (includes(CYCLEGAN_MODELS, name)) kinds.push('cyclegan');
  return kinds;
}

function listNames(title: string, names: readonly string[]): string {
  return `  ${title}: ${names.join(', ')}`;
}

/** The "valid names are" part of an unknown-name error. */
export function describeDatasets(): string {
  return [listNames('pix2pix datasets', PIX2PIX_DATASETS), listNames('CycleGAN datasets', CYCLEGAN_DATASETS)].join('\n');
}

export function describeModels(): string {
  return [listNames('CycleGAN models', CYCLEGAN_MODELS), listNames('pix2pix models', PIX2PIX_MODELS)].join('\n');
}

/**
 * Picks the kind of a name published under `kinds`: the one kind there is, else the one --kind asks for.
 * Ambiguous names need --kind (the two downloads have different layouts and would land in the same folder).
 */
function chooseKind(what: 'dataset' | 'model', name: string, kinds: DatasetKind[], kind: DatasetKind | null): DatasetKind {
  if (kind) {
    if (!kinds.includes(kind)) {
      throw expected(`${kinds[0]} (the only kind '${name}' is published as)`, '--kind', kind);
    }
    return kind;
  }
  if (kinds.length === 1) return kinds[0];
  const detail =
    what === 'dataset'
      ? 'pix2pix: aligned A|B pairs in train/ val/ test/; cyclegan: unpaired trainA/ trainB/ testA/ testB/'
      : 'pix2pix: unet_256 generator for --model pix2pix; cyclegan: resnet_9blocks generator for --model test';
  throw expected('pix2pix or cyclegan', '--kind', undefined, `'${name}' is published as both a pix2pix and a CycleGAN ${what}; ${detail}`);
}

function unknownName(what: 'dataset' | 'model', name: string): OptionError {
  const list = what === 'dataset' ? describeDatasets() : describeModels();
  const where = `download ${what} <name>`;
  return new OptionError(`Expected a published ${what} name for ${where} but received '${name}'; valid names:\n${list}`, where);
}

export function findDataset(name: string, kind: DatasetKind | null, mirror: string): DatasetEntry {
  const refused = REFUSED_DATASETS[name];
  if (refused) throw new OptionError(`the '${name}' dataset is not downloadable: ${refused}`, 'download dataset <name>');
  const kinds = datasetKindsOf(name);
  if (kinds.length === 0) throw unknownName('dataset', name);
  const chosen = chooseKind('dataset', name, kinds, kind);
  if (chosen === 'pix2pix') {
    const archiveName = `${name}.tar.gz`;
    const file = `pix2pix/datasets/${archiveName}`;
    return { name, kind: chosen, archiveName, url: `${mirror}/${file}`, sha256: PUBLISHED_SHA256[file] ?? null, layout: 'aligned A|B pairs (--dataset_mode aligned)' };
  }
  const archiveName = `${name}.zip`;
  const file = `cyclegan/datasets/${archiveName}`;
  return { name, kind: chosen, archiveName, url: `${mirror}/${file}`, sha256: PUBLISHED_SHA256[file] ?? null, layout: 'unpaired trainA/trainB/testA/testB (--dataset_mode unaligned)' };
}

export function findModel(name: string, kind: DatasetKind | null, mirror: string): ModelEntry {
  const kinds = modelKindsOf(name);
  if (kinds.length === 0) throw unknownName('model', name);
  const chosen = chooseKind('model', name, kinds, kind);
  if (chosen === 'pix2pix') {
    const file = `pix2pix/models-pytorch/${name}.pth`;
    return {
      name, kind: chosen, url: `${mirror}/${file}`, sha256: PUBLISHED_SHA256[file] ?? null, network: { ...PIX2PIX_GENERATOR },
      usage: `img2img test --dataroot ./datasets/<aligned dataset> --name ${name}_pretrained --model pix2pix [--direction BtoA]`,
    };
  }
  const file = `cyclegan/pretrained_models/${name}.pth`;
  return {
    name, kind: chosen, url: `${mirror}/${file}`, sha256: PUBLISHED_SHA256[file] ?? null, network: { ...CYCLEGAN_GENERATOR },
    usage: `img2img test --dataroot <folder of images> --name ${name}_pretrained --model test --no_dropout`,
  };
}

/** pytorch-fid's FID Inception weights (for img2img eval), a release asset on GitHub rather than the reference's server. */
export const FID_INCEPTION_MODEL = 'fid-inception';
export const FID_INCEPTION_BASE = 'https://github.com/mseitzer/pytorch-fid/releases/download';

/** Its URL: <base>/fid_weights/<file>, where --mirror or $IMG2IMG_MIRROR replace the GitHub base. */
export function fidInceptionUrl(fileName: string, mirrorFlag: string | null | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const base = mirrorFlag || env[MIRROR_ENV] ? resolveMirror(mirrorFlag, env) : FID_INCEPTION_BASE;
  return `${base}/fid_weights/${fileName}`;
}
