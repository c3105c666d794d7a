// A stride-1 convolution with very few output channels (the ResNet generator's last layer: 64 -> 3, 7x7, at full
// resolution) computed as one stride-2 convolution whose 4x output channels are the 4 output phases (row parity a,
// column parity b), then interleaved: y[o, 2m+a, 2j+b] = sum w[o, c, u, v] x[c, 2m+a+u, 2j+b+v] is a (k+1)x(k+1)
// stride-2 correlation with the kernel w shifted by (a, b) inside a zero border. oneDNN blocks output channels by
// 8 (AVX2) or 16 (AVX-512), so 3 outputs leave most lanes idle; 12 fill them. It does (k+1)^2/k^2 the multiplies
// (1.3x for 7x7) yet measured 2.4x faster forward and 1.35x forward+backward at 256x256 here. Exact up to float
// summation order; differentiable (training sends the gradient back through the shifted kernels to `weight`).
#pragma once
#include <torch/torch.h>

#include "prepacked_conv.h"

namespace img2img {

// Whether conv2d(x, weight, `stride`, `padding` zeros; the caller has checked: no dilation, one group) takes the
// phase form: CPU float32, stride 1, a 7x7 kernel (the one shape measured), at most 4 outputs, an even output size.
bool PhaseConvApplies(const torch::Tensor& x, const torch::Tensor& weight, torch::IntArrayRef stride,
                      torch::IntArrayRef padding);

// Process-wide switch (default on): lets tests and benchmarks compare with the direct convolution.
void SetPhaseConv(bool on);
bool PhaseConvEnabled();

// [sync] conv2d(x, weight, bias, stride 1, `padding` zeros) in the phase form. Without autograd the phase kernel is
// prepacked for oneDNN in `packed` (the calling module's cache: its stride-2 key keeps it apart from the direct
// kernel's). Any thread may call; the result owns its tensor.
torch::Tensor PhaseConv2d(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                          torch::IntArrayRef padding, PrepackedWeight& packed);

}  // namespace img2img
