#include "train/metrics.h"

#include <algorithm>
#include <cmath>

namespace poslab::inline POSLAB_REAL_NAMESPACE {

void MetricSums::add(double mean_loss, const std::vector<std::uint8_t>& correct,
                     const std::vector<std::uint8_t>& mask, int B, int T) {
  long scored = 0;
  for (int b = 0; b < B; ++b) {
    long example_scored = 0, example_correct = 0;
    for (int t = 0; t < T; ++t) {
      const std::size_t n = std::size_t(b) * T + t;
      if (!mask[n]) continue;
      ++example_scored;
      example_correct += correct[n] ? 1 : 0;
    }
    scored += example_scored;
    correct_tokens += example_correct;
    if (example_scored > 0) {
      ++examples;
      exact_examples += (example_correct == example_scored) ? 1 : 0;
    }
  }
  scored_tokens += scored;
  loss_sum += mean_loss * scored;
}

namespace {
constexpr int kFirstBucketEnd = 8;

template <class Real>
void add_profile(PositionProfile& p, const Real* loss, const std::uint8_t* mask, int B, int T) {
  for (std::size_t k = 0; k < p.bucket_start.size(); ++k) {
    const int lo = int(p.bucket_start[k]), hi = int(p.bucket_end[k]);
    double sum = 0;
    long n = 0;
    for (int b = 0; b < B; ++b)
      for (int t = lo; t < hi && t < T; ++t) {
        const std::size_t i = std::size_t(b) * T + t;
        if (!mask[i]) continue;
        sum += double(loss[i]);
        ++n;
      }
    p.loss_sum[k] += sum;
    p.tokens[k] += double(n);
  }
}
}  // namespace

PositionProfile::PositionProfile(int T) {
  for (int start = 0, end = kFirstBucketEnd; start < T; start = end, end *= 2) {
    bucket_start.push_back(start);
    bucket_end.push_back(std::min(end, T));
  }
  loss_sum.assign(bucket_start.size(), 0);
  tokens.assign(bucket_start.size(), 0);
}

void PositionProfile::add(const float* position_loss, const std::uint8_t* mask, int B, int T) {
  add_profile(*this, position_loss, mask, B, T);
}
void PositionProfile::add(const double* position_loss, const std::uint8_t* mask, int B, int T) {
  add_profile(*this, position_loss, mask, B, T);
}

std::vector<double> PositionProfile::mean_loss() const {
  std::vector<double> out(tokens.size());
  for (std::size_t k = 0; k < out.size(); ++k)
    out[k] = tokens[k] > 0 ? loss_sum[k] / tokens[k] : NAN;
  return out;
}

}  // namespace poslab
