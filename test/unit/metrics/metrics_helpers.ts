// Facades images as the metrics tests use them: a half of shared/datasets/facades/<split>/<n>.jpg, decoded as PIL does.
import * as fs from 'fs';
import * as path from 'path';
import type { RawImage8 } from '../../../src/data/image';
import { readImageFile, toRGB8 } from '../../../src/data/image_io';
import { SHARED } from '../../helpers/paths';

/** The left (photo) or right (label) 256x256 half of an aligned facades image. */
export function facadesHalf(n: number, half: 'photo' | 'label', split = 'test'): RawImage8 {
  const img = toRGB8(readImageFile(path.join(SHARED, 'datasets', 'facades', split, `${n}.jpg`)));
  const w = img.width / 2;
  const out = new Uint8Array(w * img.height * 3);
  const x0 = half === 'photo' ? 0 : w;
  for (let y = 0; y < img.height; y++) out.set(img.data.subarray((y * img.width + x0) * 3, (y * img.width + x0 + w) * 3), y * w * 3);
  return { data: out, width: w, height: img.height, channels: 3, bitDepth: 8 };
}

/** A facades dataset of the first n images of each split, split names mapped (e.g. shared test -> our val). */
export function facadesSubset(root: string, n: number, splits: Record<string, string>): string {
  for (const [src, dst] of Object.entries(splits)) {
    fs.mkdirSync(path.join(root, dst), { recursive: true });
    for (let i = 1; i <= n; i++) fs.copyFileSync(path.join(SHARED, 'datasets', 'facades', src, `${i}.jpg`), path.join(root, dst, `${i}.jpg`));
  }
  return root;
}
