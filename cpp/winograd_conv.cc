#include "winograd_conv.h"

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <tuple>
#include <vector>

namespace img2img {

namespace {

// Measured here (2 threads, interleaved with oneDNN's prepacked direct kernel): 256 channels at 64x64 and 32x32
// 1.45-1.55x faster; 128 channels at 32x32 and 16x16 slower (small products, BLAS and threading overhead dominate).
constexpr int64_t kWinogradMinChannels = 256;
constexpr int64_t kWinogradMinSide = 32;
// Two variants share the 6x6 input tile and its transform B^T: F(4x4, 3x3) and, by the transposition principle
// (swap the roles of the output and filter transforms: A' = G, G' = A), F(3x3, 4x4) for the discriminators' 4x4
// stride-1 convolutions. The tile side m is 7 - r for a kernel of side r.
constexpr int64_t kWinoIn = 6;      // input tile side (m + r - 1)
constexpr int64_t kWinoElems = 36;  // kWinoIn * kWinoIn transformed elements per tile
constexpr int64_t kMaxTaps = 16;    // r * r, r <= 4

std::atomic<bool> gWinograd{true};
std::atomic<bool> gWinogradTrain{true};

// out[a][j] = sum_r B^T[a][r] in[r * tapStride + j * step], j < n: the 1-D input transform of F(4, 3) for n
// lanes at once (rows of a tile in the first pass, columns in the second). B^T for the points 0, +-1, +-2.
__attribute__((target_clones("avx2", "default")))
void InputTransform1d(const float* __restrict in, int64_t tapStride, int64_t step, float* const* out, int64_t outStride,
                      int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    const float* p = in + j * step;
    const float d0 = p[0], d1 = p[tapStride], d2 = p[2 * tapStride], d3 = p[3 * tapStride], d4 = p[4 * tapStride],
                d5 = p[5 * tapStride];
    out[0][j * outStride] = 4.f * d0 - 5.f * d2 + d4;
    out[1][j * outStride] = -4.f * (d1 + d2) + d3 + d4;
    out[2][j * outStride] = 4.f * (d1 - d2) - d3 + d4;
    out[3][j * outStride] = 2.f * (d3 - d1) - d2 + d4;
    out[4][j * outStride] = 2.f * (d1 - d3) - d2 + d4;
    out[5][j * outStride] = 4.f * d1 - 5.f * d3 + d5;
  }
}

// out[r][j] = sum_a B^T[a][r] in[a][j], j < n: the adjoint (transpose) of InputTransform1d, for the input gradient.
__attribute__((target_clones("avx2", "default")))
void InputTransformAdjoint1d(const float* const* in, float* __restrict out, int64_t outStride, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    const float v0 = in[0][j], v1 = in[1][j], v2 = in[2][j], v3 = in[3][j], v4 = in[4][j], v5 = in[5][j];
    out[j] = 4.f * v0;
    out[outStride + j] = 4.f * (v2 - v1 + v5) + 2.f * (v4 - v3);
    out[2 * outStride + j] = -5.f * v0 - 4.f * (v1 + v2) - v3 - v4;
    out[3 * outStride + j] = v1 - v2 + 2.f * (v3 - v4) - 5.f * v5;
    out[4 * outStride + j] = v0 + v1 + v2 + v3 + v4;
    out[5 * outStride + j] = v5;
  }
}

// out[r][j] = sum_a A^T[r][a] in[a * tapStride + j], j < n: the 1-D output transform of F(4, 3).
__attribute__((target_clones("avx2", "default")))
void OutputTransform1d(const float* __restrict in, int64_t tapStride, float* __restrict out, int64_t outStride, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    const float* p = in + j;
    const float m0 = p[0], m1 = p[tapStride], m2 = p[2 * tapStride], m3 = p[3 * tapStride], m4 = p[4 * tapStride],
                m5 = p[5 * tapStride];
    out[j] = m0 + m1 + m2 + m3 + m4;
    out[outStride + j] = m1 - m2 + 2.f * (m3 - m4);
    out[2 * outStride + j] = m1 + m2 + 4.f * (m3 + m4);
    out[3 * outStride + j] = m1 - m2 + 8.f * (m3 - m4) + m5;
  }
}

// out[a][j] = sum_r A^T[r][a] in[r * tapStride + j], j < n: the adjoint of OutputTransform1d, for the output gradient.
__attribute__((target_clones("avx2", "default")))
void OutputTransformAdjoint1d(const float* __restrict in, int64_t tapStride, float* const* out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    const float* p = in + j;
    const float g0 = p[0], g1 = p[tapStride], g2 = p[2 * tapStride], g3 = p[3 * tapStride];
    out[0][j] = g0;
    out[1][j] = g0 + g1 + g2 + g3;
    out[2][j] = g0 - g1 + g2 - g3;
    out[3][j] = g0 + 2.f * g1 + 4.f * g2 + 8.f * g3;
    out[4][j] = g0 - 2.f * g1 + 4.f * g2 - 8.f * g3;
    out[5][j] = g3;
  }
}

// out[k][j] = sum_a G[a][k] in[a * tapStride + j], j < n: the 1-D output transform of F(3, 4) (G^T of F(4, 3)).
__attribute__((target_clones("avx2", "default")))
void OutputTransform1dF34(const float* __restrict in, int64_t tapStride, float* __restrict out, int64_t outStride,
                          int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    const float* p = in + j;
    const float m0 = p[0], m1 = p[tapStride], m2 = p[2 * tapStride], m3 = p[3 * tapStride], m4 = p[4 * tapStride],
                m5 = p[5 * tapStride];
    out[j] = m0 * (1.f / 4) - (m1 + m2) * (1.f / 6) + (m3 + m4) * (1.f / 24);
    out[outStride + j] = (m2 - m1) * (1.f / 6) + (m3 - m4) * (1.f / 12);
    out[2 * outStride + j] = (m3 + m4 - m1 - m2) * (1.f / 6) + m5;
  }
}

// out[a][j] = sum_k G[a][k] in[k * tapStride + j], j < n: the adjoint of OutputTransform1dF34.
__attribute__((target_clones("avx2", "default")))
void OutputTransformAdjoint1dF34(const float* __restrict in, int64_t tapStride, float* const* out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    const float* p = in + j;
    const float g0 = p[0], g1 = p[tapStride], g2 = p[2 * tapStride];
    out[0][j] = g0 * (1.f / 4);
    out[1][j] = -(g0 + g1 + g2) * (1.f / 6);
    out[2][j] = (g1 - g0 - g2) * (1.f / 6);
    out[3][j] = g0 * (1.f / 24) + g1 * (1.f / 12) + g2 * (1.f / 6);
    out[4][j] = g0 * (1.f / 24) - g1 * (1.f / 12) + g2 * (1.f / 6);
    out[5][j] = g2;
  }
}

// The weight transforms' matrices, 6 x r (zero-padded to 4 columns): G of F(4, 3) for the points 0, +-1, +-2 and
// infinity, and A of F(4, 3) (A^T's transpose) as the weight transform of F(3, 4).
constexpr float kWeightMatrix3[kWinoIn][4] = {{1.f / 4, 0.f, 0.f, 0.f},          {-1.f / 6, -1.f / 6, -1.f / 6, 0.f},
                                              {-1.f / 6, 1.f / 6, -1.f / 6, 0.f}, {1.f / 24, 1.f / 12, 1.f / 6, 0.f},
                                              {1.f / 24, -1.f / 12, 1.f / 6, 0.f}, {0.f, 0.f, 1.f, 0.f}};
constexpr float kWeightMatrix4[kWinoIn][4] = {{1.f, 0.f, 0.f, 0.f}, {1.f, 1.f, 1.f, 1.f},   {1.f, -1.f, 1.f, -1.f},
                                              {1.f, 2.f, 4.f, 8.f}, {1.f, -2.f, 4.f, -8.f}, {0.f, 0.f, 0.f, 1.f}};
constexpr int64_t kWeightLanes = 256;  // (out, in) pairs transformed together: a few L1-sized rows

template <int64_t R>
constexpr const float (&WeightMatrix())[kWinoIn][4] {
  if constexpr (R == 3) return kWeightMatrix3; else return kWeightMatrix4;
}

// u[a * 6 + b][j] = (W w_j W^T)[a][b] for n <= kWeightLanes pairs, w[t][j] their R x R taps lane-major, W the
// 6 x R weight matrix of the variant. Inlined into one target_clones wrapper per variant (the sums over the taps
// unrolled, each lane's value kept in a register).
template <int64_t R>
__attribute__((always_inline)) inline void WeightTransformLanesT(const float* __restrict w, float* const* u, int64_t n) {
  constexpr const auto& mat = WeightMatrix<R>();
  float t1[kWinoIn][R][kWeightLanes];  // W w
  for (int64_t a = 0; a < kWinoIn; ++a)
    for (int64_t s = 0; s < R; ++s)
      for (int64_t j = 0; j < n; ++j) {
        float acc = 0.f;
        for (int64_t q = 0; q < R; ++q) acc += mat[a][q] * w[(q * R + s) * kWeightLanes + j];
        t1[a][s][j] = acc;
      }
  for (int64_t a = 0; a < kWinoIn; ++a)
    for (int64_t b = 0; b < kWinoIn; ++b) {
      float* out = u[a * kWinoIn + b];
      for (int64_t j = 0; j < n; ++j) {
        float acc = 0.f;
        for (int64_t s = 0; s < R; ++s) acc += t1[a][s][j] * mat[b][s];
        out[j] = acc;
      }
    }
}

// dw[q * R + s][j] = (W^T dU_j W)[q][s]: the adjoint of WeightTransformLanesT.
template <int64_t R>
__attribute__((always_inline)) inline void WeightTransformAdjointLanesT(const float* const* du, float* __restrict dw, int64_t n) {
  constexpr const auto& mat = WeightMatrix<R>();
  float t2[kWinoIn][R][kWeightLanes];  // dU W
  for (int64_t a = 0; a < kWinoIn; ++a)
    for (int64_t s = 0; s < R; ++s)
      for (int64_t j = 0; j < n; ++j) {
        float acc = 0.f;
        for (int64_t b = 0; b < kWinoIn; ++b) acc += du[a * kWinoIn + b][j] * mat[b][s];
        t2[a][s][j] = acc;
      }
  for (int64_t q = 0; q < R; ++q)
    for (int64_t s = 0; s < R; ++s)
      for (int64_t j = 0; j < n; ++j) {
        float acc = 0.f;
        for (int64_t a = 0; a < kWinoIn; ++a) acc += mat[a][q] * t2[a][s][j];
        dw[(q * R + s) * kWeightLanes + j] = acc;
      }
}

__attribute__((target_clones("avx2", "default")))
void WeightTransformLanes3(const float* __restrict w, float* const* u, int64_t n) { WeightTransformLanesT<3>(w, u, n); }
__attribute__((target_clones("avx2", "default")))
void WeightTransformLanes4(const float* __restrict w, float* const* u, int64_t n) { WeightTransformLanesT<4>(w, u, n); }
__attribute__((target_clones("avx2", "default")))
void WeightTransformAdjointLanes3(const float* const* du, float* __restrict dw, int64_t n) {
  WeightTransformAdjointLanesT<3>(du, dw, n);
}
__attribute__((target_clones("avx2", "default")))
void WeightTransformAdjointLanes4(const float* const* du, float* __restrict dw, int64_t n) {
  WeightTransformAdjointLanesT<4>(du, dw, n);
}

// The per-variant 1-D kernels, picked once by kernel side r (3: F(4x4, 3x3), 4: F(3x3, 4x4)).
struct Variant {
  void (*outputTransform)(const float*, int64_t, float*, int64_t, int64_t);
  void (*outputAdjoint)(const float*, int64_t, float* const*, int64_t);
  void (*weightTransform)(const float*, float* const*, int64_t);
  void (*weightAdjoint)(const float* const*, float*, int64_t);
};
const Variant& VariantFor(int64_t r) {
  static const Variant f43{OutputTransform1d, OutputTransformAdjoint1d, WeightTransformLanes3, WeightTransformAdjointLanes3};
  static const Variant f34{OutputTransform1dF34, OutputTransformAdjoint1dF34, WeightTransformLanes4,
                           WeightTransformAdjointLanes4};
  return r == 3 ? f43 : f34;
}

// fn(p0, n, lanes) for the (out, in) pairs [p0, p0 + n) in chunks of kWeightLanes, over the intra-op threads;
// `lanes` is a kMaxTaps x kWeightLanes buffer of the thread's own.
template <typename Fn>
void ForEachPairChunk(int64_t pairs, const Fn& fn) {
  at::parallel_for(0, (pairs + kWeightLanes - 1) / kWeightLanes, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> lanes(kMaxTaps * kWeightLanes);
    for (int64_t chunk = begin; chunk < end; ++chunk) {
      const int64_t p0 = chunk * kWeightLanes;
      fn(p0, std::min(kWeightLanes, pairs - p0), lanes.data());
    }
  });
}

// U = W w W^T for every (out, in) pair, as [36, out, in], written into `reuse` when it has that shape.
torch::Tensor TransformWeight(const torch::Tensor& weight, torch::Tensor reuse = {}) {
  const int64_t pairs = weight.size(0) * weight.size(1), r = weight.size(2), taps = r * r;
  const auto lanesFn = VariantFor(r).weightTransform;
  const torch::Tensor wc = weight.contiguous();
  const std::vector<int64_t> shape{kWinoElems, weight.size(0), weight.size(1)};
  torch::Tensor u = reuse.defined() && reuse.sizes() == shape ? reuse : torch::empty(shape, weight.options());
  const float* src = wc.data_ptr<float>();
  float* dst = u.data_ptr<float>();
  ForEachPairChunk(pairs, [&](int64_t p0, int64_t n, float* lanes) {
    for (int64_t j = 0; j < n; ++j)
      for (int64_t t = 0; t < taps; ++t) lanes[t * kWeightLanes + j] = src[(p0 + j) * taps + t];
    float* out[kWinoElems];
    for (int64_t e = 0; e < kWinoElems; ++e) out[e] = dst + e * pairs + p0;
    lanesFn(lanes, out, n);
  });
  return u;
}

// The weight's gradient from U's [36, out, in]: dw = W^T dU W per pair, the adjoint of TransformWeight.
torch::Tensor TransformWeightAdjoint(const torch::Tensor& du, const torch::Tensor& weight) {
  const int64_t pairs = weight.size(0) * weight.size(1), r = weight.size(2), taps = r * r;
  const auto lanesFn = VariantFor(r).weightAdjoint;
  const torch::Tensor duc = du.contiguous();
  torch::Tensor dw = torch::empty_like(weight, at::MemoryFormat::Contiguous);
  const float* src = duc.data_ptr<float>();
  float* dst = dw.data_ptr<float>();
  ForEachPairChunk(pairs, [&](int64_t p0, int64_t n, float* lanes) {
    const float* in[kWinoElems];
    for (int64_t e = 0; e < kWinoElems; ++e) in[e] = src + e * pairs + p0;
    lanesFn(in, lanes, n);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t t = 0; t < taps; ++t) dst[(p0 + j) * taps + t] = lanes[t * kWeightLanes + j];
  });
  return dw;
}

// Where the tiles of one convolution lie: the output, the tile grid over it, the padded input it reads, and the
// variant (kernel side r, output tile side m = 7 - r).
struct TileGrid {
  int64_t n, c, k, h, w, ph, pw, r, m, ho, wo, th, tw, tiles, wp;
  bool reflect;
  TileGrid(const torch::Tensor& x, const torch::Tensor& weight, torch::IntArrayRef padding, bool reflectPad)
      : n(x.size(0)), c(x.size(1)), k(weight.size(0)), h(x.size(2)), w(x.size(3)), ph(padding[0]), pw(padding[1]),
        r(weight.size(2)), m(kWinoIn + 1 - weight.size(2)), reflect(reflectPad) {
    TORCH_CHECK((r == 3 || r == 4) && weight.size(3) == r, "Winograd convolution: a 3x3 or 4x4 kernel");
    ho = h + 2 * ph - (r - 1);
    wo = w + 2 * pw - (r - 1);
    TORCH_CHECK(ho > 0 && wo > 0, "Winograd convolution: input smaller than the kernel");
    TORCH_CHECK(!reflect || (ph < h && pw < w), "Winograd convolution: reflection padding must be smaller than the input");
    th = (ho + m - 1) / m;
    tw = (wo + m - 1) / m;
    tiles = n * th * tw;
    wp = tw * m + r - 1;  // the padded row, tile overhang included
  }
  // Padded coordinate -> input coordinate, or -1 for a zero (zero padding, or the last tile's overhang).
  int64_t Source(int64_t padded, int64_t pad, int64_t size) const {
    const int64_t s = padded - pad;
    if (s < -pad || s >= size + pad) return -1;
    if (s >= 0 && s < size) return s;
    if (!reflect) return -1;
    return s < 0 ? -s : 2 * (size - 1) - s;
  }
  // Source() of every padded column (wp of them) / of the first `count` padded rows.
  std::vector<int64_t> ColumnSources() const { return Sources(wp, pw, w); }
  std::vector<int64_t> RowSources(int64_t count) const { return Sources(count, ph, h); }

 private:
  std::vector<int64_t> Sources(int64_t count, int64_t pad, int64_t size) const {
    std::vector<int64_t> out(count);
    for (int64_t i = 0; i < count; ++i) out[i] = Source(i, pad, size);
    return out;
  }
};

// V[e, ci, tile] = (B^T d B)[e] for each input tile d of channel ci. Each tile row reads 6 rows of the input padded
// to whole tiles (the padding, then zeros for the last tile's overhang), built on the fly in a small buffer instead
// of a padded copy of the whole input.
torch::Tensor InputTiles(const torch::Tensor& x, const TileGrid& g) {
  const torch::Tensor xc = x.contiguous();
  torch::Tensor v = torch::empty({kWinoElems, g.c, g.tiles}, x.options());
  const float* src = xc.data_ptr<float>();
  float* dst = v.data_ptr<float>();
  const int64_t c = g.c, h = g.h, w = g.w, pw = g.pw, wp = g.wp, th = g.th, tw = g.tw, tiles = g.tiles, m = g.m;
  const std::vector<int64_t> colSource = g.ColumnSources();
  at::parallel_for(0, g.n * c, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> padded(kWinoIn * wp);  // the 6 padded input rows of one tile row
    std::vector<float> rows(kWinoIn * wp);    // B^T applied down those rows, every column
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t b = plane / c, ci = plane % c;
      const float* in = src + plane * h * w;
      for (int64_t i = 0; i < th; ++i) {
        for (int64_t r = 0; r < kWinoIn; ++r) {
          float* row = padded.data() + r * wp;
          const int64_t sr = g.Source(i * m + r, g.ph, h);
          if (sr < 0) {
            std::fill(row, row + wp, 0.f);
            continue;
          }
          const float* srcRow = in + sr * w;
          for (int64_t xw = 0; xw < pw; ++xw) row[xw] = colSource[xw] < 0 ? 0.f : srcRow[colSource[xw]];
          std::memcpy(row + pw, srcRow, w * sizeof(float));
          for (int64_t xw = pw + w; xw < wp; ++xw) row[xw] = colSource[xw] < 0 ? 0.f : srcRow[colSource[xw]];
        }
        float* rowOut[kWinoIn];
        for (int64_t a = 0; a < kWinoIn; ++a) rowOut[a] = rows.data() + a * wp;
        InputTransform1d(padded.data(), wp, 1, rowOut, 1, wp);
        const int64_t t0 = (b * th + i) * tw;
        for (int64_t a = 0; a < kWinoIn; ++a) {
          float* colOut[kWinoIn];
          for (int64_t e = 0; e < kWinoIn; ++e) colOut[e] = dst + ((a * kWinoIn + e) * c + ci) * tiles + t0;
          InputTransform1d(rows.data() + a * wp, 1, m, colOut, 1, tw);
        }
      }
    }
  });
  return v;
}

// The adjoint of InputTiles: the input's gradient from V's, [36, c, tiles] -> [n, c, h, w]. Overlapping tiles add
// up; gradients that reached the padding are folded back onto the input pixels they were copied from (reflection)
// or dropped (zeros, overhang).
torch::Tensor InputTilesAdjoint(const torch::Tensor& dv, const TileGrid& g) {
  torch::Tensor dx = torch::zeros({g.n, g.c, g.h, g.w}, dv.options());
  const float* src = dv.data_ptr<float>();
  float* dst = dx.data_ptr<float>();
  const int64_t c = g.c, h = g.h, w = g.w, wp = g.wp, th = g.th, tw = g.tw, tiles = g.tiles, m = g.m;
  const int64_t hp = th * m + g.r - 1;
  const std::vector<int64_t> colSource = g.ColumnSources(), rowSource = g.RowSources(hp);
  at::parallel_for(0, g.n * c, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> cols(kWinoIn * tw);     // one transformed row a: the column adjoint over every tile
    std::vector<float> rows(kWinoIn * wp);     // rows[a][xw]: column adjoints placed, tiles overlapping
    std::vector<float> tileRows(kWinoIn * wp); // the row adjoint: 6 padded rows of the gradient
    std::vector<float> padded(hp * wp);        // the padded plane's gradient
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t b = plane / c, ci = plane % c;
      std::fill(padded.begin(), padded.end(), 0.f);
      for (int64_t i = 0; i < th; ++i) {
        const int64_t t0 = (b * th + i) * tw;
        std::fill(rows.begin(), rows.end(), 0.f);
        for (int64_t a = 0; a < kWinoIn; ++a) {
          const float* colIn[kWinoIn];
          for (int64_t e = 0; e < kWinoIn; ++e) colIn[e] = src + ((a * kWinoIn + e) * c + ci) * tiles + t0;
          InputTransformAdjoint1d(colIn, cols.data(), tw, tw);  // cols[s][j]
          float* row = rows.data() + a * wp;
          for (int64_t s = 0; s < kWinoIn; ++s)
            for (int64_t j = 0; j < tw; ++j) row[j * m + s] += cols[s * tw + j];
        }
        const float* rowIn[kWinoIn];
        for (int64_t a = 0; a < kWinoIn; ++a) rowIn[a] = rows.data() + a * wp;
        InputTransformAdjoint1d(rowIn, tileRows.data(), wp, wp);
        float* out = padded.data() + i * m * wp;
        for (int64_t q = 0; q < kWinoIn * wp; ++q) out[q] += tileRows[q];
      }
      float* plane_dx = dst + plane * h * w;
      for (int64_t r = 0; r < hp; ++r) {
        const int64_t sr = rowSource[r];
        if (sr < 0) continue;
        const float* row = padded.data() + r * wp;
        float* dxRow = plane_dx + sr * w;
        for (int64_t xw = 0; xw < wp; ++xw)
          if (colSource[xw] >= 0) dxRow[colSource[xw]] += row[xw];
      }
    }
  });
  return dx;
}

// y[n, k, ho, wo] = A^T M A (+ bias) for every tile of M [36, k, tiles] (F(3, 4): G^T M G).
torch::Tensor OutputFromTiles(const torch::Tensor& prod, const torch::Tensor& bias, const TileGrid& g) {
  torch::Tensor y = torch::empty({g.n, g.k, g.ho, g.wo}, prod.options());
  const float* src = prod.data_ptr<float>();
  const torch::Tensor biasKeep = bias.defined() ? bias.contiguous() : torch::Tensor();
  const float* biasData = biasKeep.defined() ? biasKeep.data_ptr<float>() : nullptr;
  float* dst = y.data_ptr<float>();
  const int64_t k = g.k, ho = g.ho, wo = g.wo, th = g.th, tw = g.tw, tiles = g.tiles, m = g.m;
  const int64_t elemStride = k * tiles;
  const auto transform = VariantFor(g.r).outputTransform;
  at::parallel_for(0, g.n * k, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> cols(m * kWinoIn * tw), out(m * m * tw);
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t b = plane / k, ko = plane % k;
      const float add = biasData ? biasData[ko] : 0.f;
      float* yPlane = dst + plane * ho * wo;
      for (int64_t i = 0; i < th; ++i) {
        const float* mTile = src + ko * tiles + (b * th + i) * tw;
        // A^T down the 6 rows: cols[r][e2][j] for each column element e2 of the 6x6 tile.
        for (int64_t e2 = 0; e2 < kWinoIn; ++e2)
          transform(mTile + e2 * elemStride, kWinoIn * elemStride, cols.data() + e2 * tw, kWinoIn * tw, tw);
        // A^T across the 6 columns: out[r][s][j].
        for (int64_t r = 0; r < m; ++r)
          transform(cols.data() + r * kWinoIn * tw, tw, out.data() + r * m * tw, tw, tw);
        for (int64_t r = 0; r < m && i * m + r < ho; ++r) {
          float* yRow = yPlane + (i * m + r) * wo;
          for (int64_t s = 0; s < m; ++s) {
            const float* o = out.data() + (r * m + s) * tw;
            for (int64_t j = 0; j < tw && j * m + s < wo; ++j) yRow[j * m + s] = o[j] + add;
          }
        }
      }
    }
  });
  return y;
}

// The adjoint of OutputFromTiles: dM [36, k, tiles] = A dY A^T (F(3, 4): G dY G^T) per tile of the output's
// gradient (zeros past it).
torch::Tensor OutputTilesAdjoint(const torch::Tensor& gy, const TileGrid& g) {
  const torch::Tensor gc = gy.contiguous();
  torch::Tensor dm = torch::empty({kWinoElems, g.k, g.tiles}, gy.options());
  const float* src = gc.data_ptr<float>();
  float* dst = dm.data_ptr<float>();
  const int64_t k = g.k, ho = g.ho, wo = g.wo, th = g.th, tw = g.tw, tiles = g.tiles, m = g.m;
  const auto adjoint = VariantFor(g.r).outputAdjoint;
  at::parallel_for(0, g.n * k, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> in(m * m * tw), cols(m * kWinoIn * tw);
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t b = plane / k, ko = plane % k;
      const float* gPlane = src + plane * ho * wo;
      for (int64_t i = 0; i < th; ++i) {
        // in[r][s][j] = dY[m i + r][m j + s], zero past the output.
        for (int64_t r = 0; r < m; ++r) {
          const int64_t yr = i * m + r;
          for (int64_t s = 0; s < m; ++s) {
            float* o = in.data() + (r * m + s) * tw;
            for (int64_t j = 0; j < tw; ++j) {
              const int64_t yc = j * m + s;
              o[j] = yr < ho && yc < wo ? gPlane[yr * wo + yc] : 0.f;
            }
          }
        }
        // Across the m columns of each row r: cols[r][e2][j].
        for (int64_t r = 0; r < m; ++r) {
          float* colOut[kWinoIn];
          for (int64_t e2 = 0; e2 < kWinoIn; ++e2) colOut[e2] = cols.data() + (r * kWinoIn + e2) * tw;
          adjoint(in.data() + r * m * tw, tw, colOut, tw);
        }
        // Down the m rows: dM[a * 6 + e2][ko][tile].
        const int64_t t0 = (b * th + i) * tw;
        for (int64_t e2 = 0; e2 < kWinoIn; ++e2) {
          float* rowOut[kWinoIn];
          for (int64_t a = 0; a < kWinoIn; ++a) rowOut[a] = dst + ((a * kWinoIn + e2) * k + ko) * tiles + t0;
          adjoint(cols.data() + e2 * tw, kWinoIn * tw, rowOut, tw);
        }
      }
    }
  });
  return dm;
}

// OpenBLAS's pthread build runs each product on its own worker pool; with the products split over the intra-op
// threads (Products) that pool would add a third busy thread on two cores, so while a split runs OpenBLAS is set
// to one thread (the first of concurrent splits saves the count, the last restores it). Looked up at run time: the
// OpenMP build (openblas_get_parallel() == 2) is single-threaded inside a parallel region by itself, and another
// BLAS has no such pool; with those the split runs as it is.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() {
    if (!Api().set) return;
    std::lock_guard<std::mutex> lock(state_.mutex);
    if (state_.users++ == 0) {
      state_.saved = Api().get();
      Api().set(1);
    }
  }
  ~SingleThreadedBlas() {
    if (!Api().set) return;
    std::lock_guard<std::mutex> lock(state_.mutex);
    if (--state_.users == 0) Api().set(state_.saved);
  }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  struct Functions {
    void (*set)(int) = nullptr;
    int (*get)() = nullptr;
  };
  static const Functions& Api() {
    static const Functions api = [] {
      auto parallel = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
      Functions f;
      if (parallel && parallel() == 1) {
        f.set = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
        f.get = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
        if (!f.get) f.set = nullptr;
      }
      return f;
    }();
    return api;
  }
  static struct State {
    std::mutex mutex;
    int users = 0;
    int saved = 1;
  } state_;
};
SingleThreadedBlas::State SingleThreadedBlas::state_;

// bmm(a, b) for the 36 products of a layer ([36, p, q] x [36, q, r]), split over the intra-op threads, each product
// single-threaded. Per 256-channel forward layer (C++ harness, Zen 4, 2 threads, interleaved with a oneDNN
// convolution): serial transforms + one bmm on OpenBLAS's two threads 14-19 ms at 64x64 and 7-11 ms at 32x32;
// transforms on both threads + that bmm 20-27 / 8-17 ms (three busy threads); everything on the intra-op threads
// 12-13 / 5-6 ms.
torch::Tensor Products(const torch::Tensor& a, const torch::Tensor& b) {
  if (at::get_num_threads() < 2) return torch::bmm(a, b);
  torch::Tensor out = torch::empty({a.size(0), a.size(1), b.size(2)}, a.options());
  SingleThreadedBlas oneThread;
  const at::ThreadLocalState callerState;  // inference mode and grad mode are per thread: the pool's take the caller's
  at::parallel_for(0, a.size(0), 1, [&](int64_t begin, int64_t end) {
    at::ThreadLocalStateGuard sameState(callerState);
    for (int64_t e = begin; e < end; ++e) {
      torch::Tensor o = out.select(0, e);
      at::mm_out(o, a.select(0, e), b.select(0, e));
    }
  });
  return out;
}

// conv2d(x, w, bias) from w's U: the input tiles, the 36 products, the output tiles.
torch::Tensor ConvFromU(const torch::Tensor& x, const torch::Tensor& u, const torch::Tensor& bias, const TileGrid& g) {
  return OutputFromTiles(Products(u, InputTiles(x, g)), bias, g);
}

bool WinogradShape(const torch::Tensor& x, const torch::Tensor& weight, torch::IntArrayRef stride) {
  if (!x.device().is_cpu() || !weight.device().is_cpu() || x.scalar_type() != torch::kFloat32 ||
      weight.scalar_type() != torch::kFloat32 || x.dim() != 4 || x.is_mkldnn() || weight.dim() != 4)
    return false;
  for (auto s : stride)
    if (s != 1) return false;
  const int64_t r = weight.size(2);
  return (r == 3 || r == 4) && weight.size(3) == r && weight.size(0) >= kWinogradMinChannels &&
         weight.size(1) >= kWinogradMinChannels && x.size(1) == weight.size(1) && x.size(2) >= kWinogradMinSide &&
         x.size(3) >= kWinogradMinSide;
}

// conv2d by F(4x4, 3x3) or F(3x3, 4x4) as an autograd function: the backward is the exact adjoint of the forward's three steps
// (output transform, the 36 products, input and weight transforms), so each gradient is two more transforms and
// one batched product instead of a direct convolution. Saves only the input and the (cached, shared) U. An absent
// bias comes as an empty tensor: libtorch 1.13's Function::apply cannot take an undefined one.
struct WinogradConvFunction : public torch::autograd::Function<WinogradConvFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, const torch::Tensor& u, int64_t ph, int64_t pw, bool reflect) {
    const TileGrid g(x, weight, {ph, pw}, reflect);
    const bool hasBias = bias.numel() > 0;
    ctx->save_for_backward({x, weight, u});
    ctx->saved_data["ph"] = ph;
    ctx->saved_data["pw"] = pw;
    ctx->saved_data["reflect"] = reflect;
    ctx->saved_data["bias"] = hasBias;
    return ConvFromU(x, u, hasBias ? bias : torch::Tensor(), g);
  }

  // A backward with create_graph (a gradient penalty through this layer): the direct convolution's input and weight
  // gradients, recorded by autograd from the saved x and weight (which keep their history), since the tile loops
  // below are not differentiable.
  static std::pair<torch::Tensor, torch::Tensor> DifferentiableBackward(torch::autograd::AutogradContext* ctx,
                                                                        const torch::Tensor& x, const torch::Tensor& weight,
                                                                        const torch::Tensor& gy, const TileGrid& g) {
    const std::vector<int64_t> pad{g.pw, g.pw, g.ph, g.ph};
    const torch::Tensor y = g.reflect ? torch::conv2d(torch::reflection_pad2d(x, pad), weight)
                                      : torch::conv2d(x, weight, {}, 1, torch::IntArrayRef{g.ph, g.pw});
    std::vector<torch::Tensor> inputs;
    const bool dx = ctx->needs_input_grad(0) && x.requires_grad(), dw = ctx->needs_input_grad(1) && weight.requires_grad();
    if (dx) inputs.push_back(x);
    if (dw) inputs.push_back(weight);
    std::vector<torch::Tensor> d;
    if (!inputs.empty()) d = torch::autograd::grad({y}, inputs, {gy}, /*retain_graph=*/true, /*create_graph=*/true);
    return {dx ? d[0] : torch::Tensor(), dw ? d[dx ? 1 : 0] : torch::Tensor()};
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &weight = saved[1], &u = saved[2];
    const TileGrid g(x, weight, {ctx->saved_data["ph"].toInt(), ctx->saved_data["pw"].toInt()},
                     ctx->saved_data["reflect"].toBool());
    const torch::Tensor gy = grads[0].to(torch::kFloat32);
    torch::Tensor dx, dw, db;
    if (ctx->saved_data["bias"].toBool() && ctx->needs_input_grad(2)) db = gy.sum({0, 2, 3});
    if (torch::GradMode::is_enabled()) {
      std::tie(dx, dw) = DifferentiableBackward(ctx, x, weight, gy, g);
    } else {
      const torch::Tensor dm = OutputTilesAdjoint(gy, g);
      if (ctx->needs_input_grad(0)) dx = InputTilesAdjoint(Products(u.transpose(1, 2), dm), g);
      if (ctx->needs_input_grad(1)) dw = TransformWeightAdjoint(Products(dm, InputTiles(x, g).transpose(1, 2)), weight);
    }
    return {dx, dw, db, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

void SetWinograd(bool on) { gWinograd = on; }
bool Winograd() { return gWinograd; }
void SetWinogradTrain(bool on) { gWinogradTrain = on; }
bool WinogradTrain() { return gWinogradTrain; }

bool WinogradApplies(const torch::Tensor& x, const torch::Tensor& weight, torch::IntArrayRef stride) {
  if (!WinogradShape(x, weight, stride)) return false;
  return torch::GradMode::is_enabled() ? gWinogradTrain.load() : gWinograd.load();
}

torch::Tensor WinogradWeight::Transformed(const torch::Tensor& weight) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!u_.defined() || weight.data_ptr() != data_ || weight._version() != version_) {
    torch::NoGradGuard noGrad;
    // Rewritten in place when no graph still holds the old U (each training step: a fresh 9 MB buffer per layer
    // costs more in page faults than the transform itself).
    const bool unshared = u_.defined() && u_.use_count() == 1 && u_.storage().use_count() == 1;
    u_ = TransformWeight(weight, unshared ? u_ : torch::Tensor());
    data_ = weight.data_ptr();
    version_ = weight._version();
  }
  return u_;
}

torch::Tensor WinogradWeight::Conv(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                   torch::IntArrayRef padding, bool reflect) {
  const torch::Tensor u = Transformed(weight);
  if (torch::GradMode::is_enabled())
    return WinogradConvFunction::apply(x, weight, bias.defined() ? bias : torch::empty({0}, weight.options()), u,
                                       padding[0], padding[1], reflect);
  return ConvFromU(x, u, bias, TileGrid(x, weight, padding, reflect));
}

}  // namespace img2img
