// JS wrapper of one torch::Tensor.
// Ownership: the wrapper holds one reference to the tensor's storage; dispose() drops it at once, the
// finalizer drops it otherwise (a backstop: loops should dispose). CPU bytes owned are reported to V8 so the
// GC knows about them. Threading: all methods are [sync] on the JS thread unless noted.
#pragma once
#include <string>
#include <vector>
#include <torch/torch.h>
#include <napi.h>

namespace img2img {

class TensorWrap : public Napi::ObjectWrap<TensorWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  // [sync] Wraps `t` in a new JS object; the object owns this reference.
  static Napi::Object Wrap(Napi::Env env, torch::Tensor t);
  // [sync] The tensor behind a JS value, or a TypeError naming `what`.
  static torch::Tensor& From(const Napi::Value& v, const std::string& what);
  static bool IsTensor(const Napi::Value& v);

  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;

  torch::Tensor& tensor(const Napi::Env& env);

 private:
  void Release(Napi::Env env);

  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value DType(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
  Napi::Value RequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value ToFloat32Array(const Napi::CallbackInfo& info);
  Napi::Value ToBytes(const Napi::CallbackInfo& info);
  Napi::Value Item(const Napi::CallbackInfo& info);
  Napi::Value Grad(const Napi::CallbackInfo& info);
  Napi::Value Backward(const Napi::CallbackInfo& info);
  Napi::Value CopyFrom(const Napi::CallbackInfo& info);
  Napi::Value Unary(const Napi::CallbackInfo& info);
  Napi::Value Binary(const Napi::CallbackInfo& info);
  Napi::Value Reduce(const Napi::CallbackInfo& info);
  Napi::Value Reshape(const Napi::CallbackInfo& info);
  Napi::Value Expand(const Napi::CallbackInfo& info);
  Napi::Value Slice(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);
  Napi::Value Norm(const Napi::CallbackInfo& info);
  Napi::Value NumBytes(const Napi::CallbackInfo& info);

  torch::Tensor tensor_;
  int64_t reportedBytes_ = 0;
};

// Parses 'cpu' | 'cuda' | 'cuda:N' and checks that the device exists (never falls back to CPU silently).
torch::Device ParseDevice(const Napi::Env& env, const std::string& device);
std::string DeviceString(const torch::Device& d);
// An array of Tensors (the torch::Tensors share the JS tensors' storage) / new JS Tensors owning each result.
std::vector<torch::Tensor> TensorListFrom(const Napi::Value& v, const std::string& what);
Napi::Array WrapTensorList(Napi::Env env, const std::vector<torch::Tensor>& ts);
std::vector<int64_t> ShapeFrom(const Napi::Env& env, const Napi::Value& v, const std::string& what);
torch::ScalarType DTypeFrom(const Napi::Env& env, const std::string& name);
std::string DTypeName(torch::ScalarType t);

}  // namespace img2img
