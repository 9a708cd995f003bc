#pragma once
// T5's bucketing of relative positions (Raffel et al. 2020, "Exploring the Limits of Transfer
// Learning with a Unified Text-to-Text Transformer", section 2.1), shared by the t5 encoder
// and its tests.
//
// rp = j - i is the key position minus the query position.
//   bidirectional: half of the buckets per direction; keys after the query (rp > 0) use the
//                  upper half [num_buckets/2, num_buckets), and n = |rp|;
//   causal:        all buckets look back, n = max(-rp, 0) (future keys are masked anyway).
// Within one direction of `nb` buckets, the first max_exact = nb/2 buckets hold one distance
// each (n = 0 .. max_exact - 1); the rest split [max_exact, max_distance) logarithmically:
//   bucket = max_exact + floor(log(n / max_exact) / log(max_distance / max_exact)
//                              * (nb - max_exact)),
// capped at nb - 1, so every n >= max_distance shares the last bucket.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include "core/real.h"  // POSLAB_REAL_NAMESPACE

namespace poslab::inline POSLAB_REAL_NAMESPACE {

// Requires num_buckets >= 2 (>= 4 when bidirectional) and max_distance > max_exact; the
// t5 encoder validates its options against these before calling.
inline int t5_bucket(int relative_position, bool bidirectional, int num_buckets,
                     int max_distance) {
  int bucket = 0;
  int nb = num_buckets;
  int n = 0;
  if (bidirectional) {
    nb /= 2;
    if (relative_position > 0) bucket += nb;
    n = std::abs(relative_position);
  } else {
    n = std::max(-relative_position, 0);
  }
  const int max_exact = nb / 2;
  if (n < max_exact) return bucket + n;
  // log2 rather than ln: ratios of powers of two (the common case, e.g. 32/128) are then
  // exact. The value sits exactly on an integer at distances such as 16 or 64 in the
  // bidirectional defaults; rounding must not drop those into the bucket below, so a value
  // within 1e-9 of an integer is taken to be that integer.
  double v = std::log2(double(n) / max_exact) / std::log2(double(max_distance) / max_exact) *
             (nb - max_exact);
  const double nearest = std::round(v);
  if (std::abs(v - nearest) < 1e-9) v = nearest;
  const int large = max_exact + static_cast<int>(std::floor(v));
  return bucket + std::min(large, nb - 1);
}

}  // namespace poslab
