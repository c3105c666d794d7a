// CUT's networks (taesungp/contrastive-unpaired-translation, models/networks.py and patchnce.py): the antialiased
// ResNet generator and PatchGAN (blur Downsample / Upsample), encode_only features, PatchSampleF and PatchNCE.
// Everything CUT-specific on the native side lives here; networks.cc only dispatches to it.
#pragma once
#include <string>
#include <vector>
#include <torch/torch.h>

namespace img2img {

struct NetworkSpec;

// ResnetGenerator's `model` Sequential (builder resnet_cut) with CUT's antialias / antialias_up choices
// (spec.antialias, spec.antialiasUp; at least one on, else the table picks the plain resnet builder).
torch::nn::Sequential BuildCutResnet(const NetworkSpec& spec);
// NLayerDiscriminator's `model` Sequential with blur-pool downsampling (builder n_layers_cut: CUT's default, no_antialias=False).
torch::nn::Sequential BuildCutNLayer(const NetworkSpec& spec);
// PatchSampleF: registers mlp_<i> = Linear(C_i, nc)-ReLU-Linear(nc, nc) on `owner` per entry of
// spec.featureChannels (builder patch_sample_mlp; patch_sample has no MLPs).
void BuildPatchSampleF(torch::nn::Module& owner, const NetworkSpec& spec);

// ResnetGenerator.forward(x, layers, encode_only=True): the outputs of the `model` layers listed in `layers`
// (in layer order), stopping after the layer layers.back().
std::vector<torch::Tensor> EncodeLayers(torch::nn::Sequential& model, const torch::Tensor& x, const std::vector<int64_t>& layers);
// PatchSampleF.forward(feats, num_patches, patch_ids): per feature map, the rows `ids[i]` of its [B, H*W, C]
// reshape, through mlp_<i> when present, L2-normalised. `owner` is the F network.
std::vector<torch::Tensor> SamplePatches(torch::nn::Module& owner, const std::vector<torch::Tensor>& feats,
                                         const std::vector<torch::Tensor>& ids);
// PatchNCELoss.forward(feat_q, feat_k): per-patch cross-entropy of the positive pair against the negatives of
// the same image (batchDim = batch size) or of the whole minibatch (batchDim = 1), temperature nceT; k detached.
torch::Tensor PatchNceLoss(const torch::Tensor& q, const torch::Tensor& k, int64_t batchDim, double nceT);

}  // namespace img2img
