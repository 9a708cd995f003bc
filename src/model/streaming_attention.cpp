#include "model/streaming_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/kernels/row_reduce.h"
#include "model/attention_blocks.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {

namespace {

using kernels::exp_shifted_sum;
using kernels::max_of;
using StridedMap = Eigen::Map<MatR, 0, Eigen::OuterStride<>>;

// Per-thread workspace, allocated once per call and reused for every query block.
struct Workspace {
  RealBuffer scores;   // [Bq, Bk] scores, then softmax weights of the current tile
  RealBuffer acc;      // [Bq, dh] Σ_j w_ij (v_j + g(i, j)), rescaled as the max moves
  RealBuffer row_max;  // [Bq] running max of each row's scores
  RealBuffer row_sum;  // [Bq] running Σ_j w_ij
  RealBuffer state;    // the encoder's per-query-block state
  Workspace(const AttentionTiles& t, int dh, std::size_t state_size)
      : scores(std::size_t(t.queries) * t.keys),
        acc(std::size_t(t.queries) * dh),
        row_max(t.queries),
        row_sum(t.queries),
        state(state_size) {}
};

// One query block of one (b, h): tile.q/k, tile.i0/i1 and the (b, h) fields set by the caller.
void query_block(Real* out, const Real* v, AttnTile tile, const AttentionTiles& tiles,
                 const PositionalEncoder& encoder, bool score_bias, bool value_bias,
                 Workspace& ws) {
  const int dh = tile.dh, rows = tile.rows(), Bk = tiles.keys;
  const Real scale = Real(1) / std::sqrt(Real(dh));
  const Real minus_inf = -std::numeric_limits<Real>::infinity();
  // Causal: keys [0, i1) (later tiles lie above the diagonal); bidirectional: all keys.
  const int key_end = visible_keys(tile.i1, tile.T, tile.causal);

  std::fill(ws.state.begin(), ws.state.end(), Real(0));
  tile.j0 = 0;
  tile.j1 = key_end;
  encoder.begin_query_block(tile, ws.state.data());
  std::fill(ws.acc.begin(), ws.acc.begin() + std::size_t(rows) * dh, Real(0));
  std::fill(ws.row_max.begin(), ws.row_max.begin() + rows, minus_inf);
  std::fill(ws.row_sum.begin(), ws.row_sum.begin() + rows, Real(0));

  const CMapR q_block(tile.q + std::size_t(tile.i0) * dh, rows, dh);
  MapR acc(ws.acc.data(), rows, dh);
  for (int kt = (key_end - 1) / Bk; kt >= 0; --kt) {  // from the diagonal backwards
    tile.j0 = kt * Bk;
    tile.j1 = std::min(key_end, tile.j0 + Bk);
    const int cols = tile.cols();
    StridedMap s(ws.scores.data(), rows, cols, Eigen::OuterStride<>(Bk));
    // The scale on the left factor becomes GEMM's alpha: the product lands in s directly
    // ((q kᵀ)·scale would go through a temporary and a transposing copy).
    s.noalias() = (q_block * scale) * CMapR(tile.k + std::size_t(tile.j0) * dh, cols, dh).transpose();
    if (score_bias) encoder.score_bias_tile(tile, ws.scores.data(), Bk, ws.state.data());

    // Online softmax: the scores of each row become its weights w = exp(s - m').
    for (int r = 0; r < rows; ++r) {
      Real* row = ws.scores.data() + std::size_t(r) * Bk;
      const int n = std::max(0, tile.key_end(r) - tile.j0);  // keys row r may see
      std::fill(row + n, row + cols, Real(0));
      if (n == 0) continue;  // a query before this (diagonal) tile
      const Real tile_max = max_of(row, n);
      Real& m = ws.row_max[r];
      if (tile_max > m) {
        if (m != minus_inf) {  // earlier tiles were weighted by exp(-m): move them to m'
          const Real c = std::exp(m - tile_max);
          ws.row_sum[r] *= c;
          acc.row(r) *= c;
        }
        m = tile_max;
      }
      ws.row_sum[r] += exp_shifted_sum(row, n, m);
    }
    if (value_bias)
      encoder.value_bias_tile(tile, ws.scores.data(), Bk, ws.acc.data(), ws.state.data());
    acc.noalias() += StridedMap(ws.scores.data(), rows, cols, Eigen::OuterStride<>(Bk)) *
                     CMapR(v + std::size_t(tile.j0) * dh, cols, dh);
  }
  for (int r = 0; r < rows; ++r)
    MapVecR(out + std::size_t(tile.i0 + r) * dh, dh) =
        acc.row(r).transpose() * (Real(1) / ws.row_sum[r]);
}

}  // namespace

void streaming_attention_forward(Real* out, const Real* q, const Real* k, const Real* v,
                                 int layer, const AttnDims& d, const PositionalEncoder& encoder,
                                 AttentionTiles tiles) {
  if (tiles.queries < 1 || tiles.keys < 1)
    throw std::invalid_argument("streaming attention: tile sizes must be >= 1");
  const int blocks = (d.T + tiles.queries - 1) / tiles.queries;
  const long items = long(d.B) * d.H * blocks;
  const std::size_t qk_block = std::size_t(d.T) * d.dh;
  const std::size_t state_size = encoder.tile_state_size(tiles.queries, tiles.keys);
  const bool score_bias = encoder.has_score_bias(), value_bias = encoder.has_value_bias();
#pragma omp parallel
  {
    Workspace ws(tiles, d.dh, state_size);
    // Causal blocks further down have more key tiles: handing them out first, one at a
    // time, balances the threads. Which thread takes a block does not change its numbers.
#pragma omp for schedule(dynamic, 1)
    for (long item = 0; item < items; ++item) {
      const int bh = int(item / blocks), block = blocks - 1 - int(item % blocks);
      AttnTile tile;
      tile.layer = layer;
      tile.b = bh / d.H;
      tile.h = bh % d.H;
      tile.i0 = block * tiles.queries;
      tile.i1 = std::min(d.T, tile.i0 + tiles.queries);
      tile.T = d.T;
      tile.dh = d.dh;
      tile.causal = d.causal;
      tile.q = q + bh * qk_block;
      tile.k = k + bh * qk_block;
      query_block(out + bh * qk_block, v + bh * qk_block, tile, tiles, encoder, score_bias,
                  value_bias, ws);
    }
  }
}

}  // namespace poslab
