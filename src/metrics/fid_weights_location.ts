// Where the FID Inception weights file lives; no native code here, so the download tool can share it.
import * as path from 'path';

/** The file pytorch-fid downloads (its FID_WEIGHTS_URL): the TF 2015-12-05 Inception graph ported to PyTorch. */
export const FID_WEIGHTS_FILE = 'pt_inception-2015-12-05-6726825d.pth';
export const FID_WEIGHTS_ENV = 'IMG2IMG_FID_WEIGHTS';
/** Where `img2img download model fid-inception` puts the file, under --checkpoints_dir. */
export const FID_WEIGHTS_FOLDER = 'fid_inception';

/** An explicit path, else $IMG2IMG_FID_WEIGHTS, else <checkpointsDir>/fid_inception/<file>. */
export function resolveFidWeightsPath(explicit?: string | null, checkpointsDir = './checkpoints'): string {
  return explicit || process.env[FID_WEIGHTS_ENV] || path.join(checkpointsDir, FID_WEIGHTS_FOLDER, FID_WEIGHTS_FILE);
}
