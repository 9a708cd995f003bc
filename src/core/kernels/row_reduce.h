#pragma once
// Sums whose rounding depends only on the row length, never on its address.
//
// Eigen's sum() over a Map starts its packets at the first aligned element, so the same
// numbers summed at two addresses can round differently (issue 18). These helpers load
// packets from the first element (unaligned loads) and combine them in a fixed order.
#include <cstddef>

#include "core/real.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE::kernels {

// Σ x[0..n)  with two packet accumulators from x[0], then the tail in order.
inline Real row_sum(const Real* x, std::size_t n) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Real>::type;
  constexpr std::size_t W = packet_traits<Real>::size;
  std::size_t i = 0;
  Real total = 0;
  if (n >= 2 * W) {
    Packet a = ploadu<Packet>(x), b = ploadu<Packet>(x + W);
    for (i = 2 * W; i + 2 * W <= n; i += 2 * W) {
      a = padd(a, ploadu<Packet>(x + i));
      b = padd(b, ploadu<Packet>(x + i + W));
    }
    total = predux(padd(a, b));
  }
  for (; i < n; ++i) total += x[i];
  return total;
}

}  // namespace poslab::kernels
