#include "prepacked_conv.h"

#include <ATen/Context.h>

namespace img2img {

bool PrepackApplies(const torch::Tensor& x, const torch::Tensor& weight) {
  return !torch::GradMode::is_enabled() && at::hasMKLDNN() && at::globalContext().userEnabledMkldnn() &&
         x.device().is_cpu() && weight.device().is_cpu() && x.scalar_type() == torch::kFloat32 &&
         weight.scalar_type() == torch::kFloat32 && x.dim() == 4 && !x.is_mkldnn();
}

torch::Tensor PrepackedWeight::Conv(const torch::Tensor& x, const torch::Tensor& source,
                                    const std::function<torch::Tensor()>& kernel, const torch::Tensor& bias,
                                    int64_t stride, int64_t padding) {
  torch::Tensor packed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const void* data = source.data_ptr();
    const int64_t version = source._version();
    if (!packed_.defined() || data != data_ || version != version_ || stride != stride_ || padding != padding_) {
      packed_ = at::mkldnn_reorder_conv2d_weight(kernel().contiguous().to_mkldnn(), {padding, padding}, {stride, stride}, {1, 1}, 1);
      data_ = data;
      version_ = version;
      stride_ = stride;
      padding_ = padding;
    }
    packed = packed_;
  }
  c10::optional<torch::Tensor> b;
  if (bias.defined()) b = bias;
  return at::mkldnn_convolution(x.contiguous(), packed, b, {padding, padding}, {stride, stride}, {1, 1}, 1);
}

torch::Tensor FastConv2dImpl::forward(const torch::Tensor& x) {
  const auto& o = options;
  const auto& k = *o.kernel_size();
  const auto& s = *o.stride();
  const auto& d = *o.dilation();
  const bool simple = c10::holds_alternative<torch::enumtype::kZeros>(o.padding_mode()) &&
                      c10::holds_alternative<torch::ExpandingArray<2>>(o.padding()) && o.groups() == 1 &&
                      k[0] == k[1] && s[0] == s[1] && d[0] == 1 && d[1] == 1;
  if (simple && PrepackApplies(x, weight)) {
    const auto& p = *c10::get<torch::ExpandingArray<2>>(o.padding());
    if (p[0] == p[1] && x.size(1) == weight.size(1)) {
      const torch::Tensor w = weight;
      return packed_.Conv(x, w, [w] { return w; }, bias, s[0], p[0]);
    }
  }
  return torch::nn::Conv2dImpl::forward(x);
}

}  // namespace img2img
