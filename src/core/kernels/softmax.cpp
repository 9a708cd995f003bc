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

// Rows go through Eigen's array ops so that exp (Eigen's SIMD exp, ~1 ulp) is vectorised;
// the sum is row_sum, whose order depends only on the row length (never on the address or
// the thread count). max is exact in any order.
void softmax_rows_forward(Real* scores, int T, bool causal) {
  for (int i = 0; i < T; ++i) {
    Real* row = scores + std::size_t(i) * T;
    const int n = causal ? i + 1 : T;  // keys this query may attend to
    MapArr r(row, n);
    const Real mx = r.maxCoeff();
    r = (r - mx).exp();
    const Real inv = Real(1) / row_sum(row, n);
    r *= inv;
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
