#include <algorithm>

#include "core/kernels/column_split.h"
#include "core/kernels/gemm.h"
#include "core/kernels/kernels.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE::kernels {

void linear_forward(Real* y, const Real* x, const Real* w, const Real* b, int N, int I, int O,
                    const Real* residual) {
  if (!b && !residual) {  // Y = X · Wᵀ
    gemm(false, true, N, O, I, Real(1), x, I, w, I, Real(0), y, O);
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
  gemm(false, true, N, O, I, Real(1), x, I, w, I, Real(1), y, O);
}

void linear_backward(Real* dx, Real* dw, Real* db, const Real* dy, const Real* x, const Real* w,
                     int N, int I, int O, bool accumulate_dx) {
  // dx [N, I] += dY [N, O] · W [O, I];  dw [O, I] += dYᵀ · X [N, I]
  if (dx) gemm(false, false, N, I, O, Real(1), dy, O, w, I, Real(accumulate_dx), dx, I);
  gemm(true, false, O, I, N, Real(1), dy, O, x, I, Real(1), dw, I);
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
