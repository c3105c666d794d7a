#include "prepacked_conv.h"

#include <ATen/Context.h>

#include "precision.h"
#include "phase_conv.h"

namespace img2img {

bool PrepackApplies(const torch::Tensor& x, const torch::Tensor& weight) {
  // Under autocast the plain conv2d takes over: the policy casts it to bfloat16, mkldnn_convolution is not listed.
  return !torch::GradMode::is_enabled() && !CpuAutocastActive() && at::hasMKLDNN() && at::globalContext().userEnabledMkldnn() &&
         x.device().is_cpu() && weight.device().is_cpu() && x.scalar_type() == torch::kFloat32 &&
         weight.scalar_type() == torch::kFloat32 && x.dim() == 4 && !x.is_mkldnn();
}

torch::Tensor PrepackedWeight::Conv(const torch::Tensor& x, const torch::Tensor& source,
                                    const std::function<torch::Tensor()>& kernel, const torch::Tensor& bias,
                                    torch::IntArrayRef stride, torch::IntArrayRef padding, int64_t extraVersion) {
  torch::Tensor packed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const void* data = source.data_ptr();
    const int64_t version = source._version();
    if (!packed_.defined() || data != data_ || version != version_ || extraVersion != extraVersion_ ||
        stride.vec() != stride_ || padding.vec() != padding_) {
      packed_ = at::mkldnn_reorder_conv2d_weight(kernel().contiguous().to_mkldnn(), padding, stride, {1, 1}, 1);
      data_ = data;
      version_ = version;
      extraVersion_ = extraVersion;
      stride_ = stride.vec();
      padding_ = padding.vec();
    }
    packed = packed_;
  }
  c10::optional<torch::Tensor> b;
  if (bias.defined()) b = bias;
  return at::mkldnn_convolution(x.contiguous(), packed, b, padding, stride, {1, 1}, 1);
}

namespace {

// Zero padding, no groups, no dilation: what the prepacked path computes.
bool PrepackableOptions(const torch::nn::detail::ConvNdOptions<2>& o) {
  const auto& d = *o.dilation();
  return c10::holds_alternative<torch::enumtype::kZeros>(o.padding_mode()) &&
         c10::holds_alternative<torch::ExpandingArray<2>>(o.padding()) && o.groups() == 1 && d[0] == 1 && d[1] == 1;
}

}  // namespace

int64_t FastConv2dImpl::OutputPixels(int64_t inH, int64_t inW) const {
  if (!c10::holds_alternative<torch::ExpandingArray<2>>(options.padding())) return INT64_MAX;
  const auto& k = *options.kernel_size();
  const auto& st = *options.stride();
  const auto& pad = *c10::get<torch::ExpandingArray<2>>(options.padding());
  const auto& dil = *options.dilation();
  const int64_t h = (inH + 2 * pad[0] - dil[0] * (k[0] - 1) - 1) / st[0] + 1;
  const int64_t w = (inW + 2 * pad[1] - dil[1] * (k[1] - 1) - 1) / st[1] + 1;
  return h > 0 && w > 0 ? h * w : 0;
}

torch::Tensor FastConv2dImpl::forward(const torch::Tensor& x) {
  if (AutocastActive(x.device())) {  // precision.h
    if (x.dim() != 4 || LowPrecisionPaysConv(x.device(), OutputPixels(x.size(2), x.size(3)))) return torch::nn::Conv2dImpl::forward(x).to(weight.scalar_type());
    AutocastPause fp32(x.device().type());
    return forward(x.to(weight.scalar_type()));
  }
  if (!PrepackableOptions(options)) return torch::nn::Conv2dImpl::forward(x);
  const torch::IntArrayRef stride = *options.stride();
  const torch::IntArrayRef padding = *c10::get<torch::ExpandingArray<2>>(options.padding());
  if (PhaseConvApplies(x, weight, stride, padding))
    return PhaseConv2d(x, weight, bias, padding, packed_);
  if (WinogradApplies(x, weight, stride)) return winograd_.Conv(x, weight, bias, padding);
  if (PrepackApplies(x, weight) && x.size(1) == weight.size(1)) {
    const torch::Tensor w = weight;
    return packed_.Conv(x, w, [w] { return w; }, bias, stride, padding);
  }
  return torch::nn::Conv2dImpl::forward(x);
}

torch::Tensor FastConv2dImpl::ForwardReflectionPadded(const torch::Tensor& x, torch::IntArrayRef pad) {
  const bool fusable = !AutocastActive(x.device()) && PrepackableOptions(options) && pad.size() == 4 && pad[0] == pad[1] && pad[1] == pad[2] &&
                       pad[2] == pad[3] && x.dim() == 4 && pad[0] < x.size(2) && pad[0] < x.size(3);
  if (fusable) {
    const auto& own = *c10::get<torch::ExpandingArray<2>>(options.padding());
    if (own[0] == 0 && own[1] == 0 && WinogradApplies(x, weight, *options.stride()))
      return winograd_.Conv(x, weight, bias, {pad[0], pad[0]}, /*reflect=*/true);
  }
  return forward(torch::reflection_pad2d(x, pad));
}

torch::Tensor FastConv2dImpl::ForwardBnRelu(const torch::Tensor& x, torch::nn::BatchNorm2dImpl& bn) {
  const bool foldable = !bn.is_training() && bn.options.affine() && bn.options.track_running_stats() && !bias.defined() &&
                        PrepackableOptions(options) && PrepackApplies(x, weight) && x.size(1) == weight.size(1);
  if (!foldable) return torch::relu(bn.forward(forward(x)));
  // y = gamma * (conv(x) - mean) / sqrt(var + eps) + beta = conv_{w * scale}(x) + (beta - mean * scale)
  const torch::Tensor w = weight, gamma = bn.weight, beta = bn.bias, mean = bn.running_mean, var = bn.running_var;
  const double eps = bn.options.eps();
  const int64_t bnVersion = gamma._version() + beta._version() + mean._version() + var._version();
  const torch::Tensor scale = gamma / torch::sqrt(var + eps);
  const torch::Tensor folded = beta - mean * scale;
  torch::Tensor y = packed_.Conv(x, w, [w, scale] { return w * scale.view({-1, 1, 1, 1}); }, folded,
                                 *options.stride(), *c10::get<torch::ExpandingArray<2>>(options.padding()), bnVersion);
  return y.relu_();
}

}  // namespace img2img
