// Stride-1 convolutions by Winograd's minimal filtering (Lavin & Gray 2015) over 6x6 input tiles: F(4x4, 3x3) for
// 3x3 kernels (each 4x4 output tile is A^T [(G w G^T) . (B^T d B)] A, 36 multiplies per tile and channel pair
// instead of 144) and, by the transposition principle, F(3x3, 4x4) for 4x4 kernels (G^T [(A w A^T) . (B^T d B)] G,
// 36 instead of 144 per 3x3 tile: the discriminators' 256 -> 512 layer). The 36 element-wise products over all
// channels are 36 batched matrix products (BLAS), the transforms are small loops here. With autograd, the backward
// is the exact adjoint of those steps (two more batched products, the transforms' transposes), so the input and
// weight gradients also take 4x fewer multiplies than the direct convolution's.
// Exact in exact arithmetic; in float32 its rounding error is ~10x that of the direct convolution (mean relative
// error ~2-3e-6 on outputs and input gradients, ~1-3e-6 on weight gradients, against float64, 256 channels), so it
// is used only where it pays: wide layers (the ResNet blocks of ngf 64 networks, the ndf 64 discriminators' fourth
// layer). The parity fixtures' networks (ngf/ndf 8) never take it.
#pragma once
#include <mutex>
#include <torch/torch.h>

namespace img2img {

// Whether conv2d(x, weight, `stride`; the caller has checked: zero padding, no dilation, one group) takes the
// Winograd path: CPU float32, 3x3 or 4x4, stride 1, at least kWinogradMinChannels in and out channels, an input of
// at least 32x32 (below, the 36 small products lose to the direct kernel), and the switch for the grad mode on.
bool WinogradApplies(const torch::Tensor& x, const torch::Tensor& weight, torch::IntArrayRef stride);

// Process-wide switches (default on), without autograd (inference) and with it (training): let tests and
// benchmarks compare with the direct convolution, and a user keep the direct convolution's rounding in training.
void SetWinograd(bool on);
bool Winograd();
void SetWinogradTrain(bool on);
bool WinogradTrain();

// The transformed form of one 3x3 or 4x4 weight, U = G w G^T (4x4: A w A^T) as [36, out, in], rebuilt when the
// weight's storage or version changes (optimizer step, load).
class WinogradWeight {
 public:
  // [sync] conv2d(x, weight, bias, stride 1) by F(4x4, 3x3) or F(3x3, 4x4) over x padded by `padding` zeros, or
  // with `reflect` by `padding` reflected rows and columns (ReflectionPad2d fused in: the transform reads the
  // reflected input, no padded copy; its backward folds the padding's gradient back). With autograd on, differentiable in x, weight
  // and bias; the graph keeps x and this weight version's U. Any thread may call; the cache is guarded by a mutex;
  // the result owns its tensor.
  torch::Tensor Conv(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                     torch::IntArrayRef padding, bool reflect = false);

 private:
  // U for this weight version, from the cache or rebuilt (shared with graphs that saved it).
  torch::Tensor Transformed(const torch::Tensor& weight);

  std::mutex mutex_;
  torch::Tensor u_;
  const void* data_ = nullptr;
  int64_t version_ = -1;
};

}  // namespace img2img
