#pragma once
// Uncertainty of a mean over seeds, for `poslab report --ci`: the sample mean and standard
// deviation and a percentile bootstrap interval (Efron 1979): draw `resamples` samples of
// n values with replacement from the n seeds' values, take each sample's mean, and report
// the (1 - level)/2 and (1 + level)/2 quantiles of those means (linear interpolation
// between order statistics, numpy's default: position q·(B − 1) in the sorted means).
// Resampling is deterministic: every call starts a fresh xoshiro stream from `seed`, so
// the same values give the same interval whatever else the report prints.
// With one value there is nothing to resample: no interval (has_interval false).
#include <cstdint>
#include <vector>

namespace poslab {

struct SeedInterval {
  int n = 0;
  double mean = 0;
  double sd = 0;               // sample standard deviation (n − 1); 0 when n = 1
  bool has_interval = false;   // n >= 2
  double lower = 0, upper = 0; // the percentile bootstrap interval of the mean
};

inline constexpr int kDefaultResamples = 10000;
inline constexpr std::uint64_t kBootstrapSeed = 20231210;

// `values` must be finite and non-empty (std::invalid_argument otherwise); level in (0, 1);
// resamples >= 2, or 0 for the mean and sd alone (no interval).
SeedInterval seed_interval(const std::vector<double>& values, double level = 0.95,
                           int resamples = kDefaultResamples, std::uint64_t seed = kBootstrapSeed);

}  // namespace poslab
