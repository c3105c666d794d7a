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

// What to build. Names are resolved in TypeScript (src/architectures.ts, the architecture table): this layer gets
// the builder and its structural numbers and only range-checks them.
struct NetworkSpec {
  std::string kind;         // "G", "D", "F" (CUT's PatchSampleF, cut_networks.h) or "FID" (the FID Inception v3 of metrics, inception.h)
  std::string arch;         // the name, for messages only
  std::string builder;      // unet | resnet | resnet_cut | n_layers | n_layers_cut | pixel | patch_sample_mlp | patch_sample | fid_inception_v3
  int64_t inputNc = 0;
  int64_t outputNc = 0;     // G only
  int64_t width = 0;        // ngf (G) or ndf (D)
  int64_t numDowns = 0;     // unet: stride-2 convolutions
  int64_t nBlocks = 0;      // resnet: residual blocks
  int64_t nDownsampling = 0;  // resnet: stride-2 convolutions before the blocks
  int64_t nLayersD = 0;     // n_layers: stride-2 convolutions
  int64_t sizeMultiple = 1;  // G: input height and width must be multiples of this
  std::string norm;         // batch | instance | none | syncbatch
  bool useDropout = false;
  std::string paddingType;  // resnet blocks: reflect | replicate | zero
  bool antialias = false;    // resnet_cut: blur-pool downsampling (cut_networks.h)
  bool antialiasUp = false;  // resnet_cut: blur upsampling + conv instead of ConvTranspose2d
  std::vector<int64_t> featureChannels;  // patch_sample*: channels of each sampled feature map (one MLP each); width = nc
};

// Range-checks every field the builder reads; throws UserError naming the field.
void CheckSpec(const NetworkSpec& spec);

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
  // The autocast dtype of forward: float32 (off), bfloat16 or float16 (precision.h). Parameters stay float32.
  at::ScalarType precision = at::kFloat;
  // forward of the reference's top-level attribute ("model" or "net"), registered as our child module.
  std::function<torch::Tensor(const torch::Tensor&)> root;
};
TORCH_MODULE(Network);

}  // namespace img2img
