// Per-environment data (main thread and each worker_thread get their own): the JS constructors we create
// instances of from C++. Kept as instance data, not statics, so the addon works inside worker_threads.
#pragma once
#include <napi.h>

namespace img2img {

struct AddonData {
  Napi::FunctionReference tensorCtor;
  Napi::FunctionReference networkCtor;
  Napi::FunctionReference adamCtor;
};

inline AddonData& GetAddonData(const Napi::Env& env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace img2img
