#include "phase_conv.h"

#include <atomic>

namespace img2img {

namespace {
std::atomic<bool> gPhaseConv{true};
constexpr int64_t kPhaseKernel = 7;       // the ResNet generator's output layer; other sizes not measured
constexpr int64_t kPhaseMaxOutputs = 4;   // 4 phases x 4 outputs = 16: one AVX-512 block, two AVX2 blocks

// K[(a*2+b)*out + o, c] = w[o, c] placed at offset (a, b) in a (k+1)x(k+1) zero kernel.
torch::Tensor PhaseKernel(const torch::Tensor& w) {
  std::vector<torch::Tensor> phases;
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 2; ++b) phases.push_back(torch::constant_pad_nd(w, {b, 1 - b, a, 1 - a}));
  return torch::cat(phases, 0);
}
}  // namespace

void SetPhaseConv(bool on) { gPhaseConv = on; }
bool PhaseConvEnabled() { return gPhaseConv; }

bool PhaseConvApplies(const torch::Tensor& x, const torch::Tensor& weight, torch::IntArrayRef stride,
                      torch::IntArrayRef padding) {
  if (!gPhaseConv || !x.device().is_cpu() || x.scalar_type() != torch::kFloat32 || weight.scalar_type() != torch::kFloat32 ||
      x.dim() != 4 || x.is_mkldnn() || weight.size(0) > kPhaseMaxOutputs ||
      weight.size(2) != kPhaseKernel || weight.size(3) != kPhaseKernel || x.size(1) != weight.size(1))
    return false;
  for (auto s : stride)
    if (s != 1) return false;
  const int64_t ho = x.size(2) + 2 * padding[0] - kPhaseKernel + 1, wo = x.size(3) + 2 * padding[1] - kPhaseKernel + 1;
  return ho > 0 && wo > 0 && ho % 2 == 0 && wo % 2 == 0;
}

torch::Tensor PhaseConv2d(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                          torch::IntArrayRef padding, PrepackedWeight& packed) {
  const int64_t n = x.size(0), out = weight.size(0);
  const int64_t ho = x.size(2) + 2 * padding[0] - weight.size(2) + 1, wo = x.size(3) + 2 * padding[1] - weight.size(3) + 1;
  const torch::Tensor phaseBias = bias.defined() ? bias.repeat({4}) : torch::Tensor();
  torch::Tensor z;  // [n, 4*out, ho/2, wo/2]
  if (PrepackApplies(x, weight)) {
    const torch::Tensor w = weight;
    z = packed.Conv(x, w, [w] { return PhaseKernel(w); }, phaseBias, {2, 2}, padding);
  } else {
    z = torch::conv2d(x, PhaseKernel(weight), phaseBias, 2, padding);
  }
  // y[n, o, 2m+a, 2j+b] = z[n, (a*2+b)*out + o, m, j]: one copy.
  return z.view({n, 2, 2, out, ho / 2, wo / 2}).permute({0, 3, 4, 1, 5, 2}).reshape({n, out, ho, wo});
}

}  // namespace img2img
