#include "inception.h"

#include "prepacked_conv.h"

namespace img2img {
namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

constexpr double kBnEps = 0.001;   // torchvision's BasicConv2d
constexpr int64_t kInputSize = 299;
constexpr int64_t kPool3Features = 2048;
constexpr int64_t kFcClasses = 1008;  // the TF graph's classes; fc is in the weights file but not used for pool3

struct Conv2dArgs {
  int64_t kh, kw, stride = 1, ph = 0, pw = 0;
};

// torchvision's BasicConv2d: conv (no bias) -> BatchNorm(eps 0.001) -> ReLU.
struct BasicConv2dImpl : nn::Module {
  BasicConv2dImpl(int64_t in, int64_t out, Conv2dArgs a) {
    conv = register_module("conv", FastConv2d(nn::Conv2dOptions(in, out, {a.kh, a.kw}).stride(a.stride).padding({a.ph, a.pw}).bias(false)));
    bn = register_module("bn", nn::BatchNorm2d(nn::BatchNorm2dOptions(out).eps(kBnEps)));
  }
  // Inference folds the eval BatchNorm into the prepacked conv (one pass instead of three over each output).
  torch::Tensor forward(const torch::Tensor& x) { return conv->ForwardBnRelu(x, *bn); }
  FastConv2d conv{nullptr};
  nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(BasicConv2d);

Conv2dArgs K(int64_t k, int64_t stride = 1, int64_t pad = 0) { return {k, k, stride, pad, pad}; }
Conv2dArgs K1x7() { return {1, 7, 1, 0, 3}; }
Conv2dArgs K7x1() { return {7, 1, 1, 3, 0}; }
Conv2dArgs K1x3() { return {1, 3, 1, 0, 1}; }
Conv2dArgs K3x1() { return {3, 1, 1, 1, 0}; }

// TensorFlow's average pool ignores the zero padding: the FID blocks patch torchvision's count_include_pad=True.
torch::Tensor TfAvgPool(const torch::Tensor& x) {
  return F::avg_pool2d(x, F::AvgPool2dFuncOptions(3).stride(1).padding(1).count_include_pad(false));
}

// Each block registers its convs in torchvision's order; `BC` names one.
struct BlockBase : nn::Module {
  BasicConv2d BC(const std::string& name, int64_t in, int64_t out, Conv2dArgs a) {
    return register_module(name, BasicConv2d(in, out, a));
  }
};

// FIDInceptionA (Mixed_5b/c/d).
struct InceptionAImpl : BlockBase {
  InceptionAImpl(int64_t in, int64_t poolFeatures) {
    b1 = BC("branch1x1", in, 64, K(1));
    b5_1 = BC("branch5x5_1", in, 48, K(1));
    b5_2 = BC("branch5x5_2", 48, 64, K(5, 1, 2));
    b3_1 = BC("branch3x3dbl_1", in, 64, K(1));
    b3_2 = BC("branch3x3dbl_2", 64, 96, K(3, 1, 1));
    b3_3 = BC("branch3x3dbl_3", 96, 96, K(3, 1, 1));
    pool = BC("branch_pool", in, poolFeatures, K(1));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::cat({b1(x), b5_2(b5_1(x)), b3_3(b3_2(b3_1(x))), pool(TfAvgPool(x))}, 1);
  }
  BasicConv2d b1{nullptr}, b5_1{nullptr}, b5_2{nullptr}, b3_1{nullptr}, b3_2{nullptr}, b3_3{nullptr}, pool{nullptr};
};
TORCH_MODULE(InceptionA);

// torchvision's InceptionB (Mixed_6a), unchanged in the FID model.
struct InceptionBImpl : BlockBase {
  explicit InceptionBImpl(int64_t in) {
    b3 = BC("branch3x3", in, 384, K(3, 2));
    d1 = BC("branch3x3dbl_1", in, 64, K(1));
    d2 = BC("branch3x3dbl_2", 64, 96, K(3, 1, 1));
    d3 = BC("branch3x3dbl_3", 96, 96, K(3, 2));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::cat({b3(x), d3(d2(d1(x))), F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2))}, 1);
  }
  BasicConv2d b3{nullptr}, d1{nullptr}, d2{nullptr}, d3{nullptr};
};
TORCH_MODULE(InceptionB);

// FIDInceptionC (Mixed_6b…6e).
struct InceptionCImpl : BlockBase {
  InceptionCImpl(int64_t in, int64_t c7) {
    b1 = BC("branch1x1", in, 192, K(1));
    s1 = BC("branch7x7_1", in, c7, K(1));
    s2 = BC("branch7x7_2", c7, c7, K1x7());
    s3 = BC("branch7x7_3", c7, 192, K7x1());
    d1 = BC("branch7x7dbl_1", in, c7, K(1));
    d2 = BC("branch7x7dbl_2", c7, c7, K7x1());
    d3 = BC("branch7x7dbl_3", c7, c7, K1x7());
    d4 = BC("branch7x7dbl_4", c7, c7, K7x1());
    d5 = BC("branch7x7dbl_5", c7, 192, K1x7());
    pool = BC("branch_pool", in, 192, K(1));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::cat({b1(x), s3(s2(s1(x))), d5(d4(d3(d2(d1(x))))), pool(TfAvgPool(x))}, 1);
  }
  BasicConv2d b1{nullptr}, s1{nullptr}, s2{nullptr}, s3{nullptr}, d1{nullptr}, d2{nullptr}, d3{nullptr}, d4{nullptr},
      d5{nullptr}, pool{nullptr};
};
TORCH_MODULE(InceptionC);

// torchvision's InceptionD (Mixed_7a), unchanged in the FID model.
struct InceptionDImpl : BlockBase {
  explicit InceptionDImpl(int64_t in) {
    t1 = BC("branch3x3_1", in, 192, K(1));
    t2 = BC("branch3x3_2", 192, 320, K(3, 2));
    s1 = BC("branch7x7x3_1", in, 192, K(1));
    s2 = BC("branch7x7x3_2", 192, 192, K1x7());
    s3 = BC("branch7x7x3_3", 192, 192, K7x1());
    s4 = BC("branch7x7x3_4", 192, 192, K(3, 2));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::cat({t2(t1(x)), s4(s3(s2(s1(x)))), F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2))}, 1);
  }
  BasicConv2d t1{nullptr}, t2{nullptr}, s1{nullptr}, s2{nullptr}, s3{nullptr}, s4{nullptr};
};
TORCH_MODULE(InceptionD);

// FIDInceptionE_1 (Mixed_7b: TF average pool) and FIDInceptionE_2 (Mixed_7c: the FID graph's max pool).
struct InceptionEImpl : BlockBase {
  InceptionEImpl(int64_t in, bool maxPool) : maxPool(maxPool) {
    b1 = BC("branch1x1", in, 320, K(1));
    t1 = BC("branch3x3_1", in, 384, K(1));
    t2a = BC("branch3x3_2a", 384, 384, K1x3());
    t2b = BC("branch3x3_2b", 384, 384, K3x1());
    d1 = BC("branch3x3dbl_1", in, 448, K(1));
    d2 = BC("branch3x3dbl_2", 448, 384, K(3, 1, 1));
    d3a = BC("branch3x3dbl_3a", 384, 384, K1x3());
    d3b = BC("branch3x3dbl_3b", 384, 384, K3x1());
    pool = BC("branch_pool", in, 192, K(1));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const auto t = t1(x);
    const auto d = d2(d1(x));
    const auto pooled = maxPool ? F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(1).padding(1)) : TfAvgPool(x);
    return torch::cat({b1(x), torch::cat({t2a(t), t2b(t)}, 1), torch::cat({d3a(d), d3b(d)}, 1), pool(pooled)}, 1);
  }
  bool maxPool;
  BasicConv2d b1{nullptr}, t1{nullptr}, t2a{nullptr}, t2b{nullptr}, d1{nullptr}, d2{nullptr}, d3a{nullptr},
      d3b{nullptr}, pool{nullptr};
};
TORCH_MODULE(InceptionE);

torch::Tensor MaxPool3s2(const torch::Tensor& x) { return F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2)); }

}  // namespace

FidInceptionV3Impl::FidInceptionV3Impl() {
  auto c1a = register_module("Conv2d_1a_3x3", BasicConv2d(3, 32, K(3, 2)));
  auto c2a = register_module("Conv2d_2a_3x3", BasicConv2d(32, 32, K(3)));
  auto c2b = register_module("Conv2d_2b_3x3", BasicConv2d(32, 64, K(3, 1, 1)));
  auto c3b = register_module("Conv2d_3b_1x1", BasicConv2d(64, 80, K(1)));
  auto c4a = register_module("Conv2d_4a_3x3", BasicConv2d(80, 192, K(3)));
  // Blocks 0 and 1: the stem with its two max pools.
  stages.push_back([=](const torch::Tensor& x) { return MaxPool3s2(c2b->forward(c2a->forward(c1a->forward(x)))); });
  stages.push_back([=](const torch::Tensor& x) { return MaxPool3s2(c4a->forward(c3b->forward(x))); });
  auto add = [this](const std::string& name, auto block) {
    auto m = register_module(name, block);
    stages.push_back([m](const torch::Tensor& x) { return m->forward(x); });
  };
  add("Mixed_5b", InceptionA(192, 32));
  add("Mixed_5c", InceptionA(256, 64));
  add("Mixed_5d", InceptionA(288, 64));
  add("Mixed_6a", InceptionB(288));
  add("Mixed_6b", InceptionC(768, 128));
  add("Mixed_6c", InceptionC(768, 160));
  add("Mixed_6d", InceptionC(768, 160));
  add("Mixed_6e", InceptionC(768, 192));
  add("Mixed_7a", InceptionD(768));
  add("Mixed_7b", InceptionE(1280, /*maxPool=*/false));
  add("Mixed_7c", InceptionE(kPool3Features, /*maxPool=*/true));
  register_module("fc", nn::Linear(kPool3Features, kFcClasses));
}

torch::Tensor FidInceptionV3Impl::forward(const torch::Tensor& input) {
  auto x = F::interpolate(input, F::InterpolateFuncOptions()
                                     .size(std::vector<int64_t>{kInputSize, kInputSize})
                                     .mode(torch::kBilinear)
                                     .align_corners(false));
  x = 2 * x - 1;
  for (auto& block : stages) x = block(x);
  return F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions(1)).flatten(1);
}

}  // namespace img2img
