// The ResNet generators' inference forward, and the ResNet block's training step, under CPU bfloat16 autocast in
// channels-last layout, with InstanceNorm, ReLU and ReflectionPad2d fused into one pass per convolution (the blocks,
// and at inference the layers around them). The plain autocast path reorders every convolution's input and output
// between NCHW and oneDNN's channels-last (AMX) layout, casts to and from bfloat16 and runs pad, norm and ReLU as
// separate passes: on a Sapphire Rapids these cost more than the convolutions.
// Here each 3x3 convolution reads a bfloat16 channels-last input that the previous pass wrote already padded, and
// the norm statistics are float32 from the bfloat16 convolution output, as autocast computes them (precision.h):
// the same rounding points as the plain path, up to the summation order of the statistics.
#pragma once
#include <torch/torch.h>

#include "prepacked_conv.h"

namespace img2img {

// [sync] Turns the fused path on or off (default on; IMG2IMG_BF16_BLOCK=0 turns it off at load, runtime.setFastPath).
void SetBf16Block(bool on);
bool Bf16BlockEnabled();

// Whether x + conv_block(x) can take the fused path: no autograd, CPU bfloat16 autocast, float32 4-D x, and the
// block [ReflectionPad2d(1), conv 3x3, InstanceNorm2d (no affine, no running stats), ReLU, (Dropout in eval),
// ReflectionPad2d(1), conv 3x3, InstanceNorm2d] with unpadded stride-1 convolutions.
bool Bf16BlockApplies(const torch::Tensor& x, torch::nn::Sequential& convBlock);

// [sync] x + conv_block(x) on that path; the result is float32 channels-last (the residual stream stays float32).
torch::Tensor Bf16ResnetBlock(const torch::Tensor& x, torch::nn::Sequential& convBlock);

// Whether x + conv_block(x) can take the fused training path: autograd on, CPU bfloat16 autocast, float32 4-D x of at
// least 4x4 pixels (LowPrecisionPaysConv), the same block as above with no Dropout in training.
bool Bf16BlockTrainApplies(const torch::Tensor& x, torch::nn::Sequential& convBlock);

// [sync] x + conv_block(x) as one autograd function (saves bf16 maps, float32 norm statistics; backward in fused passes
// around the two convolutions' own bf16 backward). The result is float32 channels-last; the gradients of the float32
// weights are float32, as the weight casts of autocast give them.
torch::Tensor Bf16ResnetBlockTrain(const torch::Tensor& x, torch::nn::Sequential& convBlock);

// Whether a ResNet generator's forward can run in channels-last bf16 (no autograd, CPU bfloat16 autocast, float32
// 4-D x; same switch as the block path).
bool Bf16GeneratorApplies(const torch::Tensor& x);

// [sync] seq(x) for a ResNet generator's `model` Sequential (the reference's or CUT's): each [ReflectionPad2d]
// convolution or sub-pixel deconvolution followed by InstanceNorm + ReLU runs in channels-last bf16 with the norm,
// the ReLU and the next layer's reflection pad fused into one pass (the activations stay bf16 between them, rounded
// where the plain autocast path rounds them: at the next convolution's input); ResNet blocks take the path above;
// every other module, and every convolution LowPrecisionPays* keeps in float32, runs as its own forward in float32.
// Returns float32 NCHW.
torch::Tensor Bf16GeneratorForward(torch::nn::Sequential seq, const torch::Tensor& x);

}  // namespace img2img
