#include <algorithm>

#include "core/kernels/column_split.h"
#include "core/kernels/kernels.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE::kernels {

void linear_forward(Real* y, const Real* x, const Real* w, const Real* b, int N, int I, int O,
                    const Real* residual) {
  MapR Y(y, N, O);
  CMapR X(x, N, I), W(w, O, I);
  if (!b && !residual) {
    Y.noalias() = X * W.transpose();
    return;
  }
  // Start Y at bias (+ residual), then let the GEMM accumulate into it: one pass fewer than
  // GEMM (which zero-fills Y first) followed by separate bias and residual passes.
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    Real* yr = y + std::size_t(n) * O;
    const Real* rr = residual ? residual + std::size_t(n) * O : nullptr;
    if (b && rr)
      for (int o = 0; o < O; ++o) yr[o] = rr[o] + b[o];
    else if (b)
      std::copy_n(b, O, yr);
    else
      std::copy_n(rr, O, yr);
  }
  Y.noalias() += X * W.transpose();
}

void linear_backward(Real* dx, Real* dw, Real* db, const Real* dy, const Real* x, const Real* w,
                     int N, int I, int O) {
  CMapR dY(dy, N, O), X(x, N, I), W(w, O, I);
  if (dx) MapR(dx, N, I).noalias() += dY * W;
  MapR(dw, O, I).noalias() += dY.transpose() * X;
  if (db) {
    // Column sums of dY, deterministic for any thread count.
#pragma omp parallel
    {
      const auto [c0, c1] = this_threads_columns(O);
      for (int n = 0; n < N && c0 < c1; ++n) {
        const Real* dyr = dy + std::size_t(n) * O;
        for (int c = c0; c < c1; ++c) db[c] += dyr[c];
      }
    }
  }
}

}  // namespace poslab::kernels
