#include <algorithm>
#include <cmath>

#include "core/kernels/kernels.h"

namespace poslab::kernels {

void softmax_rows_forward(Real* scores, int T, bool causal) {
  for (int i = 0; i < T; ++i) {
    Real* row = scores + std::size_t(i) * T;
    const int n = causal ? i + 1 : T;  // keys this query may attend to
    Real mx = row[0];
    for (int j = 1; j < n; ++j) mx = std::max(mx, row[j]);
    Real sum = 0;
    for (int j = 0; j < n; ++j) {
      row[j] = std::exp(row[j] - mx);
      sum += row[j];
    }
    const Real inv = Real(1) / sum;
    for (int j = 0; j < n; ++j) row[j] *= inv;
    for (int j = n; j < T; ++j) row[j] = 0;
  }
}

void softmax_rows_backward(Real* ds, const Real* p, const Real* dp, int T, bool causal) {
  for (int i = 0; i < T; ++i) {
    const std::size_t o = std::size_t(i) * T;
    const int n = causal ? i + 1 : T;
    Real dot = 0;
    for (int j = 0; j < n; ++j) dot += p[o + j] * dp[o + j];
    for (int j = 0; j < n; ++j) ds[o + j] = p[o + j] * (dp[o + j] - dot);
    for (int j = n; j < T; ++j) ds[o + j] = 0;
  }
}

}  // namespace poslab::kernels
