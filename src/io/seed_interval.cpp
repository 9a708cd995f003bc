#include "io/seed_interval.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/rng.h"

namespace poslab {

namespace {

// numpy.quantile(sorted, q) with the default "linear" method.
double quantile_sorted(const std::vector<double>& sorted, double q) {
  const double position = q * double(sorted.size() - 1);
  const std::size_t below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, sorted.size() - 1);
  return sorted[below] + (position - double(below)) * (sorted[above] - sorted[below]);
}

}  // namespace

SeedInterval seed_interval(const std::vector<double>& values, double level, int resamples,
                           std::uint64_t seed) {
  if (values.empty()) throw std::invalid_argument("seed_interval: no values");
  for (double v : values)
    if (!std::isfinite(v)) throw std::invalid_argument("seed_interval: a value is not finite");
  if (!(level > 0 && level < 1) || resamples < 0 || resamples == 1)
    throw std::invalid_argument("seed_interval: expected 0 < level < 1 and resamples 0 or >= 2, got level " +
                                std::to_string(level) + ", resamples " + std::to_string(resamples));
  SeedInterval out;
  const int n = static_cast<int>(values.size());
  out.n = n;
  for (double v : values) out.mean += v;
  out.mean /= n;
  if (n == 1) return out;
  double ss = 0;
  for (double v : values) ss += (v - out.mean) * (v - out.mean);
  out.sd = std::sqrt(ss / (n - 1));
  if (resamples == 0) return out;

  Rng rng(seed);
  std::vector<double> means(static_cast<std::size_t>(resamples));
  for (double& m : means) {
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += values[static_cast<std::size_t>(rng.uniform_int(0, n - 1))];
    m = sum / n;
  }
  std::sort(means.begin(), means.end());
  out.has_interval = true;
  out.lower = quantile_sorted(means, (1 - level) / 2);
  out.upper = quantile_sorted(means, (1 + level) / 2);
  return out;
}

}  // namespace poslab
