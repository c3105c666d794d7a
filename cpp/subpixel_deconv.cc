#include "subpixel_deconv.h"

#include "precision.h"
#include "prepacked_conv.h"

#include <array>
#include <atomic>

namespace img2img {

namespace {
std::atomic<bool> gFast{true};

// Kernel-tap index for output phase `a` and window position `t` (0 = first row/col of the 2-wide window), or -1
// for a zero tap. Derived from o = 2*i - padding + k with o = 2*m + a.
int64_t Tap(int64_t kernel, int64_t a, int64_t t) {
  if (kernel == 4) {          // padding 1: window starts at input m-1 (after padding the input by 1)
    static const int64_t taps[2][2] = {{3, 1}, {2, 0}};
    return taps[a][t];
  }
  // kernel 3, padding 1, output_padding 1: window starts at input m
  static const int64_t taps[2][2] = {{1, -1}, {2, 0}};
  return taps[a][t];
}

// The flattened kernel tap (ky*kernel + kx) that feeds phase ph = a*2+b at window position t = ty*2+tx, or -1 for
// a zero tap: the phase kernel's layout, read by both ways of building it.
std::array<int64_t, 16> PhaseTaps(int64_t kernel) {
  std::array<int64_t, 16> taps{};
  for (int64_t ph = 0; ph < 4; ++ph)
    for (int64_t t = 0; t < 4; ++t) {
      const int64_t ky = Tap(kernel, ph / 2, t / 2), kx = Tap(kernel, ph % 2, t % 2);
      taps[ph * 4 + t] = ky < 0 || kx < 0 ? -1 : ky * kernel + kx;
    }
  return taps;
}
}  // namespace

void SetFastConvTranspose(bool on) { gFast = on; }
bool FastConvTranspose() { return gFast; }

SubpixelConvTranspose2dImpl::SubpixelConvTranspose2dImpl(int64_t in, int64_t out, int64_t k, int64_t p, int64_t op, bool hasBias)
    : kernel(k), padding(p), outputPadding(op) {
  TORCH_CHECK((k == 4 && p == 1 && op == 0) || (k == 3 && p == 1 && op == 1), "unsupported transposed convolution");
  // Build the stock module so construction consumes the generator exactly as ConvTranspose2d does.
  torch::nn::ConvTranspose2d stock(torch::nn::ConvTranspose2dOptions(in, out, k).stride(2).padding(p).output_padding(op).bias(hasBias));
  weight = register_parameter("weight", stock->weight);
  if (hasBias) bias = register_parameter("bias", stock->bias);
}

torch::Tensor SubpixelConvTranspose2dImpl::ForwardReference(const torch::Tensor& x) {
  // CPU autocast leaves conv_transpose2d unlisted: it runs in float32, so a bfloat16 input is cast back.
  const torch::Tensor in = CpuAutocastActive() && x.scalar_type() != at::kFloat ? x.to(at::kFloat) : x;
  return torch::conv_transpose2d(in, weight, bias, /*stride=*/2, padding, outputPadding);
}

namespace {
// For kernel 4 the phase kernel is a pure relabelling of the 16 taps (Tap is a bijection), so forward and backward
// are one gather loop each. ATen's index_select over the last, 16-long dim plus the permuted copy took 69 ms
// forward and 143 ms forward + backward on a 1024x512 kernel (2 threads, Zen 4), which made the phase kernel cost
// more than the convolution it feeds.
struct PhaseKernel4Function : public torch::autograd::Function<PhaseKernel4Function> {
  // K[(a*2+b)*cout + o, i, ty, tx] = W[i, o, Tap(4, a, ty), Tap(4, b, tx)]; `inverse` sends K's layout back to W's.
  static torch::Tensor Relabel(const torch::Tensor& src, int64_t cin, int64_t cout, bool inverse) {
    const torch::Tensor s = src.contiguous();
    torch::Tensor dst = inverse ? torch::empty({cin, cout, 4, 4}, s.options()) : torch::empty({4 * cout, cin, 2, 2}, s.options());
    const std::array<int64_t, 16> tap = PhaseTaps(4);  // no zero taps for kernel 4
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, s.scalar_type(), "PhaseKernel4", [&] {
      const scalar_t* in = s.data_ptr<scalar_t>();
      scalar_t* out = dst.data_ptr<scalar_t>();
      at::parallel_for(0, cout, 1, [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o)
          for (int64_t ph = 0; ph < 4; ++ph)
            for (int64_t i = 0; i < cin; ++i) {
              const int64_t k = ((ph * cout + o) * cin + i) * 4, w = (i * cout + o) * 16;
              for (int64_t t = 0; t < 4; ++t) {
                if (inverse) out[w + tap[ph * 4 + t]] = in[k + t];
                else out[k + t] = in[w + tap[ph * 4 + t]];
              }
            }
      });
    });
    return dst;
  }
  // The same relabelling in differentiable view ops (Tap(4, a, t) = 3 - (2t + a)), for a backward with create_graph.
  static torch::Tensor RelabelInverseDifferentiable(const torch::Tensor& gk, int64_t cin, int64_t cout) {
    return gk.reshape({2, 2, cout, cin, 2, 2}).permute({3, 2, 4, 0, 5, 1}).reshape({cin, cout, 4, 4}).flip({2, 3});
  }
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& weight) {
    ctx->saved_data["cin"] = weight.size(0);
    ctx->saved_data["cout"] = weight.size(1);
    return Relabel(weight, weight.size(0), weight.size(1), false);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    const int64_t cin = ctx->saved_data["cin"].toInt(), cout = ctx->saved_data["cout"].toInt();
    if (torch::GradMode::is_enabled()) return {RelabelInverseDifferentiable(grads[0], cin, cout)};
    return {Relabel(grads[0], cin, cout, true)};
  }
};
}  // namespace

torch::Tensor SubpixelConvTranspose2dImpl::PhaseKernel() {
  if (kernel == 4 && weight.device().is_cpu()) return PhaseKernel4Function::apply(weight);
  // K[phase*cout + o, i, ty, tx] = weight[i, o, Tap(a, ty), Tap(b, tx)], zero taps zero. One gather over the flattened
  // kernel plus one permute (differentiable: training sends the gradient back to `weight`). Kernel 3 (the ResNet's
  // 256->128 and 128->64 layers) is small enough for it.
  const int64_t cin = weight.size(0), cout = weight.size(1), kk = kernel * kernel;
  std::vector<int64_t> index;
  std::vector<float> mask;
  for (const int64_t tap : PhaseTaps(kernel)) {
    index.push_back(tap < 0 ? 0 : tap);
    mask.push_back(tap < 0 ? 0.f : 1.f);
  }
  auto idx = torch::tensor(index, torch::kLong).to(weight.device());
  auto gathered = weight.reshape({cin, cout, kk}).index_select(2, idx);  // [cin, cout, 16]
  if (kernel == 3) gathered = gathered * torch::tensor(mask, weight.options()).view({1, 1, 16});
  auto k = gathered.view({cin, cout, 4, 2, 2}).permute({2, 1, 0, 3, 4}).reshape({4 * cout, cin, 2, 2});
  return k;
}

torch::Tensor SubpixelConvTranspose2dImpl::ForwardSubpixel(const torch::Tensor& x) {
  const int64_t H = x.size(2), W = x.size(3);
  const int64_t cout = weight.size(1);
  torch::Tensor xp, z;
  std::vector<torch::Tensor> ys;
  xp = kernel == 4 ? torch::constant_pad_nd(x, {1, 1, 1, 1}) : torch::constant_pad_nd(x, {0, 1, 0, 1});
  // [N, 4*out, H+1, W+1] (kernel 4) or [N, 4*out, H, W] (kernel 3); the phase kernel is [4*out, in, 2, 2].
  const bool prepacked = PrepackApplies(xp, weight);
  // The bias, repeated for the 4 phases, rides in the convolution instead of a pass over the output.
  const torch::Tensor phaseBias = bias.defined() ? bias.repeat({4}) : torch::Tensor();
  if (prepacked)
    z = packed_.Conv(xp, weight, [this] { return PhaseKernel(); }, phaseBias, 1, 0);
  else
    z = torch::conv2d(xp, PhaseKernel(), phaseBias);
  if (kernel == 4) {
    for (int64_t a = 0; a < 2; ++a)
      for (int64_t b = 0; b < 2; ++b) {
        const int64_t ph = a * 2 + b;
        ys.push_back(z.slice(1, ph * cout, (ph + 1) * cout).slice(2, a, a + H).slice(3, b, b + W));
      }
  } else {
    for (int64_t ph = 0; ph < 4; ++ph) ys.push_back(z.slice(1, ph * cout, (ph + 1) * cout));
  }
  // y[n, c, 2m+a, 2j+b] = ys[a*2+b][n, c, m, j]
  if (!torch::GradMode::is_enabled()) {  // one strided copy per phase (the stacks below copy the output 3 times)
    auto y = torch::empty({x.size(0), cout, H, 2, W, 2}, z.options());
    for (int64_t a = 0; a < 2; ++a)
      for (int64_t b = 0; b < 2; ++b) y.select(5, b).select(3, a).copy_(ys[a * 2 + b]);
    return y.view({x.size(0), cout, 2 * H, 2 * W});
  }
  auto row0 = torch::stack({ys[0], ys[1]}, -1);  // [N, C, H, W, 2]
  auto row1 = torch::stack({ys[2], ys[3]}, -1);
  return torch::stack({row0, row1}, 3).reshape({x.size(0), cout, 2 * H, 2 * W});
}

torch::Tensor SubpixelConvTranspose2dImpl::forward(const torch::Tensor& x) {
  if (AutocastActive(x.device())) {  // widened: precision.h
    if (x.dim() != 4 || LowPrecisionPaysDeconv(x.device(), x.size(2) * x.size(3))) return ForwardPath(x).to(weight.scalar_type());
    AutocastPause fp32(x.device().type());
    return ForwardPath(x.to(weight.scalar_type()));
  }
  return ForwardPath(x);
}

torch::Tensor SubpixelConvTranspose2dImpl::ForwardPath(const torch::Tensor& x) {
  // Below 32x32 inputs (the U-Net's inner, 512-1024-channel layers) oneDNN's 2x2 convolution with 4x the output
  // channels measured slower than libtorch's im2col path (1024->512 @ 8x8: 23 ms vs 125 ms); from 32x32 up it
  // measured 1.7-2.4x faster forward+backward (512->128 @ 32: 93 -> 56 ms, 256->64 @ 64: 107 -> 52 ms).
  // With the relabelled phase kernel (PhaseKernel4Function) a 16x16 cut-off still made the pix2pix step slower.
  // Without autograd the phase kernel is prepacked once for oneDNN (prepacked_conv.h), which removes the per-call
  // weight reorder that made the small sizes slow: then every size takes the sub-pixel path.
  // Under CPU autocast every size takes it too: 1.13's policy leaves conv_transpose2d in float32 (im2col, no
  // bfloat16 gain, and a dtype clash with a bfloat16 input), while the sub-pixel conv2d is cast to bfloat16.
  constexpr int64_t kMinSide = 32;
  if (gFast && x.device().is_cpu() && x.dim() == 4 &&
      ((x.size(2) >= kMinSide && x.size(3) >= kMinSide) || PrepackApplies(x, weight) || CpuAutocastActive()))
    return ForwardSubpixel(x);
  return ForwardReference(x);
}

}  // namespace img2img
