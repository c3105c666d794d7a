#include "winograd_conv.h"

#include <ATen/Parallel.h>

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
constexpr int64_t kWinoOut = 4;     // output tile side (m)
constexpr int64_t kWinoIn = 6;      // input tile side (m + r - 1)
constexpr int64_t kWinoElems = 36;  // kWinoIn * kWinoIn transformed elements per tile

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

// G of F(4, 3): the weight transform's rows for the points 0, +-1, +-2 and infinity.
constexpr float kG[kWinoIn][3] = {{1.f / 4, 0.f, 0.f},           {-1.f / 6, -1.f / 6, -1.f / 6}, {-1.f / 6, 1.f / 6, -1.f / 6},
                                  {1.f / 24, 1.f / 12, 1.f / 6}, {1.f / 24, -1.f / 12, 1.f / 6}, {0.f, 0.f, 1.f}};
constexpr int64_t kWeightLanes = 256;  // (out, in) pairs transformed together: a few L1-sized rows

// u[a * 6 + b][j] = (G w_j G^T)[a][b] for n <= kWeightLanes pairs, w[t][j] their 9 taps lane-major.
__attribute__((target_clones("avx2", "default")))
void WeightTransformLanes(const float* __restrict w, float* const* u, int64_t n) {
  float t1[kWinoIn][3][kWeightLanes];  // G w
  for (int64_t a = 0; a < kWinoIn; ++a)
    for (int64_t s = 0; s < 3; ++s)
      for (int64_t j = 0; j < n; ++j)
        t1[a][s][j] = kG[a][0] * w[s * kWeightLanes + j] + kG[a][1] * w[(3 + s) * kWeightLanes + j] +
                      kG[a][2] * w[(6 + s) * kWeightLanes + j];
  for (int64_t a = 0; a < kWinoIn; ++a)
    for (int64_t b = 0; b < kWinoIn; ++b) {
      float* out = u[a * kWinoIn + b];
      for (int64_t j = 0; j < n; ++j) out[j] = t1[a][0][j] * kG[b][0] + t1[a][1][j] * kG[b][1] + t1[a][2][j] * kG[b][2];
    }
}

// dw[r * 3 + s][j] = (G^T dU_j G)[r][s]: the adjoint of WeightTransformLanes.
__attribute__((target_clones("avx2", "default")))
void WeightTransformAdjointLanes(const float* const* du, float* __restrict dw, int64_t n) {
  float t2[kWinoIn][3][kWeightLanes];  // dU G
  for (int64_t a = 0; a < kWinoIn; ++a)
    for (int64_t s = 0; s < 3; ++s) {
      for (int64_t j = 0; j < n; ++j) t2[a][s][j] = 0.f;
      for (int64_t b = 0; b < kWinoIn; ++b) {
        const float gbs = kG[b][s];
        if (gbs == 0.f) continue;
        const float* in = du[a * kWinoIn + b];
        for (int64_t j = 0; j < n; ++j) t2[a][s][j] += in[j] * gbs;
      }
    }
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t s = 0; s < 3; ++s)
      for (int64_t j = 0; j < n; ++j) {
        float acc = 0.f;
        for (int64_t a = 0; a < kWinoIn; ++a) acc += kG[a][r] * t2[a][s][j];
        dw[(r * 3 + s) * kWeightLanes + j] = acc;
      }
}

// fn(p0, n, lanes) for the (out, in) pairs [p0, p0 + n) in chunks of kWeightLanes, in parallel; `lanes` is a
// 9 x kWeightLanes buffer of the thread's own.
template <typename Fn>
void ForEachPairChunk(int64_t pairs, const Fn& fn) {
  at::parallel_for(0, (pairs + kWeightLanes - 1) / kWeightLanes, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> lanes(9 * kWeightLanes);
    for (int64_t chunk = begin; chunk < end; ++chunk) {
      const int64_t p0 = chunk * kWeightLanes;
      fn(p0, std::min(kWeightLanes, pairs - p0), lanes.data());
    }
  });
}

// U = G w G^T for every (out, in) pair, as [36, out, in], written into `reuse` when it has that shape.
torch::Tensor TransformWeight(const torch::Tensor& weight, torch::Tensor reuse = {}) {
  const int64_t pairs = weight.size(0) * weight.size(1);
  const torch::Tensor wc = weight.contiguous();
  const std::vector<int64_t> shape{kWinoElems, weight.size(0), weight.size(1)};
  torch::Tensor u = reuse.defined() && reuse.sizes() == shape ? reuse : torch::empty(shape, weight.options());
  const float* src = wc.data_ptr<float>();
  float* dst = u.data_ptr<float>();
  ForEachPairChunk(pairs, [&](int64_t p0, int64_t n, float* lanes) {
    for (int64_t j = 0; j < n; ++j)
      for (int64_t t = 0; t < 9; ++t) lanes[t * kWeightLanes + j] = src[(p0 + j) * 9 + t];
    float* out[kWinoElems];
    for (int64_t e = 0; e < kWinoElems; ++e) out[e] = dst + e * pairs + p0;
    WeightTransformLanes(lanes, out, n);
  });
  return u;
}

// The weight's gradient from U's [36, out, in]: dw = G^T dU G per pair, the adjoint of TransformWeight.
torch::Tensor TransformWeightAdjoint(const torch::Tensor& du, const torch::Tensor& weight) {
  const int64_t pairs = weight.size(0) * weight.size(1);
  const torch::Tensor duc = du.contiguous();
  torch::Tensor dw = torch::empty_like(weight, at::MemoryFormat::Contiguous);
  const float* src = duc.data_ptr<float>();
  float* dst = dw.data_ptr<float>();
  ForEachPairChunk(pairs, [&](int64_t p0, int64_t n, float* lanes) {
    const float* in[kWinoElems];
    for (int64_t e = 0; e < kWinoElems; ++e) in[e] = src + e * pairs + p0;
    WeightTransformAdjointLanes(in, lanes, n);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t t = 0; t < 9; ++t) dst[(p0 + j) * 9 + t] = lanes[t * kWeightLanes + j];
  });
  return dw;
}

// Where the tiles of one convolution lie: the output, the tile grid over it, the padded input it reads.
struct TileGrid {
  int64_t n, c, k, h, w, ph, pw, ho, wo, th, tw, tiles, wp;
  bool reflect;
  TileGrid(const torch::Tensor& x, const torch::Tensor& weight, torch::IntArrayRef padding, bool reflectPad)
      : n(x.size(0)), c(x.size(1)), k(weight.size(0)), h(x.size(2)), w(x.size(3)), ph(padding[0]), pw(padding[1]),
        reflect(reflectPad) {
    ho = h + 2 * ph - 2;
    wo = w + 2 * pw - 2;
    TORCH_CHECK(ho > 0 && wo > 0, "Winograd convolution: input smaller than the kernel");
    TORCH_CHECK(!reflect || (ph < h && pw < w), "Winograd convolution: reflection padding must be smaller than the input");
    th = (ho + kWinoOut - 1) / kWinoOut;
    tw = (wo + kWinoOut - 1) / kWinoOut;
    tiles = n * th * tw;
    wp = tw * kWinoOut + 2;  // the padded row, tile overhang included
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
  const int64_t c = g.c, h = g.h, w = g.w, pw = g.pw, wp = g.wp, th = g.th, tw = g.tw, tiles = g.tiles;
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
          const int64_t sr = g.Source(i * kWinoOut + r, g.ph, h);
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
          InputTransform1d(rows.data() + a * wp, 1, kWinoOut, colOut, 1, tw);
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
  const int64_t c = g.c, h = g.h, w = g.w, wp = g.wp, th = g.th, tw = g.tw, tiles = g.tiles;
  const int64_t hp = th * kWinoOut + 2;
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
            for (int64_t j = 0; j < tw; ++j) row[j * kWinoOut + s] += cols[s * tw + j];
        }
        const float* rowIn[kWinoIn];
        for (int64_t a = 0; a < kWinoIn; ++a) rowIn[a] = rows.data() + a * wp;
        InputTransformAdjoint1d(rowIn, tileRows.data(), wp, wp);
        float* out = padded.data() + i * kWinoOut * wp;
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

// y[n, k, ho, wo] = A^T M A (+ bias) for every tile of M [36, k, tiles].
torch::Tensor OutputFromTiles(const torch::Tensor& m, const torch::Tensor& bias, const TileGrid& g) {
  torch::Tensor y = torch::empty({g.n, g.k, g.ho, g.wo}, m.options());
  const float* src = m.data_ptr<float>();
  const torch::Tensor biasKeep = bias.defined() ? bias.contiguous() : torch::Tensor();
  const float* biasData = biasKeep.defined() ? biasKeep.data_ptr<float>() : nullptr;
  float* dst = y.data_ptr<float>();
  const int64_t k = g.k, ho = g.ho, wo = g.wo, th = g.th, tw = g.tw, tiles = g.tiles;
  const int64_t elemStride = k * tiles;
  at::parallel_for(0, g.n * k, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> cols(kWinoOut * kWinoIn * tw), out(kWinoOut * kWinoOut * tw);
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t b = plane / k, ko = plane % k;
      const float add = biasData ? biasData[ko] : 0.f;
      float* yPlane = dst + plane * ho * wo;
      for (int64_t i = 0; i < th; ++i) {
        const float* mTile = src + ko * tiles + (b * th + i) * tw;
        // A^T down the 6 rows: cols[r][e2][j] for each column element e2 of the 6x6 tile.
        for (int64_t e2 = 0; e2 < kWinoIn; ++e2)
          OutputTransform1d(mTile + e2 * elemStride, kWinoIn * elemStride, cols.data() + e2 * tw, kWinoIn * tw, tw);
        // A^T across the 6 columns: out[r][s][j].
        for (int64_t r = 0; r < kWinoOut; ++r)
          OutputTransform1d(cols.data() + r * kWinoIn * tw, tw, out.data() + r * kWinoOut * tw, tw, tw);
        for (int64_t r = 0; r < kWinoOut && i * kWinoOut + r < ho; ++r) {
          float* yRow = yPlane + (i * kWinoOut + r) * wo;
          for (int64_t s = 0; s < kWinoOut; ++s) {
            const float* o = out.data() + (r * kWinoOut + s) * tw;
            for (int64_t j = 0; j < tw && j * kWinoOut + s < wo; ++j) yRow[j * kWinoOut + s] = o[j] + add;
          }
        }
      }
    }
  });
  return y;
}

// The adjoint of OutputFromTiles: dM [36, k, tiles] = A dY A^T per tile of the output's gradient (zeros past it).
torch::Tensor OutputTilesAdjoint(const torch::Tensor& gy, const TileGrid& g) {
  const torch::Tensor gc = gy.contiguous();
  torch::Tensor dm = torch::empty({kWinoElems, g.k, g.tiles}, gy.options());
  const float* src = gc.data_ptr<float>();
  float* dst = dm.data_ptr<float>();
  const int64_t k = g.k, ho = g.ho, wo = g.wo, th = g.th, tw = g.tw, tiles = g.tiles;
  at::parallel_for(0, g.n * k, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> in(kWinoOut * kWinoOut * tw), cols(kWinoOut * kWinoIn * tw);
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t b = plane / k, ko = plane % k;
      const float* gPlane = src + plane * ho * wo;
      for (int64_t i = 0; i < th; ++i) {
        // in[r][s][j] = dY[4i + r][4j + s], zero past the output.
        for (int64_t r = 0; r < kWinoOut; ++r) {
          const int64_t yr = i * kWinoOut + r;
          for (int64_t s = 0; s < kWinoOut; ++s) {
            float* o = in.data() + (r * kWinoOut + s) * tw;
            for (int64_t j = 0; j < tw; ++j) {
              const int64_t yc = j * kWinoOut + s;
              o[j] = yr < ho && yc < wo ? gPlane[yr * wo + yc] : 0.f;
            }
          }
        }
        // Across the 4 columns of each row r: cols[r][e2][j].
        for (int64_t r = 0; r < kWinoOut; ++r) {
          float* colOut[kWinoIn];
          for (int64_t e2 = 0; e2 < kWinoIn; ++e2) colOut[e2] = cols.data() + (r * kWinoIn + e2) * tw;
          OutputTransformAdjoint1d(in.data() + r * kWinoOut * tw, tw, colOut, tw);
        }
        // Down the 4 rows: dM[a * 6 + e2][ko][tile].
        const int64_t t0 = (b * th + i) * tw;
        for (int64_t e2 = 0; e2 < kWinoIn; ++e2) {
          float* rowOut[kWinoIn];
          for (int64_t a = 0; a < kWinoIn; ++a) rowOut[a] = dst + ((a * kWinoIn + e2) * k + ko) * tiles + t0;
          OutputTransformAdjoint1d(cols.data() + e2 * tw, kWinoIn * tw, rowOut, tw);
        }
      }
    }
  });
  return dm;
}

// conv2d(x, w, bias) from w's U: the input tiles, the 36 products, the output tiles.
torch::Tensor ConvFromU(const torch::Tensor& x, const torch::Tensor& u, const torch::Tensor& bias, const TileGrid& g) {
  return OutputFromTiles(torch::bmm(u, InputTiles(x, g)), bias, g);
}

bool WinogradShape(const torch::Tensor& x, const torch::Tensor& weight, torch::IntArrayRef stride) {
  if (!x.device().is_cpu() || !weight.device().is_cpu() || x.scalar_type() != torch::kFloat32 ||
      weight.scalar_type() != torch::kFloat32 || x.dim() != 4 || x.is_mkldnn() || weight.dim() != 4)
    return false;
  for (auto s : stride)
    if (s != 1) return false;
  return weight.size(2) == 3 && weight.size(3) == 3 && weight.size(0) >= kWinogradMinChannels &&
         weight.size(1) >= kWinogradMinChannels && x.size(1) == weight.size(1) && x.size(2) >= kWinogradMinSide &&
         x.size(3) >= kWinogradMinSide;
}

// conv2d by F(4x4, 3x3) as an autograd function: the backward is the exact adjoint of the forward's three steps
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
      if (ctx->needs_input_grad(0)) dx = InputTilesAdjoint(torch::bmm(u.transpose(1, 2), dm), g);
      if (ctx->needs_input_grad(1)) dw = TransformWeightAdjoint(torch::bmm(dm, InputTiles(x, g).transpose(1, 2)), weight);
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
