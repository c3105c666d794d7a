// The reference's building blocks shared by networks.cc and cut_networks.cc (one definition each, in networks.cc).
#pragma once
#include <string>
#include <torch/torch.h>

#include "prepacked_conv.h"
#include "subpixel_deconv.h"

namespace img2img {

// The reference's use_bias rule: convs followed by a norm have a bias only with (stat-less) InstanceNorm.
bool UseBias(const std::string& norm);
// norm_layer(c) of get_norm_layer; "none" is Identity (it still occupies a Sequential index).
torch::nn::AnyModule MakeNorm(const std::string& norm, int64_t c);
// nn::Conv2d with a prepacked-weight inference path (prepacked_conv.h); same parameters and init.
FastConv2d Conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, bool bias);
// A stride-2 ConvTranspose2d in its exact sub-pixel form (subpixel_deconv.h).
SubpixelConvTranspose2d Deconv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, int64_t outPad, bool bias);
// LeakyReLU(0.2) of the discriminators and U-Net down paths.
torch::nn::LeakyReLU LRelu();
// Adds the padding of one 3x3 conv to `seq` and returns the conv's own padding.
int64_t PushPadding(torch::nn::Sequential& seq, const std::string& paddingType);

// ResnetBlock: x + conv_block(x), conv_block = [pad, conv3x3, norm, ReLU, (dropout), pad, conv3x3, norm].
struct ResnetBlockImpl : torch::nn::Module {
  ResnetBlockImpl(int64_t dim, const std::string& paddingType, const std::string& norm, bool useDropout);
  // The Sequential's modules in order, except that each ReflectionPad2d + conv pair goes through the conv's
  // ForwardReflectionPadded (Winograd at inference reads the reflected input itself; otherwise the same two ops).
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Sequential conv_block{nullptr};
};
TORCH_MODULE(ResnetBlock);

}  // namespace img2img
