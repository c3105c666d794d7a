#include "precision.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

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

namespace {
// libtorch 2.4 replaced the per-device functions (is_cpu_enabled, set_autocast_gpu_dtype, ...) by ones taking the
// device type, and the old ones now warn on every call; 1.13 has only the old ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool Enabled(c10::DeviceType d) { return at::autocast::is_autocast_enabled(d); }
void SetEnabled(c10::DeviceType d, bool on) { at::autocast::set_autocast_enabled(d, on); }
at::ScalarType Dtype(c10::DeviceType d) { return at::autocast::get_autocast_dtype(d); }
void SetDtype(c10::DeviceType d, at::ScalarType t) { at::autocast::set_autocast_dtype(d, t); }
#else
bool Enabled(c10::DeviceType d) { return d == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled(); }
void SetEnabled(c10::DeviceType d, bool on) {
  if (d == c10::DeviceType::CUDA) at::autocast::set_enabled(on); else at::autocast::set_cpu_enabled(on);
}
at::ScalarType Dtype(c10::DeviceType d) {
  return d == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void SetDtype(c10::DeviceType d, at::ScalarType t) {
  if (d == c10::DeviceType::CUDA) at::autocast::set_autocast_gpu_dtype(t); else at::autocast::set_autocast_cpu_dtype(t);
}
#endif
}  // namespace

AutocastScope::AutocastScope(c10::DeviceType device, at::ScalarType dtype)
    : device_(device == c10::DeviceType::CUDA ? device : c10::DeviceType::CPU) {
  if (device_ == c10::DeviceType::CPU && dtype != at::kBFloat16)
    throw UserError("CPU autocast in libtorch 1.13 supports only bf16, not " + PrecisionName(dtype));
  prevEnabled_ = Enabled(device_);
  prevDtype_ = Dtype(device_);
  SetEnabled(device_, true);
  SetDtype(device_, dtype);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  SetEnabled(device_, prevEnabled_);
  SetDtype(device_, prevDtype_);
}

AutocastPause::AutocastPause(c10::DeviceType device)
    : device_(device == c10::DeviceType::CUDA ? device : c10::DeviceType::CPU), prevEnabled_(Enabled(device_)) {
  SetEnabled(device_, false);
}

AutocastPause::~AutocastPause() { SetEnabled(device_, prevEnabled_); }

// Sapphire Rapids (AMX), 2 threads, forward + backward per layer, fp32 / bf16: conv 512->512 4x4 s2 at 4x4
// outputs 1.53x, at 2x2 0.58x; sub-pixel deconv 1024->256 from 8x8 1.17x, 1024->512 from 4x4 0.56x.
bool LowPrecisionPaysConv(const torch::Device& device, int64_t outputPixels) {
  return !device.is_cpu() || outputPixels >= 4 * 4;
}

bool LowPrecisionPaysDeconv(const torch::Device& device, int64_t inputPixels) {
  return !device.is_cpu() || inputPixels >= 8 * 8;
}

bool CpuAutocastActive() { return Enabled(c10::DeviceType::CPU); }

bool AutocastActive(const torch::Device& device) {
  return device.is_cuda() ? Enabled(c10::DeviceType::CUDA) : device.is_cpu() && Enabled(c10::DeviceType::CPU);
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
