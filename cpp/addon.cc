// The export table of the native module, nothing else.
#include <napi.h>

#include "addon_data.h"
#include "cpu_block_cache.h"
#include "distributed.h"
#include "functions.h"
#include "linalg.h"
#include "module.h"
#include "optim.h"
#include "tensor.h"

namespace img2img {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallCpuBlockCache();
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);  // freed by Node when this environment (thread) ends
  Napi::Function tensor = TensorWrap::Define(env);
  Napi::Function network = NetworkWrap::Define(env);
  Napi::Function adam = AdamWrap::Define(env);
  data->tensorCtor = Napi::Persistent(tensor);
  data->networkCtor = Napi::Persistent(network);
  data->adamCtor = Napi::Persistent(adam);

  exports.Set("Tensor", tensor);
  exports.Set("Network", network);
  exports.Set("Adam", adam);
  exports.Set("fromFloat32Array", Napi::Function::New(env, FromFloat32Array));
  exports.Set("fromBytes", Napi::Function::New(env, FromBytes));
  exports.Set("full", Napi::Function::New(env, Full));
  exports.Set("rand", Napi::Function::New(env, Rand));
  exports.Set("randn", Napi::Function::New(env, Randn));
  exports.Set("cat", Napi::Function::New(env, Cat));
  exports.Set("loss", Napi::Function::New(env, Loss));
  exports.Set("autogradGrad", Napi::Function::New(env, AutogradGrad));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed));
  exports.Set("getRngState", Napi::Function::New(env, GetRngState));
  exports.Set("setRngState", Napi::Function::New(env, SetRngState));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setCudnnBenchmark", Napi::Function::New(env, SetCudnnBenchmark));
  exports.Set("setFastConvTranspose", Napi::Function::New(env, SetFastConvTransposeJs));
  exports.Set("setFastPath", Napi::Function::New(env, SetFastPathJs));
  exports.Set("benchConv", Napi::Function::New(env, BenchConv));
  exports.Set("releaseMemory", Napi::Function::New(env, ReleaseMemory));
  exports.Set("retainCpuBlockCache", Napi::Function::New(env, RetainCpuBlockCacheJs));
  exports.Set("releaseCpuBlockCache", Napi::Function::New(env, ReleaseCpuBlockCacheJs));
  exports.Set("cpuBlockCacheStats", Napi::Function::New(env, CpuBlockCacheStatsJs));
  exports.Set("matmul", Napi::Function::New(env, Matmul));
  exports.Set("symmetricEigen", Napi::Function::New(env, SymmetricEigen));
  exports.Set("patchNceLoss", Napi::Function::New(env, PatchNceLossJs));
  exports.Set("ProcessGroup", ProcessGroupWrap::Define(env));
  exports.Set("distributedBackends", Napi::Function::New(env, DistributedBackends));
  return exports;
}

}  // namespace img2img

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return img2img::Init(env, exports); }

NODE_API_MODULE(img2img, InitAddon)
