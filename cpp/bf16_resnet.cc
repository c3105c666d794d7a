#include "bf16_resnet.h"

#include <ATen/Parallel.h>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "network_layers.h"
#include "precision.h"
#include "subpixel_deconv.h"

namespace img2img {

namespace nn = torch::nn;

namespace {

std::atomic<bool> gOn{true};

inline float Bf16ToF32(uint16_t b) {
  const uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even, NaN kept: c10::BFloat16's conversion, bit for bit.
inline uint16_t F32ToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  return f != f ? uint16_t(0x7fc0) : uint16_t(rounded);
}

// ReflectionPad2d's source index for padded position i - pad (pad < n).
inline int64_t Reflect(int64_t i, int64_t n) { return i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i); }

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define IMG2IMG_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define IMG2IMG_CLONES
#endif

// Per-channel sum and sum of squares over n pixels of a channels-last bfloat16 map, channels [c0, c1) of C.
IMG2IMG_CLONES
void ChannelSums(const uint16_t* __restrict y, int64_t n, int64_t C, int64_t c0, int64_t c1, double* __restrict sum,
                 double* __restrict sq) {
  const int64_t w = c1 - c0;
  for (int64_t c = 0; c < w; ++c) sum[c] = sq[c] = 0;
  for (int64_t p = 0; p < n; ++p) {
    const uint16_t* row = y + p * C + c0;
    for (int64_t c = 0; c < w; ++c) {
      const double v = Bf16ToF32(row[c]);
      sum[c] += v;
      sq[c] += v * v;
    }
  }
}

// dst[c] = bf16(max?((src[c] - mean[c]) * invstd[c], 0)) for C channels.
IMG2IMG_CLONES
void NormRow(const uint16_t* __restrict src, const float* __restrict mean, const float* __restrict invstd, bool relu,
             int64_t C, uint16_t* __restrict dst) {
  for (int64_t c = 0; c < C; ++c) {
    float v = (Bf16ToF32(src[c]) - mean[c]) * invstd[c];
    if (relu) v = v > 0.f ? v : 0.f;
    dst[c] = F32ToBf16(v);
  }
}

// dst[c] = x[c] + (src[c] - mean[c]) * invstd[c], float32 out.
IMG2IMG_CLONES
void ResidualRow(const float* __restrict x, const uint16_t* __restrict src, const float* __restrict mean,
                 const float* __restrict invstd, int64_t n, int64_t C, float* __restrict dst) {
  for (int64_t p = 0; p < n; ++p)
    for (int64_t c = 0; c < C; ++c)
      dst[p * C + c] = x[p * C + c] + (Bf16ToF32(src[p * C + c]) - mean[c]) * invstd[c];
}

// dst = relu((src - mean) * invstd), float32 out, n pixels of C channels.
IMG2IMG_CLONES
void NormRowFloat(const uint16_t* __restrict src, const float* __restrict mean, const float* __restrict invstd, int64_t n,
                  int64_t C, float* __restrict dst) {
  for (int64_t p = 0; p < n; ++p)
    for (int64_t c = 0; c < C; ++c) {
      const float v = (Bf16ToF32(src[p * C + c]) - mean[c]) * invstd[c];
      dst[p * C + c] = v > 0.f ? v : 0.f;
    }
}

IMG2IMG_CLONES
void CastRow(const float* __restrict src, int64_t C, uint16_t* __restrict dst) {
  for (int64_t c = 0; c < C; ++c) dst[c] = F32ToBf16(src[c]);
}

// InstanceNorm's biased statistics of one sample's [H*W, C] bfloat16 map, as mean and 1 / sqrt(var + eps).
void Stats(const uint16_t* y, int64_t n, int64_t C, double eps, float* mean, float* invstd) {
  constexpr int64_t kChunk = 16;
  at::parallel_for(0, (C + kChunk - 1) / kChunk, 1, [&](int64_t b0, int64_t b1) {
    double sum[kChunk], sq[kChunk];
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t c0 = b * kChunk, c1 = std::min(C, c0 + kChunk);
      ChannelSums(y, n, C, c0, c1, sum, sq);
      for (int64_t c = c0; c < c1; ++c) {
        const double m = sum[c - c0] / double(n);
        const double var = std::max(0.0, sq[c - c0] / double(n) - m * m);
        mean[c] = float(m);
        invstd[c] = float(1.0 / std::sqrt(var + eps));
      }
    }
  });
}

// Each output pixel of the (H + 2p, W + 2p) reflection-padded map from its source pixel of the [H, W, C] map.
template <typename Row>
void ForPaddedPixels(int64_t H, int64_t W, int64_t p, const Row& row) {
  const int64_t Wp = W + 2 * p;
  at::parallel_for(0, H + 2 * p, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t oy = r0; oy < r1; ++oy)
      for (int64_t ox = 0; ox < Wp; ++ox) row(oy * Wp + ox, Reflect(oy - p, H) * W + Reflect(ox - p, W));
  });
}

torch::Tensor EmptyPaddedBf16(const torch::Tensor& like, int64_t H, int64_t W, int64_t p) {
  return torch::empty({like.size(0), like.size(1), H + 2 * p, W + 2 * p},
                      like.options().dtype(torch::kBFloat16).memory_format(at::MemoryFormat::ChannelsLast));
}

uint16_t* Bits(const torch::Tensor& t) { return reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>()); }

// bf16(reflection_pad2d(x, p)) of a float32 channels-last x.
torch::Tensor PadCast(const torch::Tensor& x, int64_t p) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  torch::Tensor out = EmptyPaddedBf16(x, H, W, p);
  for (int64_t s = 0; s < N; ++s) {
    const float* src = x.data_ptr<float>() + s * H * W * C;
    uint16_t* dst = Bits(out) + s * (H + 2 * p) * (W + 2 * p) * C;
    ForPaddedPixels(H, W, p, [&](int64_t o, int64_t i) { CastRow(src + i * C, C, dst + o * C); });
  }
  return out;
}

// Per-sample InstanceNorm statistics of a bf16 channels-last map [N, C, H, W], as float32 [N, C] mean and invstd.
void SampleStats(const torch::Tensor& y, double eps, torch::Tensor& mean, torch::Tensor& invstd) {
  const int64_t N = y.size(0), C = y.size(1), HW = y.size(2) * y.size(3);
  mean = torch::empty({N, C}, y.options().dtype(torch::kFloat32));
  invstd = torch::empty({N, C}, y.options().dtype(torch::kFloat32));
  for (int64_t s = 0; s < N; ++s)
    Stats(Bits(y) + s * HW * C, HW, C, eps, mean.data_ptr<float>() + s * C, invstd.data_ptr<float>() + s * C);
}

// bf16(reflection_pad2d(relu((y - mean) * invstd), p)) of a bfloat16 channels-last y with its per-sample
// statistics (p = 0: no padding).
torch::Tensor NormReluPadWith(const torch::Tensor& y, const torch::Tensor& mean, const torch::Tensor& invstd, int64_t p) {
  const int64_t N = y.size(0), C = y.size(1), H = y.size(2), W = y.size(3);
  torch::Tensor out = EmptyPaddedBf16(y, H, W, p);
  for (int64_t s = 0; s < N; ++s) {
    const uint16_t* src = Bits(y) + s * H * W * C;
    uint16_t* dst = Bits(out) + s * (H + 2 * p) * (W + 2 * p) * C;
    const float* m = mean.data_ptr<float>() + s * C;
    const float* is = invstd.data_ptr<float>() + s * C;
    ForPaddedPixels(H, W, p, [&](int64_t o, int64_t i) { NormRow(src + i * C, m, is, true, C, dst + o * C); });
  }
  return out;
}

// Float32 channels-last (y - mean) * invstd of a bfloat16 channels-last y with its per-sample statistics: x + that
// when `residual` x is given (a block's output), its relu otherwise (a ResNet block's input).
torch::Tensor NormFloatWith(const torch::Tensor& y, const torch::Tensor& mean, const torch::Tensor& invstd,
                            const torch::Tensor& residual = {}) {
  const int64_t N = y.size(0), C = y.size(1), H = y.size(2), W = y.size(3);
  torch::Tensor out = torch::empty({N, C, H, W}, y.options().dtype(torch::kFloat32).memory_format(at::MemoryFormat::ChannelsLast));
  for (int64_t s = 0; s < N; ++s) {
    const uint16_t* src = Bits(y) + s * H * W * C;
    float* dst = out.data_ptr<float>() + s * H * W * C;
    const float* m = mean.data_ptr<float>() + s * C;
    const float* is = invstd.data_ptr<float>() + s * C;
    at::parallel_for(0, H, 1, [&](int64_t r0, int64_t r1) {
      const int64_t off = r0 * W * C, n = (r1 - r0) * W;
      if (residual.defined())
        ResidualRow(residual.data_ptr<float>() + s * H * W * C + off, src + off, m, is, n, C, dst + off);
      else
        NormRowFloat(src + off, m, is, n, C, dst + off);
    });
  }
  return out;
}

// bf16(reflection_pad2d(relu(instance_norm(y)), p)) of a bfloat16 channels-last y (p = 0: no padding).
torch::Tensor NormReluPad(const torch::Tensor& y, double eps, int64_t p) {
  torch::Tensor mean, invstd;
  SampleStats(y, eps, mean, invstd);
  return NormReluPadWith(y, mean, invstd, p);
}

// Float32 channels-last instance_norm(y) of a bfloat16 channels-last y: x + instance_norm(y) when `residual` x is
// given, relu(instance_norm(y)) otherwise.
torch::Tensor NormFloat(const torch::Tensor& y, double eps, const torch::Tensor& residual = {}) {
  torch::Tensor mean, invstd;
  SampleStats(y, eps, mean, invstd);
  return NormFloatWith(y, mean, invstd, residual);
}

// ReflectionPad2d's padding when all four sides are equal, else -1 (also for other modules).
int64_t ReflectPadOf(nn::Module* m) {
  auto* pad = m->as<nn::ReflectionPad2dImpl>();
  if (!pad) return -1;
  const auto& p = *pad->options.padding();
  return p[0] == p[1] && p[1] == p[2] && p[2] == p[3] ? p[0] : -1;
}

// A float32 CPU FastConv2d with zero (or no) padding, no groups, no dilation: conv2d(x, weight, bias, stride, padding).
FastConv2dImpl* PlainConv(nn::Module* m) {
  auto* conv = m->as<FastConv2dImpl>();
  if (!conv) return nullptr;
  const auto& o = conv->options;
  const auto& d = *o.dilation();
  const bool ok = c10::holds_alternative<torch::enumtype::kZeros>(o.padding_mode()) &&
                  c10::holds_alternative<torch::ExpandingArray<2>>(o.padding()) && o.groups() == 1 && d[0] == 1 &&
                  d[1] == 1 && conv->weight.scalar_type() == torch::kFloat32 && conv->weight.device().is_cpu();
  return ok ? conv : nullptr;
}

bool Unpadded(FastConv2dImpl* conv) {
  const auto& p = *c10::get<torch::ExpandingArray<2>>(conv->options.padding());
  return p[0] == 0 && p[1] == 0;
}

// A stride-1, unpadded 3x3 convolution with as many outputs as inputs (a ResNet block's).
bool IsPlain3x3(nn::Module* m) {
  FastConv2dImpl* conv = PlainConv(m);
  if (!conv || !Unpadded(conv)) return false;
  const auto& o = conv->options;
  const auto& k = *o.kernel_size();
  const auto& st = *o.stride();
  return k[0] == 3 && k[1] == 3 && st[0] == 1 && st[1] == 1 && o.in_channels() == o.out_channels();
}

bool IsPlainInstanceNorm(nn::Module* m) {
  auto* norm = m->as<nn::InstanceNorm2dImpl>();
  return norm && !norm->options.affine() && !norm->options.track_running_stats();
}

// The block's modules in order, Dropout (identity in eval) left out; empty when they are not the expected ones.
std::vector<nn::Module*> Layers(nn::Sequential& seq) {
  std::vector<nn::Module*> out;
  for (const auto& m : *seq) {
    auto* dropout = m.ptr()->as<nn::DropoutImpl>();
    if (dropout) {
      if (dropout->is_training()) return {};
      continue;
    }
    out.push_back(m.ptr().get());
  }
  if (out.size() != 7 || ReflectPadOf(out[0]) != 1 || !IsPlain3x3(out[1]) || !IsPlainInstanceNorm(out[2]) ||
      !out[3]->as<nn::ReLUImpl>() || ReflectPadOf(out[4]) != 1 || !IsPlain3x3(out[5]) || !IsPlainInstanceNorm(out[6]))
    return {};
  return out;
}

// Under CPU autocast conv2d casts the float32 weight and bias to bfloat16 (cached for the autocast region) and
// leaves the bfloat16 input as it is; oneDNN's AMX/AVX-512 kernel reads and writes channels-last directly.
torch::Tensor Conv(const torch::Tensor& in, nn::Module* m) {
  auto* conv = m->as<FastConv2dImpl>();
  return torch::conv2d(in, conv->weight, conv->bias).contiguous(at::MemoryFormat::ChannelsLast);
}

// Whether module m, fed an input of h x w, is a convolution this path runs in bf16 (LowPrecisionPays*, precision.h).
bool Bf16Consumer(nn::Module* m, int64_t h, int64_t w) {
  if (auto* conv = PlainConv(m)) return LowPrecisionPaysConv(torch::kCPU, conv->OutputPixels(h, w));
  return m->as<SubpixelConvTranspose2dImpl>() != nullptr && LowPrecisionPaysDeconv(torch::kCPU, h * w);
}

// ---- Training: one ResNet block as a custom autograd function ----------------------------------------------
//
// What autograd does for the block under CPU bf16 autocast, with the elementwise passes fused and every map kept
// channels-last: forward as the inference path above (saving the bf16 padded conv inputs, the bf16 conv outputs and
// the float32 norm statistics), backward = InstanceNorm backward (float32, from the bf16 conv output), the
// convolution's own backward in bf16 (at::convolution_backward, what ConvolutionBackward0 calls), the reflection
// pad's backward folded into the ReLU mask and the next norm's sums. Same rounding points as the plain path: the conv
// gets bf16 gradients, its weight gradient is widened to float32 as the weight cast's backward does, the rest is
// float32.

// For each source index r of a length-n dimension, the padded positions o with Reflect(o - p, n) == r.
std::vector<std::vector<int64_t>> PadSources(int64_t n, int64_t p) {
  std::vector<std::vector<int64_t>> out(n);
  for (int64_t o = 0; o < n + 2 * p; ++o) out[Reflect(o - p, n)].push_back(o);
  return out;
}

// g's per-channel sum and sum of g * xhat, xhat = (y - mean) * invstd, over one sample's n pixels, channels [c0, c1)
// of C; g is float32.
IMG2IMG_CLONES
void GradSums(const float* __restrict g, const uint16_t* __restrict y, const float* __restrict mean,
              const float* __restrict invstd, int64_t n, int64_t C, int64_t c0, int64_t c1, double* __restrict sg,
              double* __restrict sgx) {
  const int64_t w = c1 - c0;
  for (int64_t c = 0; c < w; ++c) sg[c] = sgx[c] = 0;
  for (int64_t p = 0; p < n; ++p)
    for (int64_t c = 0; c < w; ++c) {
      const float gv = g[p * C + c0 + c];
      const float xh = (Bf16ToF32(y[p * C + c0 + c]) - mean[c0 + c]) * invstd[c0 + c];
      sg[c] += gv;
      sgx[c] += double(gv) * xh;
    }
}

// InstanceNorm's input gradient (no affine): bf16(invstd * (g - mean(g) - xhat * mean(g * xhat))), n pixels.
IMG2IMG_CLONES
void NormGradRows(const float* __restrict g, const uint16_t* __restrict y, const float* __restrict mean,
                  const float* __restrict invstd, const float* __restrict mg, const float* __restrict mgx, int64_t n,
                  int64_t C, uint16_t* __restrict dst) {
  for (int64_t p = 0; p < n; ++p)
    for (int64_t c = 0; c < C; ++c) {
      const float xh = (Bf16ToF32(y[p * C + c]) - mean[c]) * invstd[c];
      dst[p * C + c] = F32ToBf16(invstd[c] * (g[p * C + c] - mg[c] - xh * mgx[c]));
    }
}

// dst[c] += bf16 src[c], C channels.
IMG2IMG_CLONES
void AddBf16Row(const uint16_t* __restrict src, int64_t C, float* __restrict dst) {
  for (int64_t c = 0; c < C; ++c) dst[c] += Bf16ToF32(src[c]);
}

// Zeroes dst where the ReLU after the norm of y was closed: relu(xhat)'s backward (threshold_backward at 0).
IMG2IMG_CLONES
void ReluMaskRow(const uint16_t* __restrict y, const float* __restrict mean, const float* __restrict invstd, int64_t C,
                 float* __restrict dst) {
  for (int64_t c = 0; c < C; ++c)
    if ((Bf16ToF32(y[c]) - mean[c]) * invstd[c] <= 0.f) dst[c] = 0.f;
}

// The reflection pad's backward for a bf16 channels-last padded gradient dP [N, C, H+2p, W+2p]: float32
// channels-last [N, C, H, W], each source pixel summing its padded copies, plus `base` when given (the residual's
// gradient). With `y`, the ReLU mask of relu(instance_norm(y)) is applied as well.
torch::Tensor UnpadGrad(const torch::Tensor& dP, int64_t p, const torch::Tensor& base, const torch::Tensor& y = {},
                        const torch::Tensor& mean = {}, const torch::Tensor& invstd = {}) {
  const int64_t N = dP.size(0), C = dP.size(1), H = dP.size(2) - 2 * p, W = dP.size(3) - 2 * p, Wp = W + 2 * p;
  torch::Tensor out = base.defined() ? base.clone(at::MemoryFormat::ChannelsLast)
                                     : torch::zeros({N, C, H, W}, dP.options().dtype(torch::kFloat32).memory_format(at::MemoryFormat::ChannelsLast));
  const auto rows = PadSources(H, p), cols = PadSources(W, p);
  for (int64_t s = 0; s < N; ++s) {
    const uint16_t* src = Bits(dP) + s * (H + 2 * p) * Wp * C;
    float* dst = out.data_ptr<float>() + s * H * W * C;
    at::parallel_for(0, H, 1, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t q = 0; q < W; ++q) {
          float* d = dst + (r * W + q) * C;
          for (int64_t oy : rows[r])
            for (int64_t ox : cols[q]) AddBf16Row(src + (oy * Wp + ox) * C, C, d);
          if (y.defined())
            ReluMaskRow(Bits(y) + (s * H * W + r * W + q) * C, mean.data_ptr<float>() + s * C, invstd.data_ptr<float>() + s * C, C, d);
        }
    });
  }
  return out;
}

// InstanceNorm's backward (no affine) for float32 channels-last g and the bf16 channels-last map y it normalised:
// the bf16 channels-last gradient of y.
torch::Tensor NormBackward(const torch::Tensor& g, const torch::Tensor& y, const torch::Tensor& mean, const torch::Tensor& invstd) {
  const int64_t N = y.size(0), C = y.size(1), HW = y.size(2) * y.size(3);
  torch::Tensor out = torch::empty(y.sizes(), y.options().memory_format(at::MemoryFormat::ChannelsLast));
  std::vector<float> mg(C), mgx(C);
  constexpr int64_t kChunk = 16;
  for (int64_t s = 0; s < N; ++s) {
    const float* gs = g.data_ptr<float>() + s * HW * C;
    const uint16_t* ys = Bits(y) + s * HW * C;
    const float* m = mean.data_ptr<float>() + s * C;
    const float* is = invstd.data_ptr<float>() + s * C;
    at::parallel_for(0, (C + kChunk - 1) / kChunk, 1, [&](int64_t b0, int64_t b1) {
      double sg[kChunk], sgx[kChunk];
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t c0 = b * kChunk, c1 = std::min(C, c0 + kChunk);
        GradSums(gs, ys, m, is, HW, C, c0, c1, sg, sgx);
        for (int64_t c = c0; c < c1; ++c) {
          mg[c] = float(sg[c - c0] / double(HW));
          mgx[c] = float(sgx[c - c0] / double(HW));
        }
      }
    });
    at::parallel_for(0, HW, 256, [&](int64_t p0, int64_t p1) {
      NormGradRows(gs + p0 * C, ys + p0 * C, m, is, mg.data(), mgx.data(), p1 - p0, C, Bits(out) + (s * HW + p0) * C);
    });
  }
  return out;
}

torch::Tensor Bf16Bias(const torch::Tensor& b) { return b.defined() ? b.to(torch::kBFloat16) : b; }

struct Bf16BlockFunction : public torch::autograd::Function<Bf16BlockFunction> {
  // [sync] x + conv_block(x); the weights are float32 (the master weights), cast to bf16 here as autocast would.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w1,
                               const torch::Tensor& b1, const torch::Tensor& w2, const torch::Tensor& b2, double eps1,
                               double eps2) {
    const torch::Tensor xc = x.contiguous(at::MemoryFormat::ChannelsLast);
    const torch::Tensor w1h = w1.to(torch::kBFloat16), w2h = w2.to(torch::kBFloat16);
    const torch::Tensor p1 = PadCast(xc, 1);
    const torch::Tensor y1 = torch::conv2d(p1, w1h, Bf16Bias(b1)).contiguous(at::MemoryFormat::ChannelsLast);
    torch::Tensor m1, i1, m2, i2;
    SampleStats(y1, eps1, m1, i1);
    const torch::Tensor p2 = NormReluPadWith(y1, m1, i1, 1);
    const torch::Tensor y2 = torch::conv2d(p2, w2h, Bf16Bias(b2)).contiguous(at::MemoryFormat::ChannelsLast);
    SampleStats(y2, eps2, m2, i2);
    ctx->save_for_backward({p1, y1, m1, i1, p2, y2, m2, i2, w1h, w2h});
    ctx->saved_data["bias1"] = b1.defined();
    ctx->saved_data["bias2"] = b2.defined();
    return NormFloatWith(y2, m2, i2, xc);
  }

  // [sync] Gradients of x, w1, b1, w2, b2 (float32; undefined for an absent bias).
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list grads) {
    // The passes below are not differentiable: refuse a create_graph backward instead of a silently wrong one.
    TORCH_CHECK(!torch::GradMode::is_enabled(),
                "A second derivative (create_graph) through a ResNet block is not supported by the fused bf16 training "
                "path: use fp32 for it, or turn the fused path off (IMG2IMG_BF16_BLOCK=0)");
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &p1 = saved[0], &y1 = saved[1], &m1 = saved[2], &i1 = saved[3], &p2 = saved[4], &y2 = saved[5],
                        &m2 = saved[6], &i2 = saved[7], &w1h = saved[8], &w2h = saved[9];
    const bool bias1 = ctx->saved_data["bias1"].toBool(), bias2 = ctx->saved_data["bias2"].toBool();
    const torch::Tensor g = grads[0].to(torch::kFloat32).contiguous(at::MemoryFormat::ChannelsLast);
    const int64_t C = y1.size(1);
    const std::vector<int64_t> one{1, 1}, zero{0, 0}, biasSize{C};
    auto convBackward = [&](const torch::Tensor& dy, const torch::Tensor& in, const torch::Tensor& w, bool bias) {
      return at::convolution_backward(dy, in, w, bias ? c10::optional<at::IntArrayRef>(biasSize) : c10::nullopt, one, zero,
                                      one, false, zero, 1, {true, true, bias});
    };
    const auto [dp2, dw2, db2] = convBackward(NormBackward(g, y2, m2, i2), p2, w2h, bias2);
    const torch::Tensor dr = UnpadGrad(dp2, 1, {}, y1, m1, i1);  // through the pad and the ReLU
    const auto [dp1, dw1, db1] = convBackward(NormBackward(dr, y1, m1, i1), p1, w1h, bias1);
    const torch::Tensor dx = UnpadGrad(dp1, 1, g);
    auto widen = [](const torch::Tensor& t, bool on) { return on ? t.to(torch::kFloat32) : torch::Tensor(); };
    return {dx, dw1.to(torch::kFloat32), widen(db1, bias1), dw2.to(torch::kFloat32), widen(db2, bias2), torch::Tensor(),
            torch::Tensor()};
  }
};

// A float32 4-D CPU x under CPU bfloat16 autocast with the fused path on (inference and training alike).
bool Bf16Input(const torch::Tensor& x) {
  return gOn && CpuAutocastActive() && x.device().is_cpu() && x.dim() == 4 && x.scalar_type() == torch::kFloat32;
}

// conv_block is the block Layers() expects, for x's channels, and x has at least 2x2 pixels.
bool BlockFits(const torch::Tensor& x, nn::Sequential& convBlock) {
  return x.size(2) >= 2 && x.size(3) >= 2 && !Layers(convBlock).empty() &&
         convBlock[1]->as<FastConv2dImpl>()->options.in_channels() == x.size(1);
}

}  // namespace

bool Bf16GeneratorApplies(const torch::Tensor& x) { return !torch::GradMode::is_enabled() && Bf16Input(x); }

torch::Tensor Bf16GeneratorForward(nn::Sequential seq, const torch::Tensor& x) {
  std::vector<nn::Module*> m;
  std::vector<nn::AnyModule*> any;
  for (auto& item : *seq) {
    m.push_back(item.ptr().get());
    any.push_back(&item);
  }
  const size_t n = m.size();
  auto normReluAt = [&](size_t k) { return k + 1 < n && IsPlainInstanceNorm(m[k]) && m[k + 1]->as<nn::ReLUImpl>() != nullptr; };
  torch::Tensor h = x;
  bool ready = false;  // h is m[i]'s bf16 channels-last input, already reflection-padded when m[i-1] was a pad
  size_t i = 0;
  while (i < n) {
    const int64_t pad = ReflectPadOf(m[i]);
    FastConv2dImpl* next = i + 1 < n ? PlainConv(m[i + 1]) : nullptr;
    if (!ready && pad > 0 && next && Unpadded(next) && pad < h.size(2) && pad < h.size(3) &&
        Bf16Consumer(m[i + 1], h.size(2) + 2 * pad, h.size(3) + 2 * pad)) {
      h = PadCast(h.contiguous(at::MemoryFormat::ChannelsLast), pad);
      ready = true;
      ++i;
      continue;
    }
    if (ready || Bf16Consumer(m[i], h.size(2), h.size(3))) {
      torch::Tensor y;
      if (FastConv2dImpl* conv = PlainConv(m[i])) {
        y = torch::conv2d(h, conv->weight, conv->bias, *conv->options.stride(),
                          *c10::get<torch::ExpandingArray<2>>(conv->options.padding()));
      } else {
        y = m[i]->as<SubpixelConvTranspose2dImpl>()->ForwardPath(h);  // bf16 under autocast, not yet widened
      }
      ready = false;
      if (!normReluAt(i + 1)) {
        h = y.to(torch::kFloat32);
        ++i;
        continue;
      }
      y = y.contiguous(at::MemoryFormat::ChannelsLast);
      const double eps = m[i + 1]->as<nn::InstanceNorm2dImpl>()->options.eps();
      const size_t k = i + 3;  // after the ReLU
      const int64_t q = k < n ? ReflectPadOf(m[k]) : -1;
      FastConv2dImpl* after = k + 1 < n ? PlainConv(m[k + 1]) : nullptr;
      if (q > 0 && after && Unpadded(after) && q < y.size(2) && q < y.size(3) &&
          Bf16Consumer(m[k + 1], y.size(2) + 2 * q, y.size(3) + 2 * q)) {
        h = NormReluPad(y, eps, q);  // the pad is done: go straight to the conv after it
        ready = true;
        i = k + 1;
      } else if (k < n && Bf16Consumer(m[k], y.size(2), y.size(3))) {
        h = NormReluPad(y, eps, 0);
        ready = true;
        i = k;
      } else {
        h = NormFloat(y, eps);
        i = k;
      }
      continue;
    }
    auto* block = m[i]->as<ResnetBlockImpl>();
    h = block ? block->forward(h) : any[i]->forward(h);  // the block takes the fused path when it applies
    ++i;
  }
  return h.contiguous();
}

void SetBf16Block(bool on) { gOn = on; }
bool Bf16BlockEnabled() { return gOn; }

bool Bf16BlockApplies(const torch::Tensor& x, nn::Sequential& convBlock) {
  return Bf16GeneratorApplies(x) && BlockFits(x, convBlock);
}

torch::Tensor Bf16ResnetBlock(const torch::Tensor& x, nn::Sequential& convBlock) {
  const std::vector<nn::Module*> layers = Layers(convBlock);
  const double eps1 = layers[2]->as<nn::InstanceNorm2dImpl>()->options.eps();
  const double eps2 = layers[6]->as<nn::InstanceNorm2dImpl>()->options.eps();
  const torch::Tensor xc = x.contiguous(at::MemoryFormat::ChannelsLast);
  const torch::Tensor y1 = Conv(PadCast(xc, 1), layers[1]);
  const torch::Tensor y2 = Conv(NormReluPad(y1, eps1, 1), layers[5]);
  return NormFloat(y2, eps2, xc);
}

bool Bf16BlockTrainApplies(const torch::Tensor& x, nn::Sequential& convBlock) {
  return torch::GradMode::is_enabled() && Bf16Input(x) && LowPrecisionPaysConv(torch::kCPU, x.size(2) * x.size(3)) &&
         BlockFits(x, convBlock);
}

torch::Tensor Bf16ResnetBlockTrain(const torch::Tensor& x, nn::Sequential& convBlock) {
  const std::vector<nn::Module*> layers = Layers(convBlock);
  auto* c1 = layers[1]->as<FastConv2dImpl>();
  auto* c2 = layers[5]->as<FastConv2dImpl>();
  return Bf16BlockFunction::apply(x, c1->weight, c1->bias, c2->weight, c2->bias,
                                  layers[2]->as<nn::InstanceNorm2dImpl>()->options.eps(),
                                  layers[6]->as<nn::InstanceNorm2dImpl>()->options.eps());
}

}  // namespace img2img
