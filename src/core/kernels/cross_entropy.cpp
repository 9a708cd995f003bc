#include <algorithm>
#include <cmath>
#include <vector>

#include "core/kernels/kernels.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE::kernels {

namespace {
int count_mask(const std::uint8_t* mask, int N) {
  int count = 0;
  for (int n = 0; n < N; ++n) count += mask[n] ? 1 : 0;
  return count;
}
}  // namespace

double cross_entropy_forward(const Real* logits, const std::int32_t* targets,
                             const std::uint8_t* mask, int N, int V, Real* position_loss,
                             std::uint8_t* correct) {
  const int count = count_mask(mask, N);
  // Per-position losses are summed serially afterwards so that the total does not depend
  // on how OpenMP combines partial sums.
  std::vector<double> losses(N, 0.0);
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const Real* row = logits + std::size_t(n) * V;
    // log-sum-exp in double: the loss is reported, so keep it accurate.
    const int best = static_cast<int>(std::max_element(row, row + V) - row);
    const double mx = row[best];
    double sum = 0;
    for (int v = 0; v < V; ++v) sum += std::exp(double(row[v]) - mx);
    const double loss = mx + std::log(sum) - row[targets[n]];
    if (position_loss) position_loss[n] = mask[n] ? static_cast<Real>(loss) : Real(0);
    if (correct) correct[n] = (best == targets[n]) ? 1 : 0;
    if (mask[n]) losses[n] = loss;
  }
  double total = 0;
  for (double l : losses) total += l;
  return count > 0 ? total / count : 0.0;
}

void cross_entropy_backward(Real* dlogits, const Real* logits, const std::int32_t* targets,
                            const std::uint8_t* mask, int N, int V, long scored_tokens) {
  const long count = scored_tokens > 0 ? scored_tokens : count_mask(mask, N);
  const Real scale = count > 0 ? Real(1) / Real(count) : Real(0);
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const Real* row = logits + std::size_t(n) * V;
    Real* drow = dlogits + std::size_t(n) * V;
    if (!mask[n]) {
      std::fill(drow, drow + V, Real(0));
      continue;
    }
    const Real mx = *std::max_element(row, row + V);
    Real sum = 0;
    for (int v = 0; v < V; ++v) {
      drow[v] = std::exp(row[v] - mx);
      sum += drow[v];
    }
    const Real inv = scale / sum;
    for (int v = 0; v < V; ++v) drow[v] *= inv;
    drow[targets[n]] -= scale;
  }
}

}  // namespace poslab::kernels
