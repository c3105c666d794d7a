#include "optim.h"

#include <cmath>

#include "errors.h"
#include "precision.h"
#include "tensor.h"

namespace img2img {

namespace {
// One chunk of the fused Adam update. A free function with restrict pointers so the loop vectorizes (inside the
// parallel_for lambda it did not: scalar sqrtss, 230 ms for pix2pix's 54 M parameters), cloned for AVX2 and
// dispatched at load (ifunc), since the addon's baseline is plain x86-64. No FMA contraction, so every operation
// rounds as its op-by-op counterpart does.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void AdamKernel(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v, int64_t n,
                float b1, float b2, float omb1, float omb2, float bc2s, float eps, float negStep) {
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = m[i] * b1 + omb1 * gi;
    const float vi = v[i] * b2 + omb2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) / bc2s + eps;
    p[i] = p[i] + negStep * (mi / denom);
  }
}
}  // namespace

Napi::Function AdamWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeAdam", {
      InstanceMethod<&AdamWrap::Step>("step"),
      InstanceMethod<&AdamWrap::ZeroGrad>("zeroGrad"),
      InstanceMethod<&AdamWrap::UnscaleGrads>("unscaleGrads"),
      InstanceAccessor<&AdamWrap::GetLr, &AdamWrap::SetLr>("lr"),
      InstanceAccessor<&AdamWrap::GetFused, &AdamWrap::SetFused>("fused"),
      InstanceMethod<&AdamWrap::GetState>("getState"),
      InstanceMethod<&AdamWrap::SetState>("setState"),
  });
}

// [sync] new NativeAdam(params: Tensor[], {lr, beta1, beta2=0.999, eps=1e-8})
AdamWrap::AdamWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AdamWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsObject())
    throw Napi::TypeError::New(env, "Expected (params: Tensor[], {lr, beta1}) for Adam");
  auto arr = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i) params_.push_back(TensorWrap::From(arr.Get(i), "Adam parameter"));
  state_.resize(params_.size());
  auto o = info[1].As<Napi::Object>();
  auto num = [&](const char* k, double def) {
    Napi::Value v = o.Get(k);
    return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : def;
  };
  lr_ = num("lr", 2e-4);
  beta1_ = num("beta1", 0.5);
  beta2_ = num("beta2", 0.999);
  eps_ = num("eps", 1e-8);
  if (!(lr_ >= 0)) throw Napi::Error::New(env, "Expected a non-negative number for lr but received " + std::to_string(lr_));
  if (!(beta1_ >= 0 && beta1_ < 1)) throw Napi::Error::New(env, "Expected a number in [0, 1) for beta1 but received " + std::to_string(beta1_));
}

// Adam as torch 1.13's _single_tensor_adam:
//   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g;  p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
void AdamWrap::StepOne(torch::Tensor& p, AdamState& s) {
  const torch::Tensor& g = p.grad();
  if (!s.expAvg.defined()) {
    s.expAvg = torch::zeros_like(p, torch::MemoryFormat::Preserve);
    s.expAvgSq = torch::zeros_like(p, torch::MemoryFormat::Preserve);
  }
  s.step += 1;
  const double bc1 = 1 - std::pow(beta1_, s.step);
  const double bc2 = 1 - std::pow(beta2_, s.step);
  const double stepSize = lr_ / bc1;
  const double bc2Sqrt = std::sqrt(bc2);
  const bool canFuse = fused_ && p.device().is_cpu() && p.scalar_type() == torch::kFloat32 && p.is_contiguous() &&
                       g.is_contiguous() && s.expAvg.is_contiguous() && s.expAvgSq.is_contiguous() &&
                       g.scalar_type() == torch::kFloat32;
  if (canFuse) {
    // One pass: same float operations in the same order as the op-by-op version (results agree to ~1 ulp).
    float* __restrict pp = p.data_ptr<float>();
    const float* __restrict gp = g.data_ptr<float>();
    float* __restrict m = s.expAvg.data_ptr<float>();
    float* __restrict v = s.expAvgSq.data_ptr<float>();
    const float b1 = float(beta1_), b2 = float(beta2_), omb1 = float(1 - beta1_), omb2 = float(1 - beta2_);
    const float bc2s = float(bc2Sqrt), epsf = float(eps_), negStep = float(-stepSize);
    at::parallel_for(0, p.numel(), 16384, [&](int64_t begin, int64_t end) {
      AdamKernel(pp + begin, gp + begin, m + begin, v + begin, end - begin, b1, b2, omb1, omb2, bc2s, epsf, negStep);
    });
    // Raw writes do not bump the version counter: do it, so caches keyed on it (prepacked inference weights) see it.
    torch::autograd::impl::bump_version(p);
    return;
  }
  s.expAvg.mul_(beta1_).add_(g, 1 - beta1_);
  s.expAvgSq.mul_(beta2_).addcmul_(g, g, 1 - beta2_);
  auto denom = (s.expAvgSq.sqrt() / bc2Sqrt).add_(eps_);
  p.addcdiv_(s.expAvg, denom, -stepSize);
}

// [sync] step(): updates every parameter that has a gradient (as Python, parameters without one are skipped).
Napi::Value AdamWrap::Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    torch::NoGradGuard noGrad;
    for (size_t i = 0; i < params_.size(); ++i) {
      if (!params_[i].grad().defined()) continue;
      StepOne(params_[i], state_[i]);
    }
    return env.Undefined();
  });
}

// [sync] zeroGrad(setToNone = true): drops the gradients, so the next backward writes fresh ones instead of
// zeroing 230 MB and then adding into it (pix2pix). Every parameter of our models gets a gradient in each backward,
// so the values and Adam's updates are the same as torch 1.13's zero_grad(set_to_none=False), which
// zeroGrad(false) reproduces exactly.
Napi::Value AdamWrap::ZeroGrad(const Napi::CallbackInfo& info) {
  const bool setToNone = info.Length() == 0 || info[0].IsUndefined() || info[0].ToBoolean().Value();
  for (auto& p : params_) {
    auto& g = p.mutable_grad();
    if (!g.defined()) continue;
    if (setToNone) g = torch::Tensor();
    else { g = g.detach(); g.zero_(); }
  }
  return info.Env().Undefined();
}

// [sync] unscaleGrads(invScale) -> foundNonFinite: the dynamic loss scaler's unscale (src/loss_scaler.ts)
// over this optimizer's gradients, in place, before step().
Napi::Value AdamWrap::UnscaleGrads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "Expected a number for invScale");
  const double invScale = info[0].As<Napi::Number>().DoubleValue();
  return Guarded(env, [&]() -> Napi::Value { return Napi::Boolean::New(env, UnscaleGradients(params_, invScale)); });
}

Napi::Value AdamWrap::GetLr(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), lr_); }
void AdamWrap::SetLr(const Napi::CallbackInfo& info, const Napi::Value& v) {
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), "Expected a number for lr");
  lr_ = v.As<Napi::Number>().DoubleValue();
}
Napi::Value AdamWrap::GetFused(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fused_); }
void AdamWrap::SetFused(const Napi::CallbackInfo& info, const Napi::Value& v) { fused_ = v.ToBoolean().Value(); }

// [sync] getState(): [{step, expAvg: Tensor|null, expAvgSq: Tensor|null}, …] per parameter (tensors are shared, not copied).
Napi::Value AdamWrap::GetState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto arr = Napi::Array::New(env, state_.size());
  for (size_t i = 0; i < state_.size(); ++i) {
    auto o = Napi::Object::New(env);
    o.Set("step", Napi::Number::New(env, state_[i].step));
    o.Set("expAvg", state_[i].expAvg.defined() ? Napi::Value(TensorWrap::Wrap(env, state_[i].expAvg)) : env.Null());
    o.Set("expAvgSq", state_[i].expAvgSq.defined() ? Napi::Value(TensorWrap::Wrap(env, state_[i].expAvgSq)) : env.Null());
    arr.Set(uint32_t(i), o);
  }
  return arr;
}

// [sync] setState(same shape as getState): copies the moments (shapes must match the parameters).
Napi::Value AdamWrap::SetState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "Expected an array for the Adam state");
  auto arr = info[0].As<Napi::Array>();
  if (arr.Length() != state_.size())
    throw Napi::Error::New(env, "Adam state has " + std::to_string(arr.Length()) + " entries but the optimizer has " +
                                    std::to_string(state_.size()) + " parameters");
  return Guarded(env, [&]() -> Napi::Value {
    std::vector<AdamState> next(state_.size());
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      auto o = arr.Get(i).As<Napi::Object>();
      next[i].step = o.Get("step").As<Napi::Number>().DoubleValue();
      Napi::Value m = o.Get("expAvg"), v = o.Get("expAvgSq");
      if (TensorWrap::IsTensor(m) && TensorWrap::IsTensor(v)) {
        auto& mt = TensorWrap::From(m, "expAvg");
        auto& vt = TensorWrap::From(v, "expAvgSq");
        if (mt.sizes() != params_[i].sizes() || vt.sizes() != params_[i].sizes())
          throw UserError("Adam state entry " + std::to_string(i) + " does not match its parameter's shape");
        next[i].expAvg = mt.detach().to(params_[i].device(), params_[i].scalar_type()).clone();
        next[i].expAvgSq = vt.detach().to(params_[i].device(), params_[i].scalar_type()).clone();
      }
    }
    state_ = std::move(next);
    return env.Undefined();
  });
}

}  // namespace img2img
