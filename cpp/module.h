// JS wrapper of one Network (a generator or discriminator).
// Ownership: the wrapper holds a shared_ptr to the module; async work holds another, so dispose() while a
// forwardAsync runs is safe (the module is freed when the last holder lets go).
// Threading: [sync] methods run on the JS thread; forwardAsync runs the forward on the libuv pool. A per-network
// mutex serialises forwards with weight updates (JS code should still queue its calls; the mutex only prevents
// torn reads).
#pragma once
#include <memory>
#include <mutex>
#include <napi.h>

#include "networks.h"

namespace img2img {

class NetworkWrap : public Napi::ObjectWrap<NetworkWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit NetworkWrap(const Napi::CallbackInfo& info);

  Network& network(const Napi::Env& env);
  std::shared_ptr<std::mutex> mutex() const { return mutex_; }

 private:
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value ForwardAsync(const Napi::CallbackInfo& info);
  Napi::Value Train(const Napi::CallbackInfo& info);
  Napi::Value IsTraining(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value InitWeights(const Napi::CallbackInfo& info);
  Napi::Value NamedTensors(const Napi::CallbackInfo& info);
  Napi::Value Parameters(const Napi::CallbackInfo& info);
  Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value ZeroGrad(const Napi::CallbackInfo& info);
  Napi::Value NumParameters(const Napi::CallbackInfo& info);
  Napi::Value Describe(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
  Napi::Value ChannelsLast(const Napi::CallbackInfo& info);
  Napi::Value GetPrecision(const Napi::CallbackInfo& info);
  void SetPrecision(const Napi::CallbackInfo& info, const Napi::Value& v);
  Napi::Value Encode(const Napi::CallbackInfo& info);
  Napi::Value SamplePatches(const Napi::CallbackInfo& info);

  Network net_{nullptr};
  std::shared_ptr<std::mutex> mutex_ = std::make_shared<std::mutex>();
};

}  // namespace img2img
