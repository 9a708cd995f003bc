#pragma once
// Sums whose rounding depends only on the row length, never on its address.
//
// Eigen's sum() over a Map starts its packets at the first aligned element, so the same
// numbers summed at two addresses can round differently (issue 18). These helpers load
// packets from the first element (unaligned loads) and combine them in a fixed order.
#include <algorithm>
#include <cmath>
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

// max of x[0..n), n >= 1 (exact in any order).
inline Real max_of(const Real* x, int n) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Real>::type;
  constexpr int W = packet_traits<Real>::size;
  int i = 0;
  Real m = x[0];
  if (n >= W) {
    Packet p = ploadu<Packet>(x);
    for (i = W; i + W <= n; i += W) p = pmax(p, ploadu<Packet>(x + i));
    m = predux_max(p);
  }
  for (; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

// x[j] = exp(x[j] - m) for j < n; returns Σ_j x[j]. One pass (the softmax's hot loop), with
// packets loaded from x[0] and summed in a fixed order, so the result depends on n only,
// never on x's address (as row_sum above).
inline Real exp_shifted_sum(Real* x, int n, Real m) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Real>::type;
  constexpr int W = packet_traits<Real>::size;
  const Packet shift = pset1<Packet>(m);
  Packet a = pzero(shift), b = pzero(shift);
  int i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    const Packet ea = pexp(psub(ploadu<Packet>(x + i), shift));
    const Packet eb = pexp(psub(ploadu<Packet>(x + i + W), shift));
    pstoreu(x + i, ea);
    pstoreu(x + i + W, eb);
    a = padd(a, ea);
    b = padd(b, eb);
  }
  if (i + W <= n) {
    const Packet ea = pexp(psub(ploadu<Packet>(x + i), shift));
    pstoreu(x + i, ea);
    a = padd(a, ea);
    i += W;
  }
  Real total = predux(padd(a, b));
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    total += x[i];
  }
  return total;
}

}  // namespace poslab::kernels
