// Dense linear algebra for the metrics, all [sync] on the JS thread: results are new tensors owned by their JS
// objects; inputs are only read.
#include "linalg.h"

#include <sstream>

#include "errors.h"
#include "tensor.h"

namespace img2img {

namespace {

void Check2d(const torch::Tensor& t, const std::string& what) {
  if (t.dim() != 2) {
    std::ostringstream o;
    o << "Expected a 2-D tensor for " << what << " but received shape " << t.sizes();
    throw UserError(o.str());
  }
}

}  // namespace

// [sync] matmul(a, b, transposeA?, transposeB?) -> a(ᵀ) @ b(ᵀ) in the inputs' (promoted) dtype.
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    auto a = TensorWrap::From(info[0], "a");
    auto b = TensorWrap::From(info[1], "b");
    Check2d(a, "matmul's a");
    Check2d(b, "matmul's b");
    if (info.Length() > 2 && info[2].ToBoolean().Value()) a = a.t();
    if (info.Length() > 3 && info[3].ToBoolean().Value()) b = b.t();
    return TensorWrap::Wrap(env, torch::matmul(a, b));
  });
}

// [sync] symmetricEigen(a) -> [eigenvalues (ascending), eigenvectors (columns)] of a symmetric matrix
// (torch.linalg.eigh: LAPACK syevd, reads the lower triangle).
Napi::Value SymmetricEigen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    const auto& a = TensorWrap::From(info[0], "matrix");
    Check2d(a, "symmetricEigen's matrix");
    if (a.size(0) != a.size(1)) {
      std::ostringstream o;
      o << "Expected a square matrix for symmetricEigen but received shape " << a.sizes();
      throw UserError(o.str());
    }
    auto [values, vectors] = torch::linalg::eigh(a, "L");
    auto out = Napi::Array::New(env, 2);
    out.Set(0u, TensorWrap::Wrap(env, values));
    out.Set(1u, TensorWrap::Wrap(env, vectors));
    return out;
  });
}

}  // namespace img2img
