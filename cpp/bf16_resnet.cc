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

// bf16(reflection_pad2d(relu(instance_norm(y)), p)) of a bfloat16 channels-last y (p = 0: no padding).
torch::Tensor NormReluPad(const torch::Tensor& y, double eps, int64_t p) {
  const int64_t N = y.size(0), C = y.size(1), H = y.size(2), W = y.size(3);
  torch::Tensor out = EmptyPaddedBf16(y, H, W, p);
  std::vector<float> mean(C), invstd(C);
  for (int64_t s = 0; s < N; ++s) {
    const uint16_t* src = Bits(y) + s * H * W * C;
    uint16_t* dst = Bits(out) + s * (H + 2 * p) * (W + 2 * p) * C;
    Stats(src, H * W, C, eps, mean.data(), invstd.data());
    ForPaddedPixels(H, W, p, [&](int64_t o, int64_t i) { NormRow(src + i * C, mean.data(), invstd.data(), true, C, dst + o * C); });
  }
  return out;
}

// Float32 channels-last instance_norm(y) of a bfloat16 channels-last y: x + instance_norm(y) when `residual` x is
// given (a block's output), relu(instance_norm(y)) otherwise (a ResNet block's input).
torch::Tensor NormFloat(const torch::Tensor& y, double eps, const torch::Tensor& residual = {}) {
  const int64_t N = y.size(0), C = y.size(1), H = y.size(2), W = y.size(3);
  torch::Tensor out = torch::empty({N, C, H, W}, y.options().dtype(torch::kFloat32).memory_format(at::MemoryFormat::ChannelsLast));
  std::vector<float> mean(C), invstd(C);
  for (int64_t s = 0; s < N; ++s) {
    const uint16_t* src = Bits(y) + s * H * W * C;
    float* dst = out.data_ptr<float>() + s * H * W * C;
    Stats(src, H * W, C, eps, mean.data(), invstd.data());
    at::parallel_for(0, H, 1, [&](int64_t r0, int64_t r1) {
      const int64_t off = r0 * W * C, n = (r1 - r0) * W;
      if (residual.defined())
        ResidualRow(residual.data_ptr<float>() + s * H * W * C + off, src + off, mean.data(), invstd.data(), n, C, dst + off);
      else
        NormRowFloat(src + off, mean.data(), invstd.data(), n, C, dst + off);
    });
  }
  return out;
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

}  // namespace

bool Bf16GeneratorApplies(const torch::Tensor& x) {
  return gOn && !torch::GradMode::is_enabled() && CpuAutocastActive() && x.device().is_cpu() && x.dim() == 4 &&
         x.scalar_type() == torch::kFloat32;
}

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
  return Bf16GeneratorApplies(x) && x.size(2) >= 2 && x.size(3) >= 2 && !Layers(convBlock).empty() &&
         convBlock[1]->as<FastConv2dImpl>()->options.in_channels() == x.size(1);
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

}  // namespace img2img
