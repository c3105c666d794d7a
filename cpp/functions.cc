// Free functions of the native surface: tensor creation, the few ops and losses the models compose,
// autograd helpers, RNG and threads. All [sync] on the JS thread.
#include "functions.h"

#include <cstring>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <sstream>

#include "bf16_resnet.h"
#include "cpu_block_cache.h"
#include "cut_networks.h"
#include "errors.h"
#include "phase_conv.h"
#include "subpixel_deconv.h"
#include "winograd_conv.h"
#include "tensor.h"

namespace img2img {

namespace {

torch::Device OptionalDevice(const Napi::CallbackInfo& info, size_t idx) {
  if (info.Length() > idx && info[idx].IsString()) return ParseDevice(info.Env(), info[idx].As<Napi::String>());
  return torch::Device(torch::kCPU);
}

int64_t Numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto s : shape) {
    if (s < 0) throw UserError("Expected non-negative sizes in shape");
    n *= s;
  }
  return n;
}

std::string ShapeStr(const std::vector<int64_t>& shape) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < shape.size(); ++i) o << (i ? ", " : "") << shape[i];
  o << "]";
  return o.str();
}

}  // namespace

// fromFloat32Array(data: Float32Array, shape: number[], device?) -> Tensor (copies the data)
Napi::Value FromFloat32Array(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(env, "Expected a Float32Array for data");
    auto arr = info[0].As<Napi::Float32Array>();
    auto shape = ShapeFrom(env, info[1], "shape");
    if (Numel(shape) != int64_t(arr.ElementLength()))
      throw UserError("Expected " + std::to_string(Numel(shape)) + " values for shape " + ShapeStr(shape) +
                      " but received " + std::to_string(arr.ElementLength()));
    auto t = torch::empty(shape, torch::kFloat32);
    if (t.numel() > 0) std::memcpy(t.data_ptr<float>(), arr.Data(), arr.ElementLength() * sizeof(float));
    torch::Device d = OptionalDevice(info, 2);
    return TensorWrap::Wrap(env, d.is_cpu() ? t : t.to(d));
  });
}

// fromBytes(bytes: Uint8Array, dtype, shape, device?) -> Tensor (copies; little-endian raw values)
Napi::Value FromBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "Expected a Uint8Array/Buffer for bytes");
    auto arr = info[0].As<Napi::TypedArray>();
    auto dtype = DTypeFrom(env, info[1].As<Napi::String>());
    auto shape = ShapeFrom(env, info[2], "shape");
    auto t = torch::empty(shape, torch::TensorOptions().dtype(dtype));
    size_t n = size_t(t.numel()) * t.element_size();
    if (n != arr.ByteLength())
      throw UserError("Expected " + std::to_string(n) + " bytes for a " + DTypeName(dtype) + " tensor of shape " +
                      ShapeStr(shape) + " but received " + std::to_string(arr.ByteLength()));
    if (n > 0) {
      auto* src = static_cast<uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
      std::memcpy(t.data_ptr(), src, n);
    }
    torch::Device d = OptionalDevice(info, 3);
    return TensorWrap::Wrap(env, d.is_cpu() ? t : t.to(d));
  });
}

// full(shape, value, device?) / rand(shape, device?) / randn(shape, device?): draws use the default generator.
Napi::Value Full(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    auto shape = ShapeFrom(env, info[0], "shape");
    double v = info[1].As<Napi::Number>().DoubleValue();
    return TensorWrap::Wrap(env, torch::full(shape, v, torch::TensorOptions().device(OptionalDevice(info, 2))));
  });
}
Napi::Value Rand(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    auto shape = ShapeFrom(env, info[0], "shape");
    return TensorWrap::Wrap(env, torch::rand(shape, torch::TensorOptions().device(OptionalDevice(info, 1))));
  });
}
Napi::Value Randn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    auto shape = ShapeFrom(env, info[0], "shape");
    return TensorWrap::Wrap(env, torch::randn(shape, torch::TensorOptions().device(OptionalDevice(info, 1))));
  });
}

// cat(tensors, dim)
Napi::Value Cat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    auto list = TensorListFrom(info[0], "cat");
    int64_t dim = info.Length() > 1 ? info[1].As<Napi::Number>().Int64Value() : 0;
    return TensorWrap::Wrap(env, torch::cat(list, dim));
  });
}

// loss(kind: 'l1'|'mse'|'bce_logits', input, target: Tensor|number): mean-reduced, as torch.nn's default losses.
// A numeric target is expanded to input's shape (GANLoss's label buffers do the same).
Napi::Value Loss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    const std::string kind = info[0].As<Napi::String>();
    auto& input = TensorWrap::From(info[1], kind + " loss input");
    torch::Tensor target = info[2].IsNumber()
        ? torch::full({}, info[2].As<Napi::Number>().DoubleValue(), input.options().requires_grad(false)).expand_as(input)
        : TensorWrap::From(info[2], kind + " loss target");
    if (target.sizes() != input.sizes()) {
      std::ostringstream o;
      o << kind << " loss needs input and target of one shape but received " << input.sizes() << " and " << target.sizes();
      throw UserError(o.str());
    }
    // Losses are computed in float32 whatever precision produced their input (mixed-precision contract).
    const torch::Tensor in = input.is_floating_point() && input.scalar_type() != torch::kFloat64 ? input.to(torch::kFloat) : input;
    const torch::Tensor tg = target.to(in.scalar_type());
    torch::Tensor r;
    if (kind == "l1") r = torch::l1_loss(in, tg);
    else if (kind == "mse") r = torch::mse_loss(in, tg);
    else if (kind == "bce_logits") r = torch::binary_cross_entropy_with_logits(in, tg);
    else throw UserError("Expected one of l1, mse, bce_logits for loss kind but received '" + kind + "'");
    return TensorWrap::Wrap(env, r);
  });
}

// autogradGrad(outputs, inputs, gradOutputs, createGraph, retainGraph) -> Tensor[] (torch.autograd.grad)
Napi::Value AutogradGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    auto outputs = TensorListFrom(info[0], "outputs");
    auto inputs = TensorListFrom(info[1], "inputs");
    auto gradOutputs = TensorListFrom(info[2], "gradOutputs");
    bool create = info[3].ToBoolean().Value();
    bool retain = info[4].ToBoolean().Value();
    auto grads = torch::autograd::grad(outputs, inputs, gradOutputs, retain, create);
    return WrapTensorList(env, grads);
  });
}

// setGradEnabled(on) -> previous: the no-grad scope of the TS layer is built on this (thread-local, JS thread).
Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool prev = torch::autograd::GradMode::is_enabled();
  torch::autograd::GradMode::set_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), prev);
}

// manualSeed(n): seeds the CPU generator and every CUDA generator, as torch.manual_seed.
Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    double d = info[0].As<Napi::Number>().DoubleValue();
    if (d < 0 || d != double(uint64_t(d))) throw UserError("Expected a non-negative integer for seed but received " + std::to_string(d));
    torch::manual_seed(uint64_t(d));
    return env.Undefined();
  });
}

// getRngState() -> Buffer (CPU generator state, torch.get_rng_state()); setRngState(buf).
Napi::Value GetRngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    auto state = gen.get_state();
    auto buf = Napi::Buffer<uint8_t>::New(env, size_t(state.numel()));
    std::memcpy(buf.Data(), state.data_ptr<uint8_t>(), size_t(state.numel()));
    return buf;
  });
}
Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "Expected a Buffer for the RNG state");
    auto buf = info[0].As<Napi::Buffer<uint8_t>>();
    auto t = torch::empty({int64_t(buf.Length())}, torch::kUInt8);
    std::memcpy(t.data_ptr<uint8_t>(), buf.Data(), buf.Length());
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(t);
    return env.Undefined();
  });
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) throw Napi::Error::New(env, "Expected a positive integer for threads but received " + std::to_string(n));
  torch::set_num_threads(n);
  return env.Undefined();
}
Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), torch::get_num_threads());
}

// info(): what this build of the addon runs on.
Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
  o.Set("cudaAvailable", Napi::Boolean::New(env, torch::cuda::is_available()));
  o.Set("cudnnAvailable", Napi::Boolean::New(env, torch::cuda::cudnn_is_available()));
  o.Set("deviceCount", Napi::Number::New(env, double(torch::cuda::device_count())));
  o.Set("threads", Napi::Number::New(env, torch::get_num_threads()));
  o.Set("mkldnn", Napi::Boolean::New(env, at::hasMKLDNN()));
  o.Set("openmp", Napi::Boolean::New(env, at::hasOpenMP()));
  o.Set("parallelInfo", Napi::String::New(env, at::get_parallel_info()));
  o.Set("configuration", Napi::String::New(env, at::show_config()));
  return o;
}

// setCudnnBenchmark(on): cudnn.benchmark as the reference sets it (no effect on CPU).
Napi::Value SetCudnnBenchmark(const Napi::CallbackInfo& info) {
  at::globalContext().setBenchmarkCuDNN(info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

}  // namespace img2img

namespace img2img {
// setFastConvTranspose(on) -> previous: the sub-pixel ConvTranspose2d path on CPU (default on).
Napi::Value SetFastConvTransposeJs(const Napi::CallbackInfo& info) {
  bool prev = FastConvTranspose();
  SetFastConvTranspose(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), prev);
}

// setFastPath(name, on) -> previous: one of the CPU convolution rewrites of docs/performance.md (default on):
// "winograd", "winogradTrain" (winograd_conv.h), "phaseConv" (phase_conv.h) or "bf16Block" (bf16_resnet.h).
Napi::Value SetFastPathJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    const std::string name = info[0].As<Napi::String>().Utf8Value();
    const bool on = info[1].ToBoolean().Value();
    bool prev;
    if (name == "winograd") {
      prev = Winograd();
      SetWinograd(on);
    } else if (name == "winogradTrain") {
      prev = WinogradTrain();
      SetWinogradTrain(on);
    } else if (name == "phaseConv") {
      prev = PhaseConvEnabled();
      SetPhaseConv(on);
    } else if (name == "bf16Block") {
      prev = Bf16BlockEnabled();
      SetBf16Block(on);
    } else {
      TORCH_CHECK(false, "Expected \"winograd\", \"winogradTrain\", \"phaseConv\" or \"bf16Block\" for the fast path name but received \"", name, "\"");
    }
    return Napi::Boolean::New(env, prev);
  });
}

// benchConv(cin, cout, k, h, w, iters) -> seconds per Conv2d forward (stride 1, same padding), for the benchmark's
// conv peak measured in the same run.
Napi::Value BenchConv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    const int64_t cin = info[0].As<Napi::Number>().Int64Value(), cout = info[1].As<Napi::Number>().Int64Value();
    const int64_t k = info[2].As<Napi::Number>().Int64Value(), h = info[3].As<Napi::Number>().Int64Value();
    const int64_t w = info[4].As<Napi::Number>().Int64Value(), iters = info[5].As<Napi::Number>().Int64Value();
    torch::NoGradGuard ng;
    auto x = torch::randn({1, cin, h, w});
    auto wt = torch::randn({cout, cin, k, k});
    torch::conv2d(x, wt, {}, 1, k / 2);
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < iters; ++i) torch::conv2d(x, wt, {}, 1, k / 2);
    auto t1 = std::chrono::steady_clock::now();
    return Napi::Number::New(env, std::chrono::duration<double>(t1 - t0).count() / double(iters));
  });
}
}  // namespace img2img

namespace img2img {
// releaseMemory(): returns freed heap pages to the OS (glibc malloc_trim). Training loops allocate and free many
// medium-sized tensors; glibc keeps the freed pages, so RSS creeps up without this.
Napi::Value ReleaseMemory(const Napi::CallbackInfo& info) {
#ifdef __GLIBC__
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}
// [sync] retainCpuBlockCache(): one more hold on the large-block cache (cpu_block_cache.h); the caller must release it.
Napi::Value RetainCpuBlockCacheJs(const Napi::CallbackInfo& info) {
  RetainCpuBlockCache();
  return info.Env().Undefined();
}
// [sync] releaseCpuBlockCache(): drops one hold; the last one unmaps every cached block.
Napi::Value ReleaseCpuBlockCacheJs(const Napi::CallbackInfo& info) {
  ReleaseCpuBlockCache();
  return info.Env().Undefined();
}
// [sync] cpuBlockCacheStats(): a new plain object of byte and hit counts.
Napi::Value CpuBlockCacheStatsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CpuBlockCacheStats s = GetCpuBlockCacheStats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("cachedBytes", Napi::Number::New(env, double(s.cachedBytes)));
  o.Set("liveBytes", Napi::Number::New(env, double(s.liveBytes)));
  o.Set("hits", Napi::Number::New(env, double(s.hits)));
  o.Set("misses", Napi::Number::New(env, double(s.misses)));
  o.Set("holders", Napi::Number::New(env, s.holders));
  return o;
}
// [sync] patchNceLoss(q, k, batchDim, nceT): CUT's PatchNCELoss on the JS thread (records autograd history through q;
// k is detached); inputs are only read; returns a new [patches] Tensor owned by the caller.
Napi::Value PatchNceLossJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    auto& q = TensorWrap::From(info[0], "feat_q");
    auto& k = TensorWrap::From(info[1], "feat_k");
    const int64_t batchDim = info[2].As<Napi::Number>().Int64Value();
    const double nceT = info[3].As<Napi::Number>().DoubleValue();
    return TensorWrap::Wrap(env, PatchNceLoss(q, k, batchDim, nceT));
  });
}

}  // namespace img2img
