#include <algorithm>
#include <cmath>

#include "core/kernels/column_split.h"
#include "core/kernels/kernels.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE::kernels {

namespace {
constexpr double kEps = 1e-5;

// Σ_c f(c) over [0, C) in double, as 8 interleaved partial sums added in a fixed order: the
// compiler vectorises the lanes (one running sum is a chain of C dependent adds, the row's
// critical path). The order depends only on C, so results are reproducible.
template <class F>
inline double lane_sum(int C, F f) {
  constexpr int L = 8;
  double acc[L] = {};
  int c = 0;
  for (; c + L <= C; c += L)
    for (int l = 0; l < L; ++l) acc[l] += f(c + l);
  double total = 0;
  for (int l = 0; l < L; ++l) total += acc[l];
  for (; c < C; ++c) total += f(c);
  return total;
}
}  // namespace

void layernorm_forward(Real* y, Real* mean, Real* rstd, const Real* x, const Real* gamma,
                       const Real* beta, int N, int C) {
  // Rows are independent and each is computed whole by one thread: a dynamic schedule
  // changes no number and lets a thread on a shared core take fewer rows.
#pragma omp parallel for schedule(dynamic, 64)
  for (int n = 0; n < N; ++n) {
    const Real* xr = x + std::size_t(n) * C;
    Real* yr = y + std::size_t(n) * C;
    // Two passes (mean, then centred variance) for accuracy in float.
    const double m = lane_sum(C, [&](int c) { return double(xr[c]); }) / C;
    const double v = lane_sum(C, [&](int c) { return (xr[c] - m) * (xr[c] - m); }) / C;
    const double s = 1.0 / std::sqrt(v + kEps);
    for (int c = 0; c < C; ++c) yr[c] = static_cast<Real>((xr[c] - m) * s) * gamma[c] + beta[c];
    mean[n] = static_cast<Real>(m);
    rstd[n] = static_cast<Real>(s);
  }
}

void layernorm_backward(Real* dx, Real* dgamma, Real* dbeta, const Real* dy, const Real* x,
                        const Real* mean, const Real* rstd, const Real* gamma, int N, int C) {
  // dx = rstd * (g - mean(g) - xhat * mean(g ⊙ xhat)), with g = dy ⊙ gamma.
#pragma omp parallel for schedule(dynamic, 64)
  for (int n = 0; n < N; ++n) {
    const Real* xr = x + std::size_t(n) * C;
    const Real* dyr = dy + std::size_t(n) * C;
    Real* dxr = dx + std::size_t(n) * C;
    const double g_mean = lane_sum(C, [&](int c) { return double(dyr[c] * gamma[c]); }) / C;
    const double gx_mean = lane_sum(C, [&](int c) {
                             return double(dyr[c] * gamma[c]) * ((xr[c] - mean[n]) * rstd[n]);
                           }) / C;
    for (int c = 0; c < C; ++c) {
      const double xhat = (xr[c] - mean[n]) * rstd[n];
      const double g = dyr[c] * gamma[c];
      dxr[c] += static_cast<Real>(rstd[n] * (g - g_mean - xhat * gx_mean));
    }
  }
  // Parameter gradients: a column reduction, deterministic for any thread count.
#pragma omp parallel
  {
    const auto [c0, c1] = this_threads_columns(C);
    for (int n = 0; n < N && c0 < c1; ++n) {
      const Real* xr = x + std::size_t(n) * C;
      const Real* dyr = dy + std::size_t(n) * C;
      const Real m = mean[n], s = rstd[n];
      for (int c = c0; c < c1; ++c) {
        dgamma[c] += dyr[c] * (xr[c] - m) * s;
        dbeta[c] += dyr[c];
      }
    }
  }
}

}  // namespace poslab::kernels
