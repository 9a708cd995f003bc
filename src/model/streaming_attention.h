#pragma once
// Streaming (FlashAttention-style) attention forward: the same numbers as the materialized
// attention (Transformer::attention_forward) without ever holding a [T, T] block, so that
// evaluation at 64k tokens fits in a few hundred MiB. Forward only: training keeps the
// materialized path, whose backward needs the probabilities.
//
// Per (b, h) and query block [i0, i1) of tiles.queries rows, key tiles [j0, j1) of
// tiles.keys columns are visited from the causal diagonal backwards (encoder.h explains
// why), tiles above the diagonal never:
//   s   = q kᵀ / sqrt(dh) + encoder.score_bias_tile            [rows, cols], j > i masked
//   m'  = max(m, max_j s);  c = exp(m - m');  l = c·l + Σ_j exp(s - m')
//   acc = c·acc + encoder.value_bias_tile(w) + w·V,  w = exp(s - m')     [rows, dh]
//   out = acc / l
// Workspace per thread: O(queries·keys + queries·dh + encoder.tile_state_size).
//
// Deterministic: each output row is computed by one thread, visiting its tiles in a fixed
// order, so results do not depend on the thread count; sums run in a fixed packet order
// from each row's first element (as row_sum in core/kernels/row_reduce.h) and every buffer
// is a RealBuffer, so they do not depend on heap addresses either.
#include "core/real.h"
#include "encoders/encoder.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {

// 128 × 128 measured ~15 % faster than 64 × 64 at T = 8192 (fewer, larger GEMMs for the
// same work; d_head 16); the masked half of the diagonal tile is negligible at long T.
struct AttentionTiles {
  int queries = 128;  // Bq: queries per block
  int keys = 128;     // Bk: keys per tile
};

// out [B, H, T, dh] from the rotated q, k and v [B, H, T, dh] of layer `layer`.
void streaming_attention_forward(Real* out, const Real* q, const Real* k, const Real* v,
                                 int layer, const AttnDims& d, const PositionalEncoder& encoder,
                                 AttentionTiles tiles = {});

}  // namespace poslab
