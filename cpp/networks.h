// The reference's networks (models/networks.py) as libtorch modules. Submodules are registered in the
// reference's order and under its names, so named_parameters()/named_buffers() give its state_dict keys,
// and modules are constructed in the reference's order, so default init consumes the CPU generator alike.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include <torch/torch.h>

namespace img2img {

struct NetworkSpec {
  std::string kind;         // "G", "D", "F" (CUT's PatchSampleF, cut_networks.h) or "FID" (the FID Inception v3 of metrics, inception.h)
  std::string arch;         // G: unet_256 | unet_128 | unet_<N>downs | resnet_9blocks | resnet_6blocks | resnet_<N>blocks; D: basic | n_layers | pixel; FID: fid_inception_v3
  int64_t inputNc = 3;
  int64_t outputNc = 3;     // G only
  int64_t width = 64;       // ngf (G) or ndf (D)
  int64_t nLayersD = 3;     // D n_layers
  int64_t numDowns = 8;     // U-Net depth (from arch)
  int64_t nBlocks = 9;      // ResNet blocks (from arch)
  std::string norm = "batch";  // batch | instance | none | syncbatch
  bool useDropout = false;
  std::string paddingType = "reflect";  // ResNet blocks: reflect | replicate | zero
  bool antialias = false;    // CUT: blur-pool downsampling in the ResNet G and the PatchGAN D (cut_networks.h)
  bool antialiasUp = false;  // CUT: blur upsampling + conv instead of ConvTranspose2d in the ResNet G
  std::vector<int64_t> featureChannels;  // F: channels of each sampled feature map (one MLP each); width = nc
};

// Parses arch names into numDowns / nBlocks and validates every field; throws UserError naming the field.
NetworkSpec NormalizeSpec(NetworkSpec spec);

// A built network: the root module plus what forward needs to check its input.
struct NetworkImpl : torch::nn::Module {
  explicit NetworkImpl(const NetworkSpec& spec);
  torch::Tensor forward(const torch::Tensor& x);
  // Checks shape and channel count; throws UserError with the size rule of this network.
  void CheckInput(const torch::Tensor& x) const;
  // Reference init_weights, applied post-order (children before parents, registration order).
  void InitWeights(const std::string& initType, double gain);
  std::string Describe() const;

  NetworkSpec spec;
  // forward of the reference's top-level attribute ("model" or "net"), registered as our child module.
  std::function<torch::Tensor(const torch::Tensor&)> root;
};
TORCH_MODULE(Network);

}  // namespace img2img
