#include "model/attention_products.h"

#include <algorithm>

#include "core/kernels/gemm.h"
#include "model/attention_blocks.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {

using kernels::gemm;

namespace {

int row_block(int T, bool causal) { return causal ? kCausalRowBlock : T; }

}  // namespace

void attention_scores(Real* s, const Real* q, const Real* k, int T, int dh, bool causal,
                      Real scale) {
  const int R = row_block(T, causal);
  for (int i0 = 0; i0 < T; i0 += R) {
    const int rows = std::min(R, T - i0), keys = visible_keys(i0 + rows, T, causal);
    // S[i0:i1, 0:keys] = scale · Q[i0:i1] · K[0:keys]ᵀ
    gemm(false, true, rows, keys, dh, scale, q + std::size_t(i0) * dh, dh, k, dh, Real(0),
         s + std::size_t(i0) * T, T);
  }
}

void attention_values(Real* o, const Real* p, const Real* v, int T, int dh, bool causal) {
  const int R = row_block(T, causal);
  for (int i0 = 0; i0 < T; i0 += R) {
    const int rows = std::min(R, T - i0), keys = visible_keys(i0 + rows, T, causal);
    // O[i0:i1] = P[i0:i1, 0:keys] · V[0:keys]
    gemm(false, false, rows, dh, keys, Real(1), p + std::size_t(i0) * T, T, v, dh, Real(0),
         o + std::size_t(i0) * dh, dh);
  }
}

void attention_values_backward(Real* dp, Real* dv, const Real* p, const Real* dout,
                               const Real* v, int T, int dh, bool causal) {
  const int R = row_block(T, causal);
  for (int b0 = 0; b0 < T; b0 += R) {
    const int n = std::min(R, T - b0), keys = visible_keys(b0 + n, T, causal);
    // As a query block: dP[b0:b1, 0:keys] = dO[b0:b1] · V[0:keys]ᵀ
    gemm(false, true, n, keys, dh, Real(1), dout + std::size_t(b0) * dh, dh, v, dh, Real(0),
         dp + std::size_t(b0) * T, T);
    // As a key block: dV[b0:b1] = P[q0:T, b0:b1]ᵀ · dO[q0:T]; queries before b0 cannot see
    // these keys when causal (q0 = b0), all can otherwise (q0 = 0).
    const int q0 = causal ? b0 : 0;
    gemm(true, false, n, dh, T - q0, Real(1), p + std::size_t(q0) * T + b0, T,
         dout + std::size_t(q0) * dh, dh, Real(0), dv + std::size_t(b0) * dh, dh);
  }
}

void attention_scores_backward(Real* dq, Real* dk, const Real* ds, const Real* q,
                               const Real* k, int T, int dh, bool causal, Real scale) {
  const int R = row_block(T, causal);
  for (int b0 = 0; b0 < T; b0 += R) {
    const int n = std::min(R, T - b0), keys = visible_keys(b0 + n, T, causal);
    // dQ[b0:b1] = scale · dS[b0:b1, 0:keys] · K[0:keys]
    gemm(false, false, n, dh, keys, scale, ds + std::size_t(b0) * T, T, k, dh, Real(0),
         dq + std::size_t(b0) * dh, dh);
    // dK[b0:b1] = scale · dS[q0:T, b0:b1]ᵀ · Q[q0:T]
    const int q0 = causal ? b0 : 0;
    gemm(true, false, n, dh, T - q0, scale, ds + std::size_t(q0) * T + b0, T,
         q + std::size_t(q0) * dh, dh, Real(0), dk + std::size_t(b0) * dh, dh);
  }
}

}  // namespace poslab
