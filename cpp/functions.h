#pragma once
#include <napi.h>

namespace img2img {
Napi::Value FromFloat32Array(const Napi::CallbackInfo& info);
Napi::Value FromBytes(const Napi::CallbackInfo& info);
Napi::Value Full(const Napi::CallbackInfo& info);
Napi::Value Rand(const Napi::CallbackInfo& info);
Napi::Value Randn(const Napi::CallbackInfo& info);
Napi::Value Cat(const Napi::CallbackInfo& info);
Napi::Value Loss(const Napi::CallbackInfo& info);
Napi::Value AutogradGrad(const Napi::CallbackInfo& info);
Napi::Value SetGradEnabled(const Napi::CallbackInfo& info);
Napi::Value ManualSeed(const Napi::CallbackInfo& info);
Napi::Value GetRngState(const Napi::CallbackInfo& info);
Napi::Value SetRngState(const Napi::CallbackInfo& info);
Napi::Value SetNumThreads(const Napi::CallbackInfo& info);
Napi::Value GetNumThreads(const Napi::CallbackInfo& info);
Napi::Value Info(const Napi::CallbackInfo& info);
Napi::Value SetCudnnBenchmark(const Napi::CallbackInfo& info);
Napi::Value SetFastConvTransposeJs(const Napi::CallbackInfo& info);
Napi::Value SetFastPathJs(const Napi::CallbackInfo& info);
Napi::Value BenchConv(const Napi::CallbackInfo& info);
Napi::Value ReleaseMemory(const Napi::CallbackInfo& info);
Napi::Value RetainCpuBlockCacheJs(const Napi::CallbackInfo& info);
Napi::Value ReleaseCpuBlockCacheJs(const Napi::CallbackInfo& info);
Napi::Value CpuBlockCacheStatsJs(const Napi::CallbackInfo& info);
Napi::Value PatchNceLossJs(const Napi::CallbackInfo& info);
}  // namespace img2img
