#include "precision.h"

#include <ATen/autocast_mode.h>

#include "errors.h"

namespace img2img {

at::ScalarType ParsePrecision(const std::string& name) {
  if (name == "fp32") return at::kFloat;
  if (name == "bf16") return at::kBFloat16;
  if (name == "fp16") return at::kHalf;
  throw UserError("Expected one of fp32, bf16, fp16 for precision but received '" + name + "'");
}

std::string PrecisionName(at::ScalarType dtype) {
  if (dtype == at::kBFloat16) return "bf16";
  if (dtype == at::kHalf) return "fp16";
  return "fp32";
}

AutocastScope::AutocastScope(c10::DeviceType device, at::ScalarType dtype) : cuda_(device == c10::DeviceType::CUDA) {
  if (cuda_) {
    prevEnabled_ = at::autocast::is_enabled();
    prevDtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    if (dtype != at::kBFloat16) throw UserError("CPU autocast in libtorch 1.13 supports only bf16, not " + PrecisionName(dtype));
    prevEnabled_ = at::autocast::is_cpu_enabled();
    prevDtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  if (cuda_) {
    at::autocast::set_enabled(prevEnabled_);
    at::autocast::set_autocast_gpu_dtype(prevDtype_);
  } else {
    at::autocast::set_cpu_enabled(prevEnabled_);
    at::autocast::set_autocast_cpu_dtype(prevDtype_);
  }
}

bool CpuAutocastActive() { return at::autocast::is_cpu_enabled(); }

bool AutocastActive(const torch::Device& device) {
  return device.is_cuda() ? at::autocast::is_enabled() : device.is_cpu() && at::autocast::is_cpu_enabled();
}

bool UnscaleGradients(const std::vector<torch::Tensor>& params, double invScale) {
  torch::NoGradGuard noGrad;
  torch::Tensor found;
  for (const auto& p : params) {
    const torch::Tensor& g = p.grad();
    if (!g.defined()) continue;
    g.mul_(invScale);
    torch::Tensor bad = g.isfinite().logical_not().any();
    found = found.defined() ? found.logical_or_(bad) : bad;
  }
  return found.defined() && found.item<bool>();
}

}  // namespace img2img
