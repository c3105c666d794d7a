#include "networks.h"

#include "bf16_resnet.h"

#include <functional>
#include <sstream>

#include "cut_networks.h"
#include "errors.h"
#include "inception.h"
#include "network_layers.h"
#include "precision.h"
#include "prepacked_conv.h"
#include "subpixel_deconv.h"

namespace img2img {
namespace nn = torch::nn;

namespace {

constexpr double kLeakySlope = 0.2;   // LeakyReLU slope in D and U-Net down paths
constexpr double kDropout = 0.5;      // dropout rate of the reference
constexpr double kNormEps = 1e-5;     // BatchNorm/InstanceNorm eps
constexpr double kBnMomentum = 0.1;   // BatchNorm momentum
constexpr int64_t kMaxChannels = 100000;  // channel counts beyond this are typos, not networks

}  // namespace

// ---- Layers shared with cut_networks.cc (declared in network_layers.h) -------------------------------

// The reference's use_bias rule: convs followed by a norm have a bias only with (stat-less) InstanceNorm.
bool UseBias(const std::string& norm) { return norm == "instance"; }

// norm_layer(c) of get_norm_layer; "none" is Identity (it still occupies a Sequential index).
nn::AnyModule MakeNorm(const std::string& norm, int64_t c) {
  if (norm == "batch" || norm == "syncbatch")
    return nn::AnyModule(nn::BatchNorm2d(nn::BatchNorm2dOptions(c).eps(kNormEps).momentum(kBnMomentum).affine(true).track_running_stats(true)));
  if (norm == "instance")
    return nn::AnyModule(nn::InstanceNorm2d(nn::InstanceNorm2dOptions(c).eps(kNormEps).affine(false).track_running_stats(false)));
  return nn::AnyModule(nn::Identity());
}

// nn::Conv2d with a prepacked-weight inference path (prepacked_conv.h); same parameters and init.
FastConv2d Conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, bool bias) {
  return FastConv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(bias));
}

// Every transposed conv of these networks has stride 2: the sub-pixel form is exact and much faster on CPU.
SubpixelConvTranspose2d Deconv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, int64_t outPad, bool bias) {
  TORCH_CHECK(stride == 2, "only stride-2 transposed convolutions are used");
  return SubpixelConvTranspose2d(in, out, k, pad, outPad, bias);
}

nn::LeakyReLU LRelu() { return nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(kLeakySlope)); }

namespace {

// ---- U-Net -------------------------------------------------------------------------------------------

// UnetSkipConnectionBlock: x -> [x, submodule(x)] concatenated, except the outermost block.
struct UnetBlockImpl : nn::Module {
  UnetBlockImpl(int64_t outerNc, int64_t innerNc, int64_t inputNc, nn::AnyModule submodule, bool outermost,
                bool innermost, const std::string& norm, bool useDropout)
      : outermost(outermost) {
    if (inputNc < 0) inputNc = outerNc;
    const bool useBias = UseBias(norm);
    // Construction order of the reference: downconv, downnorm, upnorm, then upconv (RNG: downconv, upconv).
    auto downconv = Conv(inputNc, innerNc, 4, 2, 1, useBias);
    auto downnorm = MakeNorm(norm, innerNc);
    auto upnorm = MakeNorm(norm, outerNc);
    model = nn::Sequential();
    if (outermost) {
      auto upconv = Deconv(innerNc * 2, outerNc, 4, 2, 1, 0, /*bias=*/true);
      model->push_back(downconv);
      model->push_back(submodule);
      model->push_back(nn::ReLU());
      model->push_back(upconv);
      model->push_back(nn::Tanh());
    } else if (innermost) {
      auto upconv = Deconv(innerNc, outerNc, 4, 2, 1, 0, useBias);
      model->push_back(LRelu());
      model->push_back(downconv);
      model->push_back(nn::ReLU());
      model->push_back(upconv);
      model->push_back(upnorm);
    } else {
      auto upconv = Deconv(innerNc * 2, outerNc, 4, 2, 1, 0, useBias);
      model->push_back(LRelu());
      model->push_back(downconv);
      model->push_back(downnorm);
      model->push_back(submodule);
      model->push_back(nn::ReLU());
      model->push_back(upconv);
      model->push_back(upnorm);
      if (useDropout) model->push_back(nn::Dropout(kDropout));
    }
    register_module("model", model);
  }
  torch::Tensor forward(const torch::Tensor& x) {
    if (outermost) return model->forward(x);
    return torch::cat({x, model->forward(x)}, 1);
  }
  bool outermost;
  nn::Sequential model{nullptr};
};
TORCH_MODULE(UnetBlock);

// UnetGenerator: built from the innermost block outwards, as the reference does; returns its `model` attribute.
UnetBlock BuildUnet(int64_t inputNc, int64_t outputNc, int64_t numDowns, int64_t ngf, const std::string& norm, bool useDropout) {
  auto block = UnetBlock(ngf * 8, ngf * 8, -1, nn::AnyModule(), false, true, norm, false);
  for (int64_t i = 0; i < numDowns - 5; ++i)
    block = UnetBlock(ngf * 8, ngf * 8, -1, nn::AnyModule(block), false, false, norm, useDropout);
  block = UnetBlock(ngf * 4, ngf * 8, -1, nn::AnyModule(block), false, false, norm, false);
  block = UnetBlock(ngf * 2, ngf * 4, -1, nn::AnyModule(block), false, false, norm, false);
  block = UnetBlock(ngf, ngf * 2, -1, nn::AnyModule(block), false, false, norm, false);
  return UnetBlock(outputNc, ngf, inputNc, nn::AnyModule(block), true, false, norm, false);
}

}  // namespace

// ---- ResNet ------------------------------------------------------------------------------------------

// Adds the padding of one 3x3 conv to `seq` and returns the conv's own padding.
int64_t PushPadding(nn::Sequential& seq, const std::string& paddingType) {
  if (paddingType == "reflect") { seq->push_back(nn::ReflectionPad2d(1)); return 0; }
  if (paddingType == "replicate") { seq->push_back(nn::ReplicationPad2d(1)); return 0; }
  return 1;  // zero
}

ResnetBlockImpl::ResnetBlockImpl(int64_t dim, const std::string& paddingType, const std::string& norm, bool useDropout) {
  const bool useBias = UseBias(norm);
  conv_block = nn::Sequential();
  int64_t p = PushPadding(conv_block, paddingType);
  conv_block->push_back(Conv(dim, dim, 3, 1, p, useBias));
  conv_block->push_back(MakeNorm(norm, dim));
  conv_block->push_back(nn::ReLU());
  if (useDropout) conv_block->push_back(nn::Dropout(kDropout));
  p = PushPadding(conv_block, paddingType);
  conv_block->push_back(Conv(dim, dim, 3, 1, p, useBias));
  conv_block->push_back(MakeNorm(norm, dim));
  register_module("conv_block", conv_block);
}

torch::Tensor ResnetBlockImpl::forward(const torch::Tensor& x) {
  if (Bf16BlockApplies(x, conv_block)) return Bf16ResnetBlock(x, conv_block);
  if (Bf16BlockTrainApplies(x, conv_block)) return Bf16ResnetBlockTrain(x, conv_block);
  torch::Tensor h = x;
  for (auto it = conv_block->begin(); it != conv_block->end(); ++it) {
    auto next = it + 1;
    auto pad = it->ptr()->as<nn::ReflectionPad2dImpl>();
    auto conv = next != conv_block->end() ? next->ptr()->as<FastConv2dImpl>() : nullptr;
    if (pad && conv) {
      h = conv->ForwardReflectionPadded(h, *pad->options.padding());
      it = next;
    } else {
      h = it->forward(h);
    }
  }
  return x + h;
}

namespace {

// ResnetGenerator's `model` Sequential (the reference's n_downsampling is 2).
nn::Sequential BuildResnet(int64_t inputNc, int64_t outputNc, int64_t ngf, const std::string& norm, bool useDropout,
                    int64_t nBlocks, int64_t nDownsampling, const std::string& paddingType) {
  const bool useBias = UseBias(norm);
  auto model = nn::Sequential();
  model->push_back(nn::ReflectionPad2d(3));
  model->push_back(Conv(inputNc, ngf, 7, 1, 0, useBias));
  model->push_back(MakeNorm(norm, ngf));
  model->push_back(nn::ReLU());
  for (int64_t i = 0; i < nDownsampling; ++i) {
    const int64_t mult = int64_t(1) << i;
    model->push_back(Conv(ngf * mult, ngf * mult * 2, 3, 2, 1, useBias));
    model->push_back(MakeNorm(norm, ngf * mult * 2));
    model->push_back(nn::ReLU());
  }
  const int64_t mult = int64_t(1) << nDownsampling;
  for (int64_t i = 0; i < nBlocks; ++i) model->push_back(ResnetBlock(ngf * mult, paddingType, norm, useDropout));
  for (int64_t i = 0; i < nDownsampling; ++i) {
    const int64_t m = int64_t(1) << (nDownsampling - i);
    model->push_back(Deconv(ngf * m, ngf * m / 2, 3, 2, 1, 1, useBias));
    model->push_back(MakeNorm(norm, ngf * m / 2));
    model->push_back(nn::ReLU());
  }
  model->push_back(nn::ReflectionPad2d(3));
  model->push_back(Conv(ngf, outputNc, 7, 1, 0, /*bias=*/true));
  model->push_back(nn::Tanh());
  return model;
}

// ---- Discriminators ----------------------------------------------------------------------------------

// PatchGAN: a stack of 4x4 convs whose output is a map of real/fake logits (no sigmoid).
nn::Sequential BuildNLayer(int64_t inputNc, int64_t ndf, int64_t nLayers, const std::string& norm) {
  const bool useBias = UseBias(norm);
  auto model = nn::Sequential();
  model->push_back(Conv(inputNc, ndf, 4, 2, 1, true));
  model->push_back(LRelu());
  int64_t nfMult = 1, nfMultPrev = 1;
  for (int64_t n = 1; n < nLayers; ++n) {
    nfMultPrev = nfMult;
    nfMult = std::min<int64_t>(int64_t(1) << n, 8);
    model->push_back(Conv(ndf * nfMultPrev, ndf * nfMult, 4, 2, 1, useBias));
    model->push_back(MakeNorm(norm, ndf * nfMult));
    model->push_back(LRelu());
  }
  nfMultPrev = nfMult;
  nfMult = std::min<int64_t>(int64_t(1) << nLayers, 8);
  model->push_back(Conv(ndf * nfMultPrev, ndf * nfMult, 4, 1, 1, useBias));
  model->push_back(MakeNorm(norm, ndf * nfMult));
  model->push_back(LRelu());
  model->push_back(Conv(ndf * nfMult, 1, 4, 1, 1, true));
  return model;
}

// 1x1 PatchGAN (PixelGAN): judges every pixel on its own.
nn::Sequential BuildPixel(int64_t inputNc, int64_t ndf, const std::string& norm) {
  const bool useBias = UseBias(norm);
  auto net = nn::Sequential();
  net->push_back(Conv(inputNc, ndf, 1, 1, 0, true));
  net->push_back(LRelu());
  net->push_back(Conv(ndf, ndf * 2, 1, 1, 0, useBias));
  net->push_back(MakeNorm(norm, ndf * 2));
  net->push_back(LRelu());
  net->push_back(Conv(ndf * 2, 1, 1, 1, 0, useBias));
  return net;
}

std::string Expected(const std::string& what, const std::string& option, const std::string& value) {
  return "Expected " + what + " for " + option + " but received " + value;
}

}  // namespace

void CheckSpec(const NetworkSpec& s) {
  auto quoted = [](const std::string& v) { return "'" + v + "'"; };
  auto inRange = [](int64_t v, int64_t lo, int64_t hi, const std::string& name) {
    if (v < lo || v > hi)
      throw UserError(Expected("an integer between " + std::to_string(lo) + " and " + std::to_string(hi), name, std::to_string(v)));
  };
  if (s.kind == "FID") {
    if (s.builder != "fid_inception_v3") throw UserError(Expected("fid_inception_v3", "FID network builder", quoted(s.builder)));
    if (s.inputNc != 3) throw UserError(Expected("3", "FID network inputNc", std::to_string(s.inputNc)));
    return;
  }
  if (s.kind == "F") {
    if (s.builder != "patch_sample_mlp" && s.builder != "patch_sample")
      throw UserError(Expected("a PatchSampleF builder (patch_sample_mlp, patch_sample)", "netF " + quoted(s.arch) + " builder", quoted(s.builder)));
    inRange(s.width, 1, kMaxChannels, "netF_nc");
    if (s.featureChannels.empty()) throw UserError(Expected("at least one feature map", "PatchSampleF featureChannels", "none"));
    for (auto c : s.featureChannels) inRange(c, 1, kMaxChannels, "PatchSampleF featureChannels");
    return;
  }
  if (s.kind != "G" && s.kind != "D") throw UserError(Expected("'G', 'D', 'F' or 'FID'", "network kind", quoted(s.kind)));
  if (s.norm != "batch" && s.norm != "instance" && s.norm != "none" && s.norm != "syncbatch")
    throw UserError(Expected("one of batch, instance, none, syncbatch", "norm", quoted(s.norm)));
  inRange(s.inputNc, 1, kMaxChannels, "inputNc");
  inRange(s.width, 1, kMaxChannels, s.kind == "G" ? "ngf" : "ndf");
  if (s.kind == "G") {
    inRange(s.outputNc, 1, kMaxChannels, "outputNc");
    inRange(s.sizeMultiple, 1, int64_t(1) << 20, "sizeMultiple");
    if (s.builder == "unet") {
      if (s.numDowns < 5 || s.numDowns > 12) throw UserError(Expected("a U-Net depth between 5 and 12", "netG", quoted(s.arch)));
    } else if (s.builder == "resnet" || s.builder == "resnet_cut") {
      inRange(s.nBlocks, 0, 999, "nBlocks");
      inRange(s.nDownsampling, 0, 8, "nDownsampling");
      if (s.paddingType != "reflect" && s.paddingType != "replicate" && s.paddingType != "zero")
        throw UserError(Expected("one of reflect, replicate, zero", "paddingType", quoted(s.paddingType)));
    } else {
      throw UserError(Expected("a generator builder (unet, resnet, resnet_cut)", "netG " + quoted(s.arch) + " builder", quoted(s.builder)));
    }
  } else if (s.builder == "n_layers" || s.builder == "n_layers_cut") {
    inRange(s.nLayersD, 1, 10, "n_layers_D");
  } else if (s.builder != "pixel") {
    throw UserError(Expected("a discriminator builder (n_layers, n_layers_cut, pixel)", "netD " + quoted(s.arch) + " builder", quoted(s.builder)));
  }
}

NetworkImpl::NetworkImpl(const NetworkSpec& checked) : spec(checked) {
  CheckSpec(spec);
  const auto& s = spec;
  if (s.kind == "FID") {
    // The weights file's keys sit at the top level: register the Inception's children here, not the module itself.
    auto inception = FidInceptionV3();
    for (auto& child : inception->named_children()) register_module(child.key(), child.value());
    root = [impl = inception.ptr()](const torch::Tensor& x) { return impl->forward(x); };
  } else if (s.kind == "G") {
    if (s.builder == "unet") {
      auto unet = register_module("model", BuildUnet(s.inputNc, s.outputNc, s.numDowns, s.width, s.norm, s.useDropout));
      root = [unet](const torch::Tensor& x) { return unet->forward(x); };
    } else {
      auto seq = register_module("model", s.builder == "resnet_cut" ? BuildCutResnet(s)
          : BuildResnet(s.inputNc, s.outputNc, s.width, s.norm, s.useDropout, s.nBlocks, s.nDownsampling, s.paddingType));
      root = [seq](const torch::Tensor& x) { return Bf16GeneratorApplies(x) ? Bf16GeneratorForward(seq, x) : seq->forward(x); };
    }
  } else if (s.kind == "F") {
    BuildPatchSampleF(*this, s);
    root = [](const torch::Tensor& x) { return x; };  // never reached: CheckInput refuses F (samplePatches is its forward)
  } else if (s.builder == "pixel") {
    auto seq = register_module("net", BuildPixel(s.inputNc, s.width, s.norm));
    root = [seq](const torch::Tensor& x) { return seq->forward(x); };
  } else {
    auto seq = register_module("model", s.builder == "n_layers_cut" ? BuildCutNLayer(s) : BuildNLayer(s.inputNc, s.width, s.nLayersD, s.norm));
    root = [seq](const torch::Tensor& x) { return seq->forward(x); };
  }
}

// NetworkImpl stands for the reference's top-level class itself: it registers that class's one attribute
// ("model" or "net"), so keys read "model.model.1.…" (U-Net) or "model.10.conv_block.1.…" (ResNet) as there.

std::string NetworkImpl::Describe() const {
  std::ostringstream o;
  if (spec.kind == "FID") o << "FID Inception v3 (pool3, 2048 features, input in [0, 1])";
  else if (spec.kind == "F") o << "PatchSampleF (" << spec.arch << ", nc " << spec.width << ", " << spec.featureChannels.size() << " feature maps)";
  else if (spec.kind == "G") o << spec.arch << (spec.builder == "resnet_cut" ? " antialiased (CUT)" : "") << " generator (" << spec.inputNc << "->" << spec.outputNc << " channels, ngf " << spec.width << ", " << spec.norm << " norm)";
  else o << spec.arch << (spec.builder == "n_layers_cut" ? " antialiased (CUT)" : "") << " discriminator (" << spec.inputNc << " channels, ndf " << spec.width << ", " << spec.norm << " norm)";
  return o.str();
}

void NetworkImpl::CheckInput(const torch::Tensor& x) const {
  std::ostringstream o;
  if (spec.kind == "F") throw UserError(Describe() + " has no single-tensor forward: use samplePatches");
  if (x.dim() != 4) {
    o << Describe() << " expects a 4-D input [N, C, H, W] but received shape " << x.sizes();
    throw UserError(o.str());
  }
  if (x.size(1) != spec.inputNc) {
    o << Describe() << " expects " << spec.inputNc << " input channels but received " << x.size(1) << " (shape " << x.sizes() << ")";
    throw UserError(o.str());
  }
  if (!x.is_floating_point()) {
    o << Describe() << " expects a floating-point input but received " << x.dtype();
    throw UserError(o.str());
  }
  const int64_t h = x.size(2), w = x.size(3);
  if (spec.kind == "FID") {
    if (h < 1 || w < 1) { o << Describe() << " needs a non-empty image but received " << h << "x" << w; throw UserError(o.str()); }
  } else if (spec.kind == "G") {
    const int64_t mult = spec.sizeMultiple;
    if (h % mult != 0 || w % mult != 0 || h == 0 || w == 0) {
      o << Describe() << " needs height and width divisible by " << mult << " but received " << h << "x" << w
        << (spec.builder == "unet" ? " (pad or resize the image, or use a shallower U-Net)" : " (pad or resize the image)");
      throw UserError(o.str());
    }
  } else if (spec.builder == "n_layers" || spec.builder == "n_layers_cut") {
    // Each stride-2 conv halves the size and the two final 4x4 stride-1 convs take 1 each: the map must stay >= 1.
    int64_t mh = h, mw = w;
    for (int64_t i = 0; i < spec.nLayersD; ++i) {
      if (spec.builder == "n_layers_cut") { mh = (mh - 1 - 1) / 2 + 1; mw = (mw - 1 - 1) / 2 + 1; }  // 4x4 stride-1 conv, then blur pool
      else { mh = (mh + 2 - 4) / 2 + 1; mw = (mw + 2 - 4) / 2 + 1; }
    }
    mh -= 2; mw -= 2;
    if (mh < 1 || mw < 1) {
      o << Describe() << " needs a larger input: " << h << "x" << w << " leaves no patch after " << spec.nLayersD
        << " downsamplings (use at least " << (int64_t(1) << (spec.nLayersD + 2)) << "x" << (int64_t(1) << (spec.nLayersD + 2)) << ")";
      throw UserError(o.str());
    }
  }
}

torch::Tensor NetworkImpl::forward(const torch::Tensor& x) {
  CheckInput(x);
  if (precision == at::kFloat) return root(x);
  // Mixed precision lives inside the network: what goes in and comes out is float32 (losses, images, the next
  // network), and the async forward's libuv thread gets the same autocast as the JS thread.
  AutocastScope autocast(x.device().type(), precision);
  return root(x).to(x.scalar_type());
}

void NetworkImpl::InitWeights(const std::string& initType, double gain) {
  if (initType != "normal" && initType != "xavier" && initType != "kaiming" && initType != "orthogonal")
    throw UserError(Expected("one of normal, xavier, kaiming, orthogonal", "init_type", "'" + initType + "'"));
  torch::NoGradGuard noGrad;
  std::function<void(nn::Module&)> visit = [&](nn::Module& m) {
    for (auto& child : m.children()) visit(*child);  // post-order: children first, in registration order
    // CUT's init_weights also covers Linear (PatchSampleF's MLPs); no other network has one.
    const bool isConv = m.as<nn::Conv2d>() != nullptr || m.as<SubpixelConvTranspose2d>() != nullptr || m.as<nn::Linear>() != nullptr;
    if (isConv) {
      auto params = m.named_parameters(false);
      auto* w = params.find("weight");
      if (w && w->defined()) {
        if (initType == "normal") nn::init::normal_(*w, 0.0, gain);
        else if (initType == "xavier") nn::init::xavier_normal_(*w, gain);
        else if (initType == "kaiming") nn::init::kaiming_normal_(*w, 0.0, torch::kFanIn);
        else nn::init::orthogonal_(*w, gain);
      }
      auto* b = params.find("bias");
      if (b && b->defined()) nn::init::constant_(*b, 0.0);
    } else if (m.as<nn::BatchNorm2d>() != nullptr && spec.norm == "batch") {
      // SyncBatchNorm's class name does not contain "BatchNorm2d": the reference leaves it at 1/0.
      auto params = m.named_parameters(false);
      nn::init::normal_(*params.find("weight"), 1.0, gain);
      nn::init::constant_(*params.find("bias"), 0.0);
    }
  };
  visit(*this);
}

}  // namespace img2img
