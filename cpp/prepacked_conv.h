// Inference-only convolutions with the weight reordered once into oneDNN's blocked layout and kept while the
// weight is unchanged. libtorch reorders a dense weight on every call; for the U-Net's 512-1024-channel layers at
// small spatial sizes that reorder (16-32 MB) costs more than the convolution itself. Used only when autograd is
// off (oneDNN tensors have no autograd), on CPU float32; the result is the same oneDNN convolution.
#pragma once
#include <mutex>
#include <torch/torch.h>

#include "winograd_conv.h"

namespace img2img {

// Whether a no-grad CPU float32 forward can use a prepacked weight (oneDNN built in and enabled, autocast off).
bool PrepackApplies(const torch::Tensor& x, const torch::Tensor& weight);

// The reordered form of one weight, rebuilt when the weight's storage or version changes (optimizer step, load).
class PrepackedWeight {
 public:
  // [sync] conv2d(x, kernel) + bias with per-axis stride/padding, through oneDNN with the cached reordered kernel.
  // `kernel` is the [out, in, kh, kw] weight to use (for a transposed convolution: its sub-pixel phase kernel; for
  // a conv followed by an eval BatchNorm: the folded kernel); `source` is the parameter it derives from, whose
  // storage and version key the cache, with `extraVersion` for anything else the kernel reads (the BatchNorm's
  // tensors). Any thread may call; the cache is guarded by a mutex; the result owns its tensor.
  torch::Tensor Conv(const torch::Tensor& x, const torch::Tensor& source, const std::function<torch::Tensor()>& kernel,
                     const torch::Tensor& bias, torch::IntArrayRef stride, torch::IntArrayRef padding,
                     int64_t extraVersion = 0);
  torch::Tensor Conv(const torch::Tensor& x, const torch::Tensor& source, const std::function<torch::Tensor()>& kernel,
                     const torch::Tensor& bias, int64_t stride, int64_t padding) {
    return Conv(x, source, kernel, bias, {stride, stride}, {padding, padding});
  }

 private:
  std::mutex mutex_;
  torch::Tensor packed_;
  const void* data_ = nullptr;
  int64_t version_ = -1, extraVersion_ = -1;
  std::vector<int64_t> stride_, padding_;
};

// nn::Conv2d whose no-grad CPU forward uses a prepacked weight. Same parameters, names and construction as
// nn::Conv2d (it is one, for m.as<nn::Conv2d>()), so state_dict keys and default init are unchanged.
struct FastConv2dImpl : torch::nn::Conv2dImpl {
  explicit FastConv2dImpl(torch::nn::Conv2dOptions options) : torch::nn::Conv2dImpl(std::move(options)) {}
  // [sync] conv2d(x); without autograd through the prepacked weight, or Winograd F(4x4, 3x3) for wide 3x3 layers
  // (winograd_conv.h); the 7x7 few-output layer in its phase form, with or without autograd (phase_conv.h).
  torch::Tensor forward(const torch::Tensor& x);
  // [sync] forward(reflection_pad2d(x, pad)) for this zero-padding conv; when the Winograd path applies, the pad is
  // fused into its input transform. `pad` is ReflectionPad2d's (left, right, top, bottom).
  torch::Tensor ForwardReflectionPadded(const torch::Tensor& x, torch::IntArrayRef pad);
  // [sync] relu(bn(conv(x))) with the eval-mode BatchNorm folded into the prepacked kernel and bias (inference
  // only: no grad, bn in eval; otherwise the three ops as written). Same result to float rounding.
  torch::Tensor ForwardBnRelu(const torch::Tensor& x, torch::nn::BatchNorm2dImpl& bn);
  // Output height x width for an inH x inW input (0 when none fits; "same"/"valid" padding strings: INT64_MAX).
  int64_t OutputPixels(int64_t inH, int64_t inW) const;

 private:
  PrepackedWeight packed_;
  WinogradWeight winograd_;
};
TORCH_MODULE(FastConv2d);

}  // namespace img2img
