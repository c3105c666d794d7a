#include "cut_networks.h"

#include <algorithm>

#include "errors.h"
#include "network_layers.h"
#include "networks.h"

namespace img2img {
namespace nn = torch::nn;

namespace {

constexpr int64_t kDownFilter = 3;       // Downsample's default blur filter size (binomial [1, 2, 1])
constexpr int64_t kUpFilter = 4;         // Upsample's default filter size (binomial [1, 3, 3, 1])
constexpr int64_t kBlurStride = 2;
constexpr double kL2Eps = 1e-7;          // Normalize's epsilon
constexpr double kMaskedLogit = -10.0;   // PatchNCE fills the self-similarity diagonal with this

// get_filter(n): the outer product of the n-th binomial row, normalised to sum 1 (float32 as CUT's torch.Tensor).
torch::Tensor BinomialFilter(int64_t n) {
  std::vector<float> row(n, 1.f);
  for (int64_t i = 1; i < n; ++i)
    for (int64_t j = i - 1; j > 0; --j) row[j] += row[j - 1];
  auto a = torch::tensor(row);
  auto f = a.unsqueeze(1) * a.unsqueeze(0);
  return f / f.sum();
}

// CUT's Downsample (blur pool): reflect-pad by 1, then a depthwise stride-2 binomial blur. Buffer `filt`.
struct DownsampleImpl : nn::Module {
  explicit DownsampleImpl(int64_t channels) {
    filt = register_buffer("filt", BinomialFilter(kDownFilter).unsqueeze(0).unsqueeze(0).repeat({channels, 1, 1, 1}));
    pad = register_module("pad", nn::ReflectionPad2d(nn::ReflectionPad2dOptions({1, 1, 1, 1})));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    // Widened back to the input's dtype: under autocast the blur's conv would otherwise hand on a low-precision map.
    return nn::functional::conv2d(pad->forward(x), filt, nn::functional::Conv2dFuncOptions().stride(kBlurStride).groups(x.size(1)))
        .to(x.scalar_type());
  }
  torch::Tensor filt;
  nn::ReflectionPad2d pad{nullptr};
};
TORCH_MODULE(Downsample);

// CUT's Upsample: replicate-pad by 1, a depthwise stride-2 transposed binomial filter (x stride^2), then the
// crop CUT applies ([1:, 1:], and [:-1, :-1] for its even filter) so that H x W becomes 2H x 2W. Buffer `filt`.
struct UpsampleImpl : nn::Module {
  explicit UpsampleImpl(int64_t channels) {
    filt = register_buffer("filt", (BinomialFilter(kUpFilter) * float(kBlurStride * kBlurStride)).unsqueeze(0).unsqueeze(0).repeat({channels, 1, 1, 1}));
    pad = register_module("pad", nn::ReplicationPad2d(nn::ReplicationPad2dOptions({1, 1, 1, 1})));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const int64_t padSize = (kUpFilter - 1) / 2;
    auto y = nn::functional::conv_transpose2d(pad->forward(x), filt,
        nn::functional::ConvTranspose2dFuncOptions().stride(kBlurStride).padding(1 + padSize).groups(x.size(1)));
    using torch::indexing::Slice;
    return y.index({Slice(), Slice(), Slice(1, -1), Slice(1, -1)}).to(x.scalar_type());  // even filter: [1:, 1:] then [:-1, :-1]
  }
  torch::Tensor filt;
  nn::ReplicationPad2d pad{nullptr};
};
TORCH_MODULE(Upsample);

}  // namespace

nn::Sequential BuildCutResnet(const NetworkSpec& s) {
  const bool useBias = UseBias(s.norm);
  const int64_t ngf = s.width;
  auto model = nn::Sequential();
  model->push_back(nn::ReflectionPad2d(3));
  model->push_back(Conv(s.inputNc, ngf, 7, 1, 0, useBias));
  model->push_back(MakeNorm(s.norm, ngf));
  model->push_back(nn::ReLU());
  for (int64_t i = 0; i < s.nDownsampling; ++i) {
    const int64_t c = ngf * (int64_t(1) << i);
    model->push_back(Conv(c, c * 2, 3, s.antialias ? 1 : 2, 1, useBias));
    model->push_back(MakeNorm(s.norm, c * 2));
    model->push_back(nn::ReLU());
    if (s.antialias) model->push_back(Downsample(c * 2));
  }
  const int64_t mult = int64_t(1) << s.nDownsampling;
  for (int64_t i = 0; i < s.nBlocks; ++i) model->push_back(ResnetBlock(ngf * mult, s.paddingType, s.norm, s.useDropout));
  for (int64_t i = 0; i < s.nDownsampling; ++i) {
    const int64_t c = ngf * (int64_t(1) << (s.nDownsampling - i));
    if (s.antialiasUp) {
      model->push_back(Upsample(c));
      model->push_back(Conv(c, c / 2, 3, 1, 1, useBias));
    } else {
      model->push_back(Deconv(c, c / 2, 3, 2, 1, 1, useBias));
    }
    model->push_back(MakeNorm(s.norm, c / 2));
    model->push_back(nn::ReLU());
  }
  model->push_back(nn::ReflectionPad2d(3));
  model->push_back(Conv(ngf, s.outputNc, 7, 1, 0, /*bias=*/true));
  model->push_back(nn::Tanh());
  return model;
}

nn::Sequential BuildCutNLayer(const NetworkSpec& s) {
  const bool useBias = UseBias(s.norm);
  const int64_t ndf = s.width;
  auto model = nn::Sequential();
  model->push_back(Conv(s.inputNc, ndf, 4, 1, 1, true));
  model->push_back(LRelu());
  model->push_back(Downsample(ndf));
  int64_t nfMult = 1, nfMultPrev = 1;
  for (int64_t n = 1; n < s.nLayersD; ++n) {
    nfMultPrev = nfMult;
    nfMult = std::min<int64_t>(int64_t(1) << n, 8);
    model->push_back(Conv(ndf * nfMultPrev, ndf * nfMult, 4, 1, 1, useBias));
    model->push_back(MakeNorm(s.norm, ndf * nfMult));
    model->push_back(LRelu());
    model->push_back(Downsample(ndf * nfMult));
  }
  nfMultPrev = nfMult;
  nfMult = std::min<int64_t>(int64_t(1) << s.nLayersD, 8);
  model->push_back(Conv(ndf * nfMultPrev, ndf * nfMult, 4, 1, 1, useBias));
  model->push_back(MakeNorm(s.norm, ndf * nfMult));
  model->push_back(LRelu());
  model->push_back(Conv(ndf * nfMult, 1, 4, 1, 1, true));
  return model;
}

void BuildPatchSampleF(nn::Module& owner, const NetworkSpec& s) {
  if (s.builder != "patch_sample_mlp") return;
  for (size_t i = 0; i < s.featureChannels.size(); ++i) {
    auto mlp = nn::Sequential(nn::Linear(s.featureChannels[i], s.width), nn::ReLU(), nn::Linear(s.width, s.width));
    owner.register_module("mlp_" + std::to_string(i), mlp);
  }
}

std::vector<torch::Tensor> EncodeLayers(nn::Sequential& model, const torch::Tensor& x, const std::vector<int64_t>& layers) {
  if (layers.empty()) throw UserError("Expected at least one layer index for encode layers but received none");
  if (layers.back() < 0 || layers.back() >= int64_t(model->size()))
    throw UserError("Expected layer indices between 0 and " + std::to_string(model->size() - 1) + " for nce_layers but received " + std::to_string(layers.back()));
  std::vector<torch::Tensor> feats;
  torch::Tensor feat = x;
  int64_t id = 0;
  for (auto& layer : *model) {
    feat = layer.forward(feat);
    if (std::find(layers.begin(), layers.end(), id) != layers.end()) feats.push_back(feat);
    if (id == layers.back()) break;  // encode_only: the layers after the last requested one never run
    ++id;
  }
  return feats;
}

std::vector<torch::Tensor> SamplePatches(nn::Module& owner, const std::vector<torch::Tensor>& feats,
                                         const std::vector<torch::Tensor>& ids) {
  if (feats.size() != ids.size())
    throw UserError("Expected one patch-id tensor per feature map (" + std::to_string(feats.size()) + ") but received " + std::to_string(ids.size()));
  auto children = owner.named_children();
  std::vector<torch::Tensor> out;
  for (size_t i = 0; i < feats.size(); ++i) {
    const auto& feat = feats[i];
    if (feat.dim() != 4) throw UserError("Expected 4-D feature maps [N, C, H, W] for PatchSampleF");
    auto reshaped = feat.permute({0, 2, 3, 1}).flatten(1, 2);                       // [B, H*W, C]
    auto x = reshaped.index_select(1, ids[i].to(feat.device(), torch::kLong)).flatten(0, 1);  // [B*P, C]
    auto* mlp = children.find("mlp_" + std::to_string(i));
    if (mlp) x = (*mlp)->as<nn::Sequential>()->forward(x);
    else if (!children.is_empty()) throw UserError("PatchSampleF has no MLP for feature map " + std::to_string(i));
    auto norm = x.pow(2).sum(1, true).pow(0.5);
    out.push_back(x.div(norm + kL2Eps));
  }
  return out;
}

torch::Tensor PatchNceLoss(const torch::Tensor& q, const torch::Tensor& kIn, int64_t batchDim, double nceT) {
  if (q.dim() != 2 || !q.sizes().equals(kIn.sizes()))
    throw UserError("Expected two [patches, dim] tensors of the same shape for PatchNCE");
  const int64_t numPatches = q.size(0), dim = q.size(1);
  if (batchDim < 1 || numPatches % batchDim != 0)
    throw UserError("Expected a batch size dividing the " + std::to_string(numPatches) + " patches for PatchNCE but received " + std::to_string(batchDim));
  auto k = kIn.detach();
  auto lPos = torch::bmm(q.view({numPatches, 1, -1}), k.view({numPatches, -1, 1})).view({numPatches, 1});
  auto qb = q.view({batchDim, -1, dim});
  auto kb = k.view({batchDim, -1, dim});
  const int64_t npatches = qb.size(1);
  auto lNeg = torch::bmm(qb, kb.transpose(2, 1));
  // The diagonal compares a patch with itself: not a negative.
  auto diagonal = torch::eye(npatches, torch::TensorOptions().dtype(torch::kBool).device(q.device())).unsqueeze(0);
  lNeg.masked_fill_(diagonal, kMaskedLogit);
  auto logits = torch::cat({lPos, lNeg.view({-1, npatches})}, 1) / nceT;
  auto target = torch::zeros({logits.size(0)}, torch::TensorOptions().dtype(torch::kLong).device(q.device()));
  return torch::nn::functional::cross_entropy(logits, target, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
}

}  // namespace img2img
