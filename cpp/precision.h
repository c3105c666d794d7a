// Mixed precision: which dtype a network's forward computes in, the autocast scope that applies it, and where our
// own ops must step around the dispatcher's per-op cast policy. Master weights, optimizer state, losses,
// checkpoints and normalization statistics stay float32; only the autocast-listed ops (convolutions) run in the
// lower precision. libtorch 1.13's CPU autocast knows only bfloat16; CUDA autocast takes float16 or bfloat16.
#pragma once
#include <string>
#include <torch/torch.h>

namespace img2img {

// float32 = autocast off; bfloat16 / float16 = the autocast dtype of the network's device.
at::ScalarType ParsePrecision(const std::string& name);  // 'fp32' | 'bf16' | 'fp16', else UserError
std::string PrecisionName(at::ScalarType dtype);

// RAII autocast region for one forward on the calling thread (autocast state is thread-local, so a forward on a
// libuv thread sets its own). Restores the previous state and, when the outermost region ends, drops the cache of
// cast weights (the next optimizer step changes them).
class AutocastScope {
 public:
  AutocastScope(c10::DeviceType device, at::ScalarType dtype);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType device_;  // CUDA or CPU
  bool prevEnabled_;
  at::ScalarType prevDtype_;
};

// RAII: autocast off for one device type on this thread, restored on exit (nesting and cache untouched). For the
// layers that measured slower in bfloat16 than in float32 (LowPrecisionPays* below).
class AutocastPause {
 public:
  explicit AutocastPause(c10::DeviceType device);
  ~AutocastPause();
  AutocastPause(const AutocastPause&) = delete;
  AutocastPause& operator=(const AutocastPause&) = delete;

 private:
  c10::DeviceType device_;
  bool prevEnabled_;
};

// Whether a CPU convolution gains from bfloat16, by its output pixels per channel (= multiply-adds per weight
// element); for a stride-2 transposed convolution in sub-pixel form, by its input pixels. Below the bound (the
// U-Net's innermost 512-1024-channel layers) the per-call casts and reorders of the large weight cost more than the
// convolution saves: measured per layer, forward + backward, in docs/performance.md. Those layers run float32 under
// autocast (exactly what fp32 computes). Always true off the CPU, where nothing was measured.
bool LowPrecisionPaysConv(const torch::Device& device, int64_t outputPixels);
bool LowPrecisionPaysDeconv(const torch::Device& device, int64_t inputPixels);

// Whether CPU autocast is on for this thread: our custom CPU ops (prepacked oneDNN conv, sub-pixel deconv) call
// ops the policy does not list, so they check this and take an autocast-listed op instead.
bool CpuAutocastActive();

// Whether autocast is on for `device`'s type on this thread. Our convolution modules (FastConv2d, the sub-pixel
// ConvTranspose2d) then hand back their low-precision result widened to the weight's float32: the norms after
// them (whose ops 1.13's policy leaves in the input's dtype) keep their statistics in float32, and the widening
// is exact, so the next convolution's cast back loses nothing.
bool AutocastActive(const torch::Device& device);

// The unscale half of a dynamic loss scaler (GradScaler.unscale_): multiplies every defined gradient by invScale
// in place and returns whether any gradient holds an inf or NaN. One host sync for all of them.
bool UnscaleGradients(const std::vector<torch::Tensor>& params, double invScale);

}  // namespace img2img
