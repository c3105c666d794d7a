// The reference's optimizer: torch.optim.Adam(params, lr, betas=(beta1, 0.999)), eps 1e-8, no weight decay.
// Ownership: holds references to the parameter tensors (shared with their networks) and owns its moments.
// Threading: every method is [sync] on the JS thread.
#pragma once
#include <vector>
#include <torch/torch.h>
#include <napi.h>

namespace img2img {

struct AdamState {
  double step = 0;
  torch::Tensor expAvg, expAvgSq;
};

class AdamWrap : public Napi::ObjectWrap<AdamWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit AdamWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value ZeroGrad(const Napi::CallbackInfo& info);
  Napi::Value UnscaleGrads(const Napi::CallbackInfo& info);
  Napi::Value GetLr(const Napi::CallbackInfo& info);
  void SetLr(const Napi::CallbackInfo& info, const Napi::Value& v);
  Napi::Value GetState(const Napi::CallbackInfo& info);
  Napi::Value SetState(const Napi::CallbackInfo& info);
  Napi::Value GetFused(const Napi::CallbackInfo& info);
  void SetFused(const Napi::CallbackInfo& info, const Napi::Value& v);

  void StepOne(torch::Tensor& p, AdamState& s);

  std::vector<torch::Tensor> params_;
  std::vector<AdamState> state_;
  double lr_, beta1_, beta2_, eps_;
  bool fused_ = true;  // one pass over memory per parameter on CPU float32; false = the op-by-op reference math
};

}  // namespace img2img
