#!/usr/bin/env python3
"""Times pytorch-fid's feature extraction on the same row as `npm run bench -- --only FID` (developer tool, not shipped).

pytorch-fid's get_activations: uint8 images -> float [0, 1] tensors in batches, then InceptionV3(resize_input=True,
normalize_input=True) -> bilinear resize to 299x299 (align_corners=False), scale to [-1, 1], the Inception v3 blocks
up to pool3, adaptive average pool -> 2048 features, moved to CPU. Its FID-specific blocks (FIDInceptionA/C/E_1/E_2)
differ from torchvision's only in pooling (count_include_pad=False average pools, one max pool), which costs the same,
so torchvision's inception_v3 without aux logits and fc stands in for timing (Debian's python3-torchvision, same
libtorch as the addon). Weights do not change the time: default init.

Usage: python3 scripts/reference_fid_bench.py [--images 32] [--size 256] [--batch 16] [--iters 3] [--threads 2]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--images', type=int, default=32)
    ap.add_argument('--size', type=int, default=256)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--iters', type=int, default=3)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--threads', type=int, default=torch.get_num_threads())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False).eval()
    blocks = torch.nn.Sequential(
        net.Conv2d_1a_3x3, net.Conv2d_2a_3x3, net.Conv2d_2b_3x3, net.maxpool1,
        net.Conv2d_3b_1x1, net.Conv2d_4a_3x3, net.maxpool2,
        net.Mixed_5b, net.Mixed_5c, net.Mixed_5d, net.Mixed_6a, net.Mixed_6b, net.Mixed_6c, net.Mixed_6d, net.Mixed_6e,
        net.Mixed_7a, net.Mixed_7b, net.Mixed_7c, torch.nn.AdaptiveAvgPool2d((1, 1)))
    images = [torch.randint(0, 256, (a.size, a.size, 3), dtype=torch.uint8).numpy() for _ in range(a.images)]
    times = []
    with torch.no_grad():
        for i in range(a.warmup + a.iters):
            t0 = time.perf_counter()
            feats = []
            for s in range(0, len(images), a.batch):
                # pytorch-fid's ImagePathDataset + ToTensor(): HWC uint8 -> CHW float in [0, 1]
                x = torch.stack([torch.from_numpy(im).permute(2, 0, 1).float() / 255 for im in images[s:s + a.batch]])
                x = F.interpolate(x, size=(299, 299), mode='bilinear', align_corners=False)
                x = 2 * x - 1
                feats.append(blocks(x).squeeze(3).squeeze(2).cpu())
            torch.cat(feats)
            if i >= a.warmup:
                times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f'pytorch-fid features of {a.images} images @ {a.size}x{a.size}, {a.threads} threads: median {med:.3f} s '
          f'({med / a.images:.3f} s/image) over {a.iters} runs')


if __name__ == '__main__':
    main()
