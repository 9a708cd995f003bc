#pragma once
// Shared plumbing of the score biases that depend on i and j only through the offset
// j - i, per head (alibi, t5, kerple, sandwich): the bias is kept as
// a table by_offset [H, 2T-1] (column o holds offset j - i = o - (T - 1)), so row i of
// head h is the contiguous slice starting at T - 1 - i and adding it is a vector add.
// With randomized positions (encoder.h) the offset is p_j - p_i and the table spans
// S = position_span(T): by_offset [H, 2S-1], column o holds offset o - (S - 1); the
// overloads taking the encoder gather per entry (and are the functions above when the
// positions are 0..T-1, where S = T).
#include <cstddef>
#include <vector>

#include "encoders/encoder.h"
#include "core/real.h"  // POSLAB_REAL_NAMESPACE

namespace poslab::inline POSLAB_REAL_NAMESPACE {

// logits [B, H, T, T] += by_offset[h, j - i + T - 1] for every unmasked (i, j).
inline void add_offset_bias(const Real* by_offset, Real* logits, const AttnDims& d) {
  const int T = d.T, W = 2 * T - 1;
  const std::size_t s_block = std::size_t(T) * T;
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < d.B * d.H; ++bh) {
    const Real* table = by_offset + std::size_t(bh % d.H) * W;
    Real* s = logits + bh * s_block;
    for (int i = 0; i < T; ++i) {
      const int n = d.causal ? i + 1 : T;  // masked keys are overwritten after the hook
      MapVecR(s + std::size_t(i) * T, n) += CMapVecR(table + (T - 1 - i), n);
    }
  }
}

// The adjoint of add_offset_bias: returns dby_offset [H, 2T-1] = Σ_b Σ_{(i,j): j-i = o}
// dlogits[b, h, i, j]. Each (b, h) sums its diagonals into its own row in parallel; the
// rows are then added over b in a fixed order, so the result does not depend on the
// thread count.
inline std::vector<double> sum_by_offset(const Real* dlogits, const AttnDims& d) {
  const int T = d.T, W = 2 * T - 1, BH = d.B * d.H;
  RealBuffer diag(std::size_t(BH) * W, Real(0));  // [B, H, 2T-1]
  const std::size_t s_block = std::size_t(T) * T;
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < BH; ++bh) {
    Real* sums = diag.data() + std::size_t(bh) * W;
    const Real* g = dlogits + bh * s_block;
    for (int i = 0; i < T; ++i) {
      const int n = d.causal ? i + 1 : T;  // dlogits of masked keys are 0
      MapVecR(sums + (T - 1 - i), n) += CMapVecR(g + std::size_t(i) * T, n);
    }
  }
  std::vector<double> out(std::size_t(d.H) * W, 0.0);
  for (int b = 0; b < d.B; ++b)
    for (int h = 0; h < d.H; ++h)
      for (int o = 0; o < W; ++o) out[std::size_t(h) * W + o] += diag[(std::size_t(b) * d.H + h) * W + o];
  return out;
}

// logits [B, H, T, T] += by_offset[h, p_j - p_i + S - 1], S = e.position_span(T).
inline void add_offset_bias(const Real* by_offset, Real* logits, const AttnDims& d,
                            const PositionalEncoder& e) {
  if (e.identity_positions()) return add_offset_bias(by_offset, logits, d);
  const int T = d.T, S = e.position_span(T), W = 2 * S - 1;
  const int* p = e.positions().data();
  const std::size_t s_block = std::size_t(T) * T;
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < d.B * d.H; ++bh) {
    const Real* table = by_offset + std::size_t(bh % d.H) * W + (S - 1);  // table[offset]
    Real* s = logits + bh * s_block;
    for (int i = 0; i < T; ++i) {
      const int n = d.causal ? i + 1 : T;
      Real* si = s + std::size_t(i) * T;
      for (int j = 0; j < n; ++j) si[j] += table[p[j] - p[i]];
    }
  }
}

// The adjoint of the above: dby_offset [H, 2S-1], per (b, h) then over b in order.
inline std::vector<double> sum_by_offset(const Real* dlogits, const AttnDims& d,
                                         const PositionalEncoder& e) {
  if (e.identity_positions()) return sum_by_offset(dlogits, d);
  const int T = d.T, S = e.position_span(T), W = 2 * S - 1, BH = d.B * d.H;
  const int* p = e.positions().data();
  RealBuffer diag(std::size_t(BH) * W, Real(0));  // [B, H, 2S-1]
  const std::size_t s_block = std::size_t(T) * T;
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < BH; ++bh) {
    Real* sums = diag.data() + std::size_t(bh) * W + (S - 1);  // sums[offset]
    const Real* g = dlogits + bh * s_block;
    for (int i = 0; i < T; ++i) {
      const int n = d.causal ? i + 1 : T;
      const Real* gi = g + std::size_t(i) * T;
      for (int j = 0; j < n; ++j) sums[p[j] - p[i]] += gi[j];
    }
  }
  std::vector<double> out(std::size_t(d.H) * W, 0.0);
  for (int b = 0; b < d.B; ++b)
    for (int h = 0; h < d.H; ++h)
      for (int o = 0; o < W; ++o) out[std::size_t(h) * W + o] += diag[(std::size_t(b) * d.H + h) * W + o];
  return out;
}

// Tile form: scores [rows, cols] (row stride ld) += f(j - i) for the tile's unmasked
// entries, where f(j - i) is read from `by_tile_offset`, f evaluated once per offset the
// tile spans: by_tile_offset[j - i - (j0 - (i1 - 1))], offsets j0 - (i1 - 1) .. (j1 - 1) - i0
// (rows + cols - 1 values).
inline void add_tile_offset_bias(const AttnTile& t, const Real* by_tile_offset, Real* scores,
                                 int ld) {
  const int first = t.j0 - (t.i1 - 1);
  for (int r = 0; r < t.rows(); ++r) {
    const int i = t.i0 + r, n = t.key_end(r) - t.j0;
    if (n <= 0) continue;
    MapVecR(scores + std::size_t(r) * ld, n) += CMapVecR(by_tile_offset + (t.j0 - i - first), n);
  }
}

// Number of distinct offsets j - i in a tile of up to `rows` × `cols`.
inline std::size_t tile_offsets(int rows, int cols) { return std::size_t(rows) + cols - 1; }

}  // namespace poslab
