#include "module.h"

#include "addon_data.h"
#include "async.h"
#include "cut_networks.h"
#include "errors.h"
#include "precision.h"
#include "tensor.h"

namespace img2img {

namespace {

int64_t IntField(const Napi::Object& o, const char* key, int64_t def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("Expected a number for ") + key);
  return v.As<Napi::Number>().Int64Value();
}
std::string StrField(const Napi::Object& o, const char* key, const std::string& def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string("Expected a string for ") + key);
  return v.As<Napi::String>();
}
bool BoolField(const Napi::Object& o, const char* key, bool def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  return v.ToBoolean().Value();
}

// Python's state_dict order: each module's own parameters, then its own buffers, then its children, recursively.
void CollectStateDict(torch::nn::Module& m, const std::string& prefix,
                      std::vector<std::tuple<std::string, torch::Tensor, bool>>& out) {
  for (auto& p : m.named_parameters(false))
    if (p.value().defined()) out.emplace_back(prefix + p.key(), p.value(), true);
  for (auto& b : m.named_buffers(false))
    if (b.value().defined()) out.emplace_back(prefix + b.key(), b.value(), false);
  for (auto& c : m.named_children()) CollectStateDict(*c.value(), prefix + c.key() + ".", out);
}

}  // namespace

Napi::Function NetworkWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeNetwork", {
      InstanceMethod<&NetworkWrap::Forward>("forward"),
      InstanceMethod<&NetworkWrap::ForwardAsync>("forwardAsync"),
      InstanceMethod<&NetworkWrap::Train>("train"),
      InstanceAccessor<&NetworkWrap::IsTraining>("isTraining"),
      InstanceMethod<&NetworkWrap::To>("to"),
      InstanceAccessor<&NetworkWrap::Device>("device"),
      InstanceMethod<&NetworkWrap::InitWeights>("initWeights"),
      InstanceMethod<&NetworkWrap::NamedTensors>("namedTensors"),
      InstanceMethod<&NetworkWrap::Parameters>("parameters"),
      InstanceMethod<&NetworkWrap::SetRequiresGrad>("setRequiresGrad"),
      InstanceMethod<&NetworkWrap::ZeroGrad>("zeroGrad"),
      InstanceMethod<&NetworkWrap::NumParameters>("numParameters"),
      InstanceMethod<&NetworkWrap::Describe>("describe"),
      InstanceMethod<&NetworkWrap::Dispose>("dispose"),
      InstanceAccessor<&NetworkWrap::IsDisposed>("isDisposed"),
      InstanceMethod<&NetworkWrap::ChannelsLast>("channelsLast"),
      InstanceAccessor<&NetworkWrap::GetPrecision, &NetworkWrap::SetPrecision>("precision"),
      InstanceMethod<&NetworkWrap::Encode>("encode"),
      InstanceMethod<&NetworkWrap::SamplePatches>("samplePatches"),
  });
}

// [sync] new NativeNetwork({kind, arch, builder, inputNc, outputNc, width, numDowns, nBlocks, nDownsampling,
//   nLayersD, sizeMultiple, norm, useDropout, paddingType}): the description plus the builder fields of the
// architecture table (src/architectures.ts); absent numbers read 0 and fail the range checks of the builder.
// Builds the modules with libtorch's default init (consumes the CPU generator as the reference's constructors do).
NetworkWrap::NetworkWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetworkWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "Expected an options object for the network");
  Napi::Object o = info[0].As<Napi::Object>();
  NetworkSpec spec;
  spec.kind = StrField(o, "kind", "");
  spec.arch = StrField(o, "arch", "");
  spec.builder = StrField(o, "builder", "");
  spec.inputNc = IntField(o, "inputNc", 0);
  spec.outputNc = IntField(o, "outputNc", 0);
  spec.width = IntField(o, "width", 0);
  spec.numDowns = IntField(o, "numDowns", 0);
  spec.nBlocks = IntField(o, "nBlocks", 0);
  spec.nDownsampling = IntField(o, "nDownsampling", 0);
  spec.nLayersD = IntField(o, "nLayersD", 0);
  spec.sizeMultiple = IntField(o, "sizeMultiple", 1);
  spec.norm = StrField(o, "norm", "");
  spec.useDropout = BoolField(o, "useDropout", false);
  spec.paddingType = StrField(o, "paddingType", "");
  spec.antialias = BoolField(o, "antialias", false);
  spec.antialiasUp = BoolField(o, "antialiasUp", false);
  Napi::Value channels = o.Get("featureChannels");
  if (channels.IsArray()) {
    auto arr = channels.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); ++i) spec.featureChannels.push_back(arr.Get(i).As<Napi::Number>().Int64Value());
  }
  Guarded(env, [&] { net_ = Network(spec); });
}

Network& NetworkWrap::network(const Napi::Env& env) {
  if (!net_) throw Napi::Error::New(env, "Network was disposed: it can no longer be used");
  return net_;
}

// [sync] forward(x): runs on the JS thread, records autograd history when grad mode is on.
Napi::Value NetworkWrap::Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& net = network(env);
  auto& x = TensorWrap::From(info[0], "input");
  return Guarded(env, [&]() -> Napi::Value {
    std::lock_guard<std::mutex> lock(*mutex_);
    return TensorWrap::Wrap(env, net->forward(x));
  });
}

// [async] forwardAsync(x, {noGrad=true, outputDevice?}): the input is referenced (not copied) on the JS thread;
// the forward (and the copy to outputDevice) runs on the libuv pool; the promise resolves with a new Tensor
// that owns its result.
Napi::Value NetworkWrap::ForwardAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& net = network(env);
  auto& x = TensorWrap::From(info[0], "input");
  bool noGrad = true;
  std::string outDevice;
  if (info.Length() > 1 && info[1].IsObject()) {
    auto o = info[1].As<Napi::Object>();
    noGrad = BoolField(o, "noGrad", true);
    outDevice = StrField(o, "outputDevice", "");
  }
  c10::optional<torch::Device> out;
  if (!outDevice.empty()) out = ParseDevice(env, outDevice);
  return QueueForward(env, net, mutex_, x, noGrad, out);
}

Napi::Value NetworkWrap::Train(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& net = network(env);
  std::lock_guard<std::mutex> lock(*mutex_);
  net->train(info.Length() == 0 || info[0].ToBoolean().Value());
  return info.This();
}
Napi::Value NetworkWrap::IsTraining(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), network(info.Env())->is_training());
}
// [sync] to(device): moves parameters and buffers in place (the same Tensor objects stay valid for the optimizer
// only on CPU->CPU; move networks before building optimizers).
Napi::Value NetworkWrap::To(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& net = network(env);
  torch::Device d = ParseDevice(env, info[0].As<Napi::String>());
  return Guarded(env, [&]() -> Napi::Value {
    std::lock_guard<std::mutex> lock(*mutex_);
    net->to(d);
    return info.This();
  });
}
Napi::Value NetworkWrap::Device(const Napi::CallbackInfo& info) {
  auto& net = network(info.Env());
  auto params = net->parameters();
  return Napi::String::New(info.Env(), params.empty() ? "cpu" : DeviceString(params[0].device()));
}
// [sync] initWeights(type, gain): the reference's init_weights (consumes the generator of the network's device).
Napi::Value NetworkWrap::InitWeights(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& net = network(env);
  std::string type = info[0].As<Napi::String>();
  double gain = info[1].As<Napi::Number>().DoubleValue();
  return Guarded(env, [&]() -> Napi::Value {
    std::lock_guard<std::mutex> lock(*mutex_);
    net->InitWeights(type, gain);
    return env.Undefined();
  });
}
// [sync] namedTensors(): [[name, Tensor, isParameter], …] in the reference's state_dict order. The Tensors are
// views sharing the module's storage (writes through copyFrom change the network).
Napi::Value NetworkWrap::NamedTensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& net = network(env);
  std::vector<std::tuple<std::string, torch::Tensor, bool>> items;
  CollectStateDict(*net, "", items);
  auto arr = Napi::Array::New(env, items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    auto e = Napi::Array::New(env, 3);
    e.Set(0u, Napi::String::New(env, std::get<0>(items[i])));
    e.Set(1u, TensorWrap::Wrap(env, std::get<1>(items[i])));
    e.Set(2u, Napi::Boolean::New(env, std::get<2>(items[i])));
    arr.Set(uint32_t(i), e);
  }
  return arr;
}
// [sync] parameters(): the trainable tensors (shared with the module), in state_dict order.
Napi::Value NetworkWrap::Parameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto params = network(env)->parameters();
  auto arr = Napi::Array::New(env, params.size());
  for (size_t i = 0; i < params.size(); ++i) arr.Set(uint32_t(i), TensorWrap::Wrap(env, params[i]));
  return arr;
}
Napi::Value NetworkWrap::SetRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool flag = info[0].ToBoolean().Value();
  for (auto& p : network(env)->parameters()) p.requires_grad_(flag);
  return env.Undefined();
}
// [sync] zeroGrad(): as torch 1.13's Optimizer.zero_grad(set_to_none=False).
Napi::Value NetworkWrap::ZeroGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  for (auto& p : network(env)->parameters()) {
    auto& g = p.mutable_grad();
    if (g.defined()) { g = g.detach(); g.zero_(); }
  }
  return env.Undefined();
}
Napi::Value NetworkWrap::NumParameters(const Napi::CallbackInfo& info) {
  int64_t n = 0;
  for (auto& p : network(info.Env())->parameters()) n += p.numel();
  return Napi::Number::New(info.Env(), double(n));
}
Napi::Value NetworkWrap::Describe(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), network(info.Env())->Describe());
}
Napi::Value NetworkWrap::Dispose(const Napi::CallbackInfo& info) {
  net_ = Network(nullptr);
  return info.Env().Undefined();
}
Napi::Value NetworkWrap::IsDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !net_); }

// [sync] channelsLast(): converts 4-D conv weights to channels_last memory format (faster oneDNN/cuDNN paths).
Napi::Value NetworkWrap::ChannelsLast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& net = network(env);
  return Guarded(env, [&]() -> Napi::Value {
    std::lock_guard<std::mutex> lock(*mutex_);
    torch::NoGradGuard ng;
    for (auto& p : net->parameters())
      if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
    return env.Undefined();
  });
}

// [sync] precision = 'fp32' | 'bf16' | 'fp16': the autocast dtype of every later forward (sync or async; the
// per-network mutex orders the change with running forwards). Parameters, buffers and outputs stay float32. Whether
// the device supports the dtype is checked in TS (src/precision.ts), where the refusal can say why.
Napi::Value NetworkWrap::GetPrecision(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), PrecisionName(network(info.Env())->precision));
}
void NetworkWrap::SetPrecision(const Napi::CallbackInfo& info, const Napi::Value& v) {
  Napi::Env env = info.Env();
  auto& net = network(env);
  if (!v.IsString()) throw Napi::TypeError::New(env, "Expected a string ('fp32', 'bf16' or 'fp16') for precision");
  Guarded(env, [&]() -> Napi::Value {
    const at::ScalarType dtype = ParsePrecision(v.As<Napi::String>());
    std::lock_guard<std::mutex> lock(*mutex_);
    net->precision = dtype;
    return env.Undefined();
  });
}

// [sync] encode(x, layers): CUT's encode_only forward of a ResNet generator on the JS thread (records autograd
// history when grad mode is on), under the network's precision like forward; returns new float32 Tensors owned by
// the caller, the outputs of the listed `model` layers.
Napi::Value NetworkWrap::Encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& net = network(env);
  auto& x = TensorWrap::From(info[0], "input");
  auto layers = ShapeFrom(env, info[1], "layers");
  return Guarded(env, [&]() -> Napi::Value {
    std::lock_guard<std::mutex> lock(*mutex_);
    if (net->spec.kind != "G" || (net->spec.builder != "resnet" && net->spec.builder != "resnet_cut"))
      throw UserError(net->Describe() + " has no encoder layers: encode needs a ResNet generator");
    net->CheckInput(x);
    torch::nn::Sequential seq(std::dynamic_pointer_cast<torch::nn::SequentialImpl>(net->named_children()["model"]));
    if (net->precision == at::kFloat) return WrapTensorList(env, EncodeLayers(seq, x, layers));
    std::vector<torch::Tensor> feats;
    {
      AutocastScope autocast(x.device().type(), net->precision);
      feats = EncodeLayers(seq, x, layers);
    }
    for (auto& f : feats) f = f.to(x.scalar_type());
    return WrapTensorList(env, feats);
  });
}

// [sync] samplePatches(feats, ids): PatchSampleF's forward on the JS thread (records autograd history when grad
// mode is on), under the network's precision; inputs are only read; returns new float32 Tensors owned by the caller.
Napi::Value NetworkWrap::SamplePatches(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& net = network(env);
  auto feats = TensorListFrom(info[0], "feature maps");
  auto ids = TensorListFrom(info[1], "patch ids");
  return Guarded(env, [&]() -> Napi::Value {
    std::lock_guard<std::mutex> lock(*mutex_);
    if (net->spec.kind != "F") throw UserError(net->Describe() + " is not a PatchSampleF: samplePatches needs kind F");
    if (net->precision == at::kFloat || feats.empty()) return WrapTensorList(env, img2img::SamplePatches(*net, feats, ids));
    std::vector<torch::Tensor> out;
    {
      AutocastScope autocast(feats[0].device().type(), net->precision);
      out = img2img::SamplePatches(*net, feats, ids);
    }
    for (auto& t : out) t = t.to(torch::kFloat);
    return WrapTensorList(env, out);
  });
}

}  // namespace img2img
