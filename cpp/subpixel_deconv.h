// ConvTranspose2d with stride 2 computed exactly as one ordinary convolution plus an interleave ("sub-pixel"):
// each of the 4 output phases (row parity a, column parity b) is a 2x2 correlation of the input with taps taken
// from the transposed kernel. libtorch 1.13 runs ConvTranspose2d on CPU through im2col + BLAS (~30-50 GFLOP/s
// here); the rewrite runs on oneDNN's convolution instead. Same parameters, same state_dict keys, same default
// init draws, results equal up to float summation order (~1e-6).
#pragma once
#include <torch/torch.h>

#include "prepacked_conv.h"

namespace img2img {

struct SubpixelConvTranspose2dImpl : torch::nn::Module {
  // kernel 4 / padding 1 / output_padding 0 (U-Net) or kernel 3 / padding 1 / output_padding 1 (ResNet).
  SubpixelConvTranspose2dImpl(int64_t in, int64_t out, int64_t kernel, int64_t padding, int64_t outputPadding, bool bias);
  torch::Tensor forward(const torch::Tensor& x);
  // The path choice of forward, in whatever dtype autocast gives it (forward widens the result to float32).
  torch::Tensor ForwardPath(const torch::Tensor& x);
  // The libtorch ConvTranspose2d path (reference math), used on CUDA and when the fast path is off.
  torch::Tensor ForwardReference(const torch::Tensor& x);
  torch::Tensor ForwardSubpixel(const torch::Tensor& x);
  torch::Tensor PhaseKernel();

  torch::Tensor weight, bias;  // weight [in, out, k, k] as ConvTranspose2d
  int64_t kernel, padding, outputPadding;

 private:
  PrepackedWeight packed_;  // the phase kernel reordered for oneDNN (no-grad forwards only)
};
TORCH_MODULE(SubpixelConvTranspose2d);

// Process-wide switch (default on): lets benchmarks and parity tests compare both paths.
void SetFastConvTranspose(bool on);
bool FastConvTranspose();

}  // namespace img2img
