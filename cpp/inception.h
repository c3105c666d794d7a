// pytorch-fid's FID Inception v3 (inception.py: InceptionV3([3]) with use_fid_inception) as a libtorch module:
// input in [0, 1] -> bilinear resize to 299x299 -> [-1, 1] -> blocks 0-3 -> pool3, [N, 2048].
// Submodules carry torchvision's names in its registration order (plus the unused fc), so the state dict has the
// keys, order and shapes of pt_inception-2015-12-05-6726825d.pth.
#pragma once
#include <functional>
#include <vector>
#include <torch/torch.h>

namespace img2img {

struct FidInceptionV3Impl : torch::nn::Module {
  FidInceptionV3Impl();
  // [N, 3, H, W] in [0, 1] -> [N, 2048] pool3 features. Expects eval mode (BatchNorm running statistics).
  torch::Tensor forward(const torch::Tensor& x);

  // The forwards in order: stem with max pool (block 0), stem with max pool (block 1), Mixed_5b … Mixed_7c.
  std::vector<std::function<torch::Tensor(const torch::Tensor&)>> stages;
};
TORCH_MODULE(FidInceptionV3);

}  // namespace img2img
