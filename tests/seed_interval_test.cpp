// The bootstrap interval of `poslab report --ci` (io/seed_interval.h) against exact
// computations: for n values there are n^n equally likely resamples, so the bootstrap
// distribution of the mean can be enumerated and its percentiles known without sampling.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "io/seed_interval.h"

namespace poslab {
namespace {

// Every one of the n^n resamples' means, sorted: the exact bootstrap distribution.
std::vector<double> all_resample_means(const std::vector<double>& v) {
  const std::size_t n = v.size();
  std::size_t total = 1;
  for (std::size_t i = 0; i < n; ++i) total *= n;
  std::vector<double> means;
  for (std::size_t code = 0; code < total; ++code) {
    double sum = 0;
    std::size_t c = code;
    for (std::size_t i = 0; i < n; ++i, c /= n) sum += v[c % n];
    means.push_back(sum / double(n));
  }
  std::sort(means.begin(), means.end());
  return means;
}

// The exact distribution's q-quantile as the smallest mean with cumulative mass >= q.
double exact_quantile(const std::vector<double>& sorted, double q) {
  const std::size_t k = static_cast<std::size_t>(std::ceil(q * double(sorted.size())));
  return sorted[std::max<std::size_t>(k, 1) - 1];
}

TEST(SeedInterval, MeanAndSampleSd) {
  const SeedInterval s = seed_interval({0.5, 0.6, 0.9});
  EXPECT_DOUBLE_EQ(s.mean, 2.0 / 3);
  // sd = sqrt(((0.5-2/3)^2 + (0.6-2/3)^2 + (0.9-2/3)^2) / 2) = sqrt(0.0433333...) = 0.2081666
  EXPECT_NEAR(s.sd, 0.20816659994661327, 1e-15);
  EXPECT_EQ(s.n, 3);
}

TEST(SeedInterval, ThreeSeedsByHand) {
  // 27 resamples; the smallest mean (all 0.5) and the largest (all 0.9) each have mass
  // 1/27 = 3.7% > 2.5%, so the 95% interval is exactly [0.5, 0.9].
  const SeedInterval s = seed_interval({0.5, 0.6, 0.9});
  ASSERT_TRUE(s.has_interval);
  EXPECT_DOUBLE_EQ(s.lower, 0.5);
  EXPECT_DOUBLE_EQ(s.upper, 0.9);
}

TEST(SeedInterval, FiveSeedsAgainstTheEnumeratedDistribution) {
  const std::vector<double> v{0.1, 0.4, 0.45, 0.8, 0.95};
  const auto exact = all_resample_means(v);  // 3125 means
  const SeedInterval s = seed_interval(v);
  ASSERT_TRUE(s.has_interval);
  // 10,000 resamples estimate the 2.5% and 97.5% quantiles to within about ±0.5% of mass
  // (binomial sd 0.16%): the estimate lies between the exact 1.5% and 3.5% quantiles.
  EXPECT_GE(s.lower, exact_quantile(exact, 0.015));
  EXPECT_LE(s.lower, exact_quantile(exact, 0.035));
  EXPECT_GE(s.upper, exact_quantile(exact, 0.965));
  EXPECT_LE(s.upper, exact_quantile(exact, 0.985));
  EXPECT_LT(s.lower, s.mean);
  EXPECT_GT(s.upper, s.mean);
}

TEST(SeedInterval, DeterministicAndResamplesMatter) {
  const std::vector<double> v{0.1, 0.4, 0.45, 0.8, 0.95};
  const SeedInterval a = seed_interval(v), b = seed_interval(v);
  EXPECT_EQ(a.lower, b.lower);
  EXPECT_EQ(a.upper, b.upper);
  const SeedInterval other_seed = seed_interval(v, 0.95, kDefaultResamples, 7);
  EXPECT_TRUE(other_seed.lower != a.lower || other_seed.upper != a.upper);
}

TEST(SeedInterval, OneSeedHasNoIntervalAndEqualSeedsAZeroWidthOne) {
  const SeedInterval one = seed_interval({0.7});
  EXPECT_FALSE(one.has_interval);
  EXPECT_DOUBLE_EQ(one.mean, 0.7);
  EXPECT_DOUBLE_EQ(one.sd, 0.0);
  const SeedInterval same = seed_interval({0.25, 0.25, 0.25});
  ASSERT_TRUE(same.has_interval);
  EXPECT_DOUBLE_EQ(same.lower, 0.25);
  EXPECT_DOUBLE_EQ(same.upper, 0.25);
  const SeedInterval none = seed_interval({0.2, 0.4}, 0.95, 0);
  EXPECT_FALSE(none.has_interval);
  EXPECT_NEAR(none.sd, std::sqrt(0.02), 1e-15);
}

TEST(SeedInterval, RefusesBadInput) {
  EXPECT_THROW(seed_interval({}), std::invalid_argument);
  EXPECT_THROW(seed_interval({0.1, NAN}), std::invalid_argument);
  EXPECT_THROW(seed_interval({0.1, 0.2}, 1.0), std::invalid_argument);
  EXPECT_THROW(seed_interval({0.1, 0.2}, 0.95, 1), std::invalid_argument);
}

}  // namespace
}  // namespace poslab
