#include <algorithm>
#include <cmath>

#include "core/kernels/kernels.h"
#include "core/kernels/row_reduce.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE::kernels {

namespace {
using ArrR = Eigen::Array<Real, Eigen::Dynamic, 1>;
using MapArr = Eigen::Map<ArrR>;
using CMapArr = Eigen::Map<const ArrR>;
}  // namespace

// The row primitives of the streaming attention (row_reduce.h): exp (Eigen's SIMD exp,
// ~1 ulp) and the sum in one pass, summed in an order that depends only on the row length
// (never on the address or the thread count); max is exact in any order.
void softmax_rows_forward(Real* scores, int T, bool causal) {
  for (int i = 0; i < T; ++i) {
    Real* row = scores + std::size_t(i) * T;
    const int n = causal ? i + 1 : T;  // keys this query may attend to
    const Real inv = Real(1) / exp_shifted_sum(row, n, max_of(row, n));
    MapArr(row, n) *= inv;
    std::fill(row + n, row + T, Real(0));
  }
}

void softmax_rows_backward(Real* ds, const Real* p, const Real* dp, int T, bool causal) {
  for (int i = 0; i < T; ++i) {
    const std::size_t o = std::size_t(i) * T;
    const int n = causal ? i + 1 : T;
    CMapArr pr(p + o, n), dpr(dp + o, n);
    const Real dot = (pr * dpr).sum();
    // ds may alias dp: the dot product above is taken before the row is written.
    MapArr(ds + o, n) = pr * (dpr - dot);
    std::fill(ds + o + n, ds + o + T, Real(0));
  }
}

}  // namespace poslab::kernels
