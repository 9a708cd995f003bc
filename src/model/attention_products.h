#pragma once
// The four matrix products of one (b, h) of the materialized (training) attention, and
// their backward, computed only where the causal mask lets a key be seen.
//
//   forward     S = scale · Q Kᵀ          [T, T]     P = softmax(S) (rows, by the caller)
//               O = P V                   [T, dh]
//   backward    dP = dO Vᵀ,  dV = Pᵀ dO   dS = softmax'(dP) (by the caller)
//               dQ = scale · dS K,  dK = scale · dSᵀ Q
//
// q, k, v, o, dq, dk, dv: [T, dh] row-major; s, p, dp, ds: [T, T] row-major.
// Causal: queries go in blocks of kCausalRowBlock rows; block [i0, i1) computes its score
// and dP columns [0, i1) only (attention_blocks.h), and the products that sum over queries
// (dV, dK) take, for key block [j0, j1), the query rows [j0, T) only: everything skipped is
// a product with an entry of P or dS that is exactly 0 (j > i). Entries of S and dP right
// of a block's visible keys are neither written nor read here; the caller's softmax writes
// the zeros of P and dS there. Bidirectional attention is one block of T rows.
//
// All four write (overwrite) their outputs. Products go through kernels::gemm (one thread:
// they are called per (b, h) from the caller's parallel loop).
#include "core/real.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {

// 64 rows: at T = 128 a quarter of the scores is skipped, at T = 1024 47 %; blocks of 32
// skip a little more but halve the GEMM sizes (measured slower at T = 128).
inline constexpr int kCausalRowBlock = 64;

void attention_scores(Real* s, const Real* q, const Real* k, int T, int dh, bool causal,
                      Real scale);
void attention_values(Real* o, const Real* p, const Real* v, int T, int dh, bool causal);
void attention_values_backward(Real* dp, Real* dv, const Real* p, const Real* dout,
                               const Real* v, int T, int dh, bool causal);
void attention_scores_backward(Real* dq, Real* dk, const Real* ds, const Real* q,
                               const Real* k, int T, int dh, bool causal, Real scale);

}  // namespace poslab
