// Dense linear algebra the metrics need (FID's covariances and matrix square root, KID's kernels).
#pragma once
#include <napi.h>

namespace img2img {
Napi::Value Matmul(const Napi::CallbackInfo& info);
Napi::Value SymmetricEigen(const Napi::CallbackInfo& info);
}  // namespace img2img
