// Inference-only 3x3 stride-1 convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray 2015): each
// 4x4 output tile is A^T [(G w G^T) . (B^T d B)] A over a 6x6 input tile, 36 multiplies per tile and channel pair
// instead of 144. The 36 element-wise products over all channels are 36 batched matrix products (BLAS), the
// transforms are small loops here. Exact in exact arithmetic; in float32 its rounding error is ~5x that of the
// direct convolution (max |diff| ~1e-4 on outputs of magnitude ~5 at 256 channels), so it is used only where it pays
// (wide layers, no autograd: the ResNet blocks' convolutions at inference) and never in training, where the
// reference's rounding is what the parity fixtures check.
#pragma once
#include <mutex>
#include <torch/torch.h>

namespace img2img {

// Whether conv2d(x, weight, `stride`; the caller has checked: zero padding, no dilation, one group) takes the
// Winograd path: no autograd, CPU float32, 3x3, stride 1, at least kWinogradMinChannels in and out channels, an output of
// at least 32x32 (below, the 36 small products lose to the direct kernel) and the process-wide switch on.
bool WinogradApplies(const torch::Tensor& x, const torch::Tensor& weight, torch::IntArrayRef stride);

// Process-wide switch (default on): lets tests and benchmarks compare with the direct convolution.
void SetWinograd(bool on);
bool Winograd();

// The transformed form of one 3x3 weight, U = G w G^T as [36, out, in], rebuilt when the weight's storage or
// version changes (optimizer step, load).
class WinogradWeight {
 public:
  // [sync] conv2d(x, weight, bias, stride 1) by F(4x4, 3x3) over x padded by `padding` zeros, or with `reflect`
  // by `padding` reflected rows and columns (ReflectionPad2d fused in: the transform reads the reflected input, no
  // padded copy). Any thread may call; the cache is guarded by a mutex; the result owns its tensor.
  torch::Tensor Conv(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                     torch::IntArrayRef padding, bool reflect = false);

 private:
  std::mutex mutex_;
  torch::Tensor u_;
  const void* data_ = nullptr;
  int64_t version_ = -1;
};

}  // namespace img2img
