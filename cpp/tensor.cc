#include "tensor.h"

#include <cstring>
#include <sstream>

#include "addon_data.h"
#include "errors.h"

namespace img2img {

namespace {
int64_t OwnedCpuBytes(const torch::Tensor& t) {
  if (!t.defined() || !t.device().is_cpu()) return 0;
  return static_cast<int64_t>(t.storage().nbytes());
}
}  // namespace

std::string DeviceString(const torch::Device& d) {
  if (d.is_cpu()) return "cpu";
  return "cuda:" + std::to_string(d.has_index() ? d.index() : 0);
}

torch::Device ParseDevice(const Napi::Env& env, const std::string& device) {
  if (device == "cpu") return torch::Device(torch::kCPU);
  int index = 0;
  if (device == "cuda") {
    index = 0;
  } else if (device.rfind("cuda:", 0) == 0 && device.size() > 5 &&
             device.find_first_not_of("0123456789", 5) == std::string::npos && device.size() < 9) {
    index = std::stoi(device.substr(5));
  } else {
    throw Napi::Error::New(env, "Expected 'cpu', 'cuda' or 'cuda:N' for device but received '" + device + "'");
  }
  if (!torch::cuda::is_available())
    throw Napi::Error::New(env, "device '" + device + "' was asked for but CUDA is not available (this libtorch " +
                                    (torch::cuda::device_count() == 0 ? "sees no CUDA device" : "has no CUDA") +
                                    "); use device 'cpu' or build against a CUDA libtorch");
  if (index >= static_cast<int>(torch::cuda::device_count()))
    throw Napi::Error::New(env, "device '" + device + "' does not exist: " + std::to_string(torch::cuda::device_count()) +
                                    " CUDA device(s) are visible");
  return torch::Device(torch::kCUDA, index);
}

std::vector<int64_t> ShapeFrom(const Napi::Env& env, const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, "Expected an array of integers for " + what);
  auto arr = v.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value e = arr.Get(i);
    if (!e.IsNumber()) throw Napi::TypeError::New(env, "Expected an array of integers for " + what);
    double d = e.As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<int64_t>(d)) || d < -1 || d > 1e12)
      throw Napi::TypeError::New(env, "Expected an array of integers for " + what + " but element " + std::to_string(i) + " is " + std::to_string(d));
    shape.push_back(static_cast<int64_t>(d));
  }
  return shape;
}

torch::ScalarType DTypeFrom(const Napi::Env& env, const std::string& n) {
  if (n == "float32") return torch::kFloat32;
  if (n == "float64") return torch::kFloat64;
  if (n == "float16") return torch::kFloat16;
  if (n == "bfloat16") return torch::kBFloat16;
  if (n == "int64") return torch::kInt64;
  if (n == "int32") return torch::kInt32;
  if (n == "int16") return torch::kInt16;
  if (n == "int8") return torch::kInt8;
  if (n == "uint8") return torch::kUInt8;
  if (n == "bool") return torch::kBool;
  throw Napi::TypeError::New(env, "Expected one of float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool for dtype but received '" + n + "'");
}

std::string DTypeName(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "float32";
    case torch::kFloat64: return "float64";
    case torch::kFloat16: return "float16";
    case torch::kBFloat16: return "bfloat16";
    case torch::kInt64: return "int64";
    case torch::kInt32: return "int32";
    case torch::kInt16: return "int16";
    case torch::kInt8: return "int8";
    case torch::kUInt8: return "uint8";
    case torch::kBool: return "bool";
    default: return std::string(c10::toString(t));
  }
}

Napi::Function TensorWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeTensor", {
      InstanceAccessor<&TensorWrap::Shape>("shape"),
      InstanceAccessor<&TensorWrap::DType>("dtype"),
      InstanceAccessor<&TensorWrap::Device>("device"),
      InstanceAccessor<&TensorWrap::IsDisposed>("isDisposed"),
      InstanceAccessor<&TensorWrap::RequiresGrad>("requiresGrad"),
      InstanceAccessor<&TensorWrap::NumBytes>("numBytes"),
      InstanceMethod<&TensorWrap::SetRequiresGrad>("setRequiresGrad"),
      InstanceMethod<&TensorWrap::Dispose>("dispose"),
      InstanceMethod<&TensorWrap::ToFloat32Array>("toFloat32Array"),
      InstanceMethod<&TensorWrap::ToBytes>("toBytes"),
      InstanceMethod<&TensorWrap::Item>("item"),
      InstanceMethod<&TensorWrap::Grad>("grad"),
      InstanceMethod<&TensorWrap::Backward>("backward"),
      InstanceMethod<&TensorWrap::CopyFrom>("copyFrom"),
      InstanceMethod<&TensorWrap::Unary>("unary"),
      InstanceMethod<&TensorWrap::Binary>("binary"),
      InstanceMethod<&TensorWrap::Reduce>("reduce"),
      InstanceMethod<&TensorWrap::Reshape>("reshape"),
      InstanceMethod<&TensorWrap::Expand>("expand"),
      InstanceMethod<&TensorWrap::Slice>("slice"),
      InstanceMethod<&TensorWrap::To>("to"),
      InstanceMethod<&TensorWrap::Norm>("norm"),
  });
}

Napi::Object TensorWrap::Wrap(Napi::Env env, torch::Tensor t) {
  auto* holder = new torch::Tensor(std::move(t));
  auto ext = Napi::External<torch::Tensor>::New(env, holder);
  // The constructor moves the tensor out of the holder and deletes it.
  return GetAddonData(env).tensorCtor.New({ext});
}

bool TensorWrap::IsTensor(const Napi::Value& v) {
  if (!v.IsObject()) return false;
  return v.As<Napi::Object>().InstanceOf(GetAddonData(v.Env()).tensorCtor.Value());
}

torch::Tensor& TensorWrap::From(const Napi::Value& v, const std::string& what) {
  Napi::Env env = v.Env();
  if (!IsTensor(v)) throw Napi::TypeError::New(env, "Expected a Tensor for " + what);
  return Napi::ObjectWrap<TensorWrap>::Unwrap(v.As<Napi::Object>())->tensor(env);
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsExternal())
    throw Napi::TypeError::New(env, "NativeTensor cannot be constructed from JS; use Tensor.fromFloat32Array()");
  auto* holder = info[0].As<Napi::External<torch::Tensor>>().Data();
  tensor_ = std::move(*holder);
  delete holder;
  reportedBytes_ = OwnedCpuBytes(tensor_);
  // Views of parameters share storage owned elsewhere: only count storage this wrapper is the sole user of.
  if (reportedBytes_ > 0 && tensor_.storage().use_count() > 1) reportedBytes_ = 0;
  if (reportedBytes_ > 0) Napi::MemoryManagement::AdjustExternalMemory(env, reportedBytes_);
}

TensorWrap::~TensorWrap() {
  // Finalizer backstop. Napi may not be callable here during env teardown, so external memory is left as is.
  tensor_ = torch::Tensor();
}

void TensorWrap::Release(Napi::Env env) {
  if (reportedBytes_ > 0) Napi::MemoryManagement::AdjustExternalMemory(env, -reportedBytes_);
  reportedBytes_ = 0;
  tensor_ = torch::Tensor();
}

torch::Tensor& TensorWrap::tensor(const Napi::Env& env) {
  if (!tensor_.defined()) throw Napi::Error::New(env, "Tensor was disposed: it can no longer be used");
  return tensor_;
}

Napi::Value TensorWrap::Shape(const Napi::CallbackInfo& info) {
  auto& t = tensor(info.Env());
  auto arr = Napi::Array::New(info.Env(), t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) arr.Set(uint32_t(i), Napi::Number::New(info.Env(), double(t.size(i))));
  return arr;
}
Napi::Value TensorWrap::DType(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), DTypeName(tensor(info.Env()).scalar_type()));
}
Napi::Value TensorWrap::Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), DeviceString(tensor(info.Env()).device()));
}
Napi::Value TensorWrap::IsDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !tensor_.defined()); }
Napi::Value TensorWrap::RequiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), tensor(info.Env()).requires_grad());
}
Napi::Value TensorWrap::NumBytes(const Napi::CallbackInfo& info) {
  auto& t = tensor(info.Env());
  return Napi::Number::New(info.Env(), double(t.numel() * t.element_size()));
}
Napi::Value TensorWrap::SetRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&] {
    tensor(env).requires_grad_(info[0].ToBoolean().Value());
    return info.This();
  });
}
Napi::Value TensorWrap::Dispose(const Napi::CallbackInfo& info) {
  Release(info.Env());
  return info.Env().Undefined();
}

// [sync] Copies the values (any dtype/device) into a new Float32Array owned by JS.
Napi::Value TensorWrap::ToFloat32Array(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    torch::Tensor t = tensor(env).detach().to(torch::kCPU, torch::kFloat32).contiguous();
    auto arr = Napi::Float32Array::New(env, size_t(t.numel()));
    if (t.numel() > 0) std::memcpy(arr.Data(), t.data_ptr<float>(), size_t(t.numel()) * sizeof(float));
    return arr;
  });
}

// [sync] Copies the raw little-endian bytes (native dtype) into a new Buffer owned by JS.
Napi::Value TensorWrap::ToBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    torch::Tensor t = tensor(env).detach().to(torch::kCPU).contiguous();
    size_t n = size_t(t.numel()) * t.element_size();
    auto buf = Napi::Buffer<uint8_t>::New(env, n);
    if (n > 0) std::memcpy(buf.Data(), t.data_ptr(), n);
    return buf;
  });
}

Napi::Value TensorWrap::Item(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    auto& t = tensor(env);
    if (t.numel() != 1) {
      std::ostringstream o;
      o << "item() needs a tensor with one element but this one has shape " << t.sizes();
      throw UserError(o.str());
    }
    return Napi::Number::New(env, t.item<double>());
  });
}

Napi::Value TensorWrap::Grad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& t = tensor(env);
  if (!t.grad().defined()) return env.Null();
  return Wrap(env, t.grad());
}

// [sync] backward(gradient?, retainGraph?, createGraph?)
Napi::Value TensorWrap::Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    torch::Tensor g;
    if (info.Length() > 0 && TensorWrap::IsTensor(info[0])) g = From(info[0], "gradient");
    bool retain = info.Length() > 1 && info[1].ToBoolean().Value();
    bool create = info.Length() > 2 && info[2].ToBoolean().Value();
    tensor(env).backward(g, retain ? c10::optional<bool>(true) : c10::nullopt, create);
    return env.Undefined();
  });
}

// [sync] In-place copy of `src` (shapes must match) without recording autograd history.
Napi::Value TensorWrap::CopyFrom(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    auto& dst = tensor(env);
    auto& src = From(info[0], "source");
    if (dst.sizes() != src.sizes()) {
      std::ostringstream o;
      o << "copyFrom needs equal shapes: destination " << dst.sizes() << ", source " << src.sizes();
      throw UserError(o.str());
    }
    torch::NoGradGuard noGrad;
    dst.copy_(src);
    return info.This();
  });
}

Napi::Value TensorWrap::Unary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    const std::string op = info[0].As<Napi::String>();
    auto& t = tensor(env);
    torch::Tensor r;
    if (op == "clone") r = t.clone();
    else if (op == "detach") r = t.detach();
    else if (op == "contiguous") r = t.contiguous();
    else if (op == "neg") r = -t;
    else if (op == "abs") r = t.abs();
    else if (op == "sqrt") r = t.sqrt();
    else if (op == "exp") r = t.exp();
    else if (op == "log") r = t.log();
    else if (op == "sigmoid") r = t.sigmoid();
    else if (op == "tanh") r = t.tanh();
    else if (op == "relu") r = t.relu();
    else if (op == "flipW") r = t.flip({-1});  // torch.flip(x, [3]) of an NCHW tensor
    else if (op == "sign") r = t.sign();
    else if (op == "isfinite") r = t.isfinite().all();
    else if (op == "zerosLike") r = torch::zeros_like(t);
    else if (op == "onesLike") r = torch::ones_like(t);
    else if (op == "float") r = t.to(torch::kFloat32);
    else if (op == "channelsLast") r = t.dim() == 4 ? t.contiguous(torch::MemoryFormat::ChannelsLast) : t;
    else throw UserError("unknown unary op '" + op + "'");
    return Wrap(env, r);
  });
}

// binary(op, other: Tensor | number)
Napi::Value TensorWrap::Binary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    const std::string op = info[0].As<Napi::String>();
    auto& a = tensor(env);
    torch::Tensor r;
    if (info[1].IsNumber()) {
      double s = info[1].As<Napi::Number>().DoubleValue();
      if (op == "add") r = a + s;
      else if (op == "sub") r = a - s;
      else if (op == "mul") r = a * s;
      else if (op == "div") r = a / s;
      else if (op == "pow") r = a.pow(s);
      else if (op == "fill") r = torch::full_like(a, s);
      else throw UserError("unknown scalar op '" + op + "'");
    } else {
      auto& b = From(info[1], op + " operand");
      if (op == "add") r = a + b;
      else if (op == "sub") r = a - b;
      else if (op == "mul") r = a * b;
      else if (op == "div") r = a / b;
      else if (op == "pow") r = a.pow(b);
      else if (op == "maximum") r = torch::maximum(a, b);
      else throw UserError("unknown binary op '" + op + "'");
    }
    return Wrap(env, r);
  });
}

// reduce(op: 'mean'|'sum'|'max'|'min', dims?: number[], keepdim?: boolean)
Napi::Value TensorWrap::Reduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    const std::string op = info[0].As<Napi::String>();
    auto& t = tensor(env);
    bool hasDims = info.Length() > 1 && info[1].IsArray();
    bool keep = info.Length() > 2 && info[2].ToBoolean().Value();
    torch::Tensor r;
    if (op == "mean") r = hasDims ? t.mean(ShapeFrom(env, info[1], "dims"), keep) : t.mean();
    else if (op == "sum") r = hasDims ? t.sum(ShapeFrom(env, info[1], "dims"), keep) : t.sum();
    else if (op == "max") r = t.max();
    else if (op == "min") r = t.min();
    else throw UserError("unknown reduction '" + op + "'");
    return Wrap(env, r);
  });
}

Napi::Value TensorWrap::Reshape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value { return Wrap(env, tensor(env).reshape(ShapeFrom(env, info[0], "shape"))); });
}
Napi::Value TensorWrap::Expand(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value { return Wrap(env, tensor(env).expand(ShapeFrom(env, info[0], "shape"))); });
}
// slice(dim, start, end)
Napi::Value TensorWrap::Slice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    int64_t dim = info[0].As<Napi::Number>().Int64Value();
    int64_t start = info[1].As<Napi::Number>().Int64Value();
    int64_t end = info[2].As<Napi::Number>().Int64Value();
    return Wrap(env, tensor(env).slice(dim, start, end));
  });
}
// to(device, dtype?)
Napi::Value TensorWrap::To(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    auto& t = tensor(env);
    torch::Device d = info[0].IsString() ? ParseDevice(env, info[0].As<Napi::String>()) : t.device();
    torch::ScalarType st = info.Length() > 1 && info[1].IsString() ? DTypeFrom(env, info[1].As<Napi::String>()) : t.scalar_type();
    return Wrap(env, t.to(d, st));
  });
}
// norm(p, dim): p-norm along one dimension (gradient penalty).
Napi::Value TensorWrap::Norm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    double p = info[0].As<Napi::Number>().DoubleValue();
    int64_t dim = info[1].As<Napi::Number>().Int64Value();
    return Wrap(env, tensor(env).norm(p, {dim}));
  });
}

std::vector<torch::Tensor> TensorListFrom(const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), "Expected an array of Tensors for " + what);
  auto arr = v.As<Napi::Array>();
  std::vector<torch::Tensor> out;
  for (uint32_t i = 0; i < arr.Length(); ++i) out.push_back(TensorWrap::From(arr.Get(i), what));
  return out;
}

Napi::Array WrapTensorList(Napi::Env env, const std::vector<torch::Tensor>& ts) {
  auto arr = Napi::Array::New(env, ts.size());
  for (size_t i = 0; i < ts.size(); ++i) arr.Set(uint32_t(i), TensorWrap::Wrap(env, ts[i]));
  return arr;
}

}  // namespace img2img
