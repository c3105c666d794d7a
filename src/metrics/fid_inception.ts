/**
 * pytorch-fid's Inception v3 (the native FID network, cpp/inception.h) with its weights file, and pool3 features
 * of 8-bit RGB images: pixels/255 as torchvision's ToTensor, in batches of same-sized images.
 */
import * as fs from 'fs';
import { readStateDictRaw } from '../checkpoint';
import type { RawImage8 } from '../data/image';
import { Network } from '../networks';
import { getRngState, resolveDevice, setRngState } from '../runtime';
import { cat, Tensor } from '../tensor';
import { FID_WEIGHTS_FILE } from './fid_weights_location';
import { MetricError } from './metric_errors';

export const POOL3_FEATURES = 2048;

/** pytorch-fid's FID Inception v3 in libtorch: 2048 pool3 features per image. */
export class FidInception {
  private constructor(readonly network: Network, readonly weightsFile: string) {}

  /** Builds the network and loads the weights file (strict: every key and shape of pytorch-fid's file). */
  static load(weightsFile: string, options: { device?: string } = {}): FidInception {
    if (!fs.existsSync(weightsFile)) {
      throw new MetricError('ERR_IMG2IMG_FID_WEIGHTS_MISSING', `the FID Inception weights ${FID_WEIGHTS_FILE} (img2img download model fid-inception, or --fid_weights FILE)`,
        'FID and KID', `no file at ${weightsFile}`);
    }
    const { tensors } = readStateDictRaw(weightsFile);
    const network = buildNetwork();
    try {
      network.loadStateDict(tensors, { what: `FID Inception weights ${weightsFile}` });
    } catch (e) {
      network.dispose();
      throw new MetricError('ERR_IMG2IMG_FID_WEIGHTS_MISMATCH', `pytorch-fid's ${FID_WEIGHTS_FILE} state dict`, weightsFile, (e as Error).message);
    }
    return new FidInception(moveTo(network, options.device), weightsFile);
  }

  /** libtorch's default init instead of the weights file: the same compute with meaningless features (benchmarks). */
  static withDefaultInit(options: { device?: string } = {}): FidInception {
    return new FidInception(moveTo(buildNetwork(), options.device), '(default init)');
  }

  /** [async] pool3 features [N, 2048] (float32, CPU) of 8-bit RGB images; the caller owns the tensor. */
  async features(images: readonly RawImage8[], options: { batchSize?: number } = {}): Promise<Tensor> {
    const batchSize = options.batchSize ?? 16;
    if (images.length === 0) throw new MetricError('ERR_IMG2IMG_METRIC_TOO_FEW_IMAGES', 'at least one image', 'FID features', 'none');
    const parts: Tensor[] = [];
    try {
      for (let start = 0; start < images.length;) {
        const first = images[start];
        let end = start + 1;
        while (end < images.length && end - start < batchSize && images[end].width === first.width && images[end].height === first.height) end++;
        const input = imagesToTensor(images.slice(start, end), this.network.device);
        try {
          parts.push(await this.network.forwardAsync(input, { outputDevice: 'cpu' }));
        } finally {
          input.dispose();
        }
        start = end;
      }
      return parts.length === 1 ? parts[0] : cat(parts, 0);
    } finally {
      if (parts.length > 1) for (const p of parts) p.dispose();
    }
  }

  /** Releases the network. */
  dispose(): void { this.network.dispose(); }
}

/**
 * The network in eval mode. Its default init draws from torch's CPU generator, which is put back afterwards: loading
 * it for validation must not change a training run's random numbers.
 */
function buildNetwork(): Network {
  const rng = getRngState();
  try {
    // width/norm only document it: the native side fixes the architecture for kind FID.
    return new Network({ kind: 'FID', arch: 'fid_inception_v3', inputNc: 3, width: POOL3_FEATURES, norm: 'batch' }).eval();
  } finally {
    setRngState(rng);
  }
}

function moveTo(network: Network, device = 'cpu'): Network {
  try {
    const d = resolveDevice(device);
    if (d !== 'cpu') network.to(d);
    return network;
  } catch (e) {
    network.dispose();
    throw e;
  }
}

/** [N, 3, H, W] float32 in [0, 1] (ToTensor) of same-sized RGB images. */
export function imagesToTensor(images: readonly RawImage8[], device = 'cpu'): Tensor {
  const { width, height } = images[0];
  const plane = width * height;
  const data = new Float32Array(images.length * 3 * plane);
  images.forEach((img, n) => {
    if (img.channels !== 3 || img.bitDepth !== 8) throw new MetricError('ERR_IMG2IMG_METRIC_BAD_IMAGE', '8-bit RGB images', 'FID features', `${img.channels} channels, ${img.bitDepth}-bit`);
    const base = n * 3 * plane;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) data[base + c * plane + p] = img.data[p * 3 + c] / 255;
    }
  });
  return Tensor.fromFloat32Array(data, [images.length, 3, height, width], device);
}
