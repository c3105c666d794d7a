/**
 * The fuzzer's starting points: the hostile fixtures (../shared/fixtures/bad_inputs), a few real facades images,
 * and small valid files of every format the targets read, generated here (so that mutations start from
 * something the readers get far into).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { PNG } from 'pngjs';
import { encodePth, encodeSafetensors } from '../../src/checkpoint';
import { encodeStoredZip, ZipArchive } from '../../src/checkpoint/zip';
import { SHARED } from '../helpers/paths';
import { makeTar, makeTarGz, makeZip } from '../unit/tools/helpers/archives';
import type { TargetName } from './targets';

export interface Seed {
  name: string;
  data: Buffer;
}

const BAD_INPUTS = path.join(SHARED, 'fixtures/bad_inputs');
const FACADES = [
  'datasets/facades/train/1.jpg',
  'datasets/facades/test/2.jpg',
  'datasets/cyclegan_facades/testA/3.jpg',
  'datasets/cyclegan_facades/testB/4.jpg',
];

function fixture(name: string): Seed[] {
  const file = path.join(BAD_INPUTS, name);
  return fs.existsSync(file) ? [{ name: `bad_inputs/${name}`, data: fs.readFileSync(file) }] : [];
}

function smallPng(colorType: 0 | 2 | 4 | 6): Buffer {
  const png = new PNG({ width: 7, height: 5 });
  for (let i = 0; i < png.data.length; i++) png.data[i] = (i * 37) & 0xff;
  return PNG.sync.write(png, { colorType, inputHasAlpha: true });
}

function tensors() {
  const weight = Buffer.alloc(4 * 6);
  for (let i = 0; i < 6; i++) weight.writeFloatLE(i / 3, i * 4);
  return new Map([
    ['conv.weight', { dtype: 'float32' as const, shape: [2, 3], data: weight }],
    ['bn.num_batches_tracked', { dtype: 'int64' as const, shape: [], data: Buffer.alloc(8, 1) }],
  ]);
}

/** Our own stored .pth re-packed with every entry deflated (as Python's zipfile would). */
function deflated(pth: Buffer): Buffer {
  const archive = new ZipArchive(pth, 'seed');
  return makeZip(archive.entries.map((entry) => ({ name: entry.name, data: archive.read(entry.name), deflate: true })));
}

/** Seeds per target; files missing from ../shared are left out (the generated seeds are always there). */
export function loadSeeds(): Record<Exclude<TargetName, 'selftest'>, Seed[]> {
  const images: Seed[] = [
    ...['truncated.jpg', 'empty.jpg', 'text_named.jpg', 'bomb_20000x20000.png'].flatMap(fixture),
    ...FACADES.filter((f) => fs.existsSync(path.join(SHARED, f))).map((f) => ({ name: f, data: fs.readFileSync(path.join(SHARED, f)) })),
    ...([0, 2, 4, 6] as const).map((c) => ({ name: `generated/png-color${c}.png`, data: smallPng(c) })),
    { name: 'generated/ascii.ppm', data: Buffer.from('P3\n2 2\n255\n255 0 0 0 255 0 0 0 255 9 9 9\n') },
    { name: 'generated/binary.pgm', data: Buffer.concat([Buffer.from('P5\n3 2\n255\n'), Buffer.from([0, 50, 100, 150, 200, 250])]) },
  ];
  const pth = Buffer.concat(encodePth(tensors(), { archiveName: 'seed' }));
  const checkpoints: Seed[] = [
    ...['valid_conv.pth', 'truncated.pth', 'random_bytes.pth', 'malicious_os_system.pth', 'malicious_os_system_legacy.pth'].flatMap(fixture),
    { name: 'generated/seed.pth', data: pth },
    { name: 'generated/seed.safetensors', data: Buffer.concat(encodeSafetensors(tensors(), { note: 'seed' })) },
    { name: 'generated/deflated.pth', data: deflated(pth) },
  ];
  const archives: Seed[] = [
    { name: 'generated/dataset.tar.gz', data: makeTarGz([
      { name: 'facades/', type: '5' },
      { name: 'facades/train/1.jpg', data: 'image one' },
      { name: 'facades/train/long/'.padEnd(120, 'x') + '.jpg', data: 'long', gnuLongName: true },
      { name: 'facades/pax/ünï.jpg', data: 'pax', paxPath: true },
      { name: 'facades/val', type: '2', linkname: 'train' },
      { name: 'facades/copy.jpg', type: '1', linkname: 'facades/train/1.jpg' },
    ]) },
    { name: 'generated/dataset.tar', data: makeTar([{ name: 'd/a.txt', data: 'a' }, { name: 'd/b', type: '5' }]) },
    { name: 'generated/dataset.zip', data: makeZip([
      { name: 'horse2zebra/' },
      { name: 'horse2zebra/trainA/1.jpg', data: 'horse horse horse', deflate: true },
      { name: 'horse2zebra/trainB/1.jpg', data: 'zebra' },
      { name: 'horse2zebra/link', symlink: 'trainA' },
    ]) },
    { name: 'generated/stored64.zip', data: Buffer.concat(encodeStoredZip([{ name: 'z/a', data: Buffer.alloc(300, 7) }, { name: 'z/b', data: Buffer.from('b') }], { zip64Threshold: 100 })) },
    { name: 'generated/empty.gz', data: zlib.gzipSync(Buffer.alloc(0)) },
  ];
  return { image: images, checkpoint: checkpoints, archive: archives };
}
