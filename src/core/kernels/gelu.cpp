#include <algorithm>
#include <cmath>

#include "core/kernels/kernels.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE::kernels {

namespace {
constexpr Real kSqrt2OverPi = Real(0.7978845608028654);
constexpr Real kCubic = Real(0.044715);

// Elements per parallel work item: a multiple of every SIMD width, big enough that the
// OpenMP scheduling cost is negligible.
constexpr std::size_t kBlock = 4096;

// ---- float: SIMD tanh -----------------------------------------------------------------
// libm's tanhf is scalar (≈ 40 % of a training step when it was used here). This one
// works on whole Eigen packets and stays within 1 ulp of the correctly rounded tanh (max
// error measured over [-10, 10]; std::tanhf is within 2):
//   |u| <  0.625: Cephes' odd polynomial  u + u·z·P(z), z = u²  (no cancellation near 0)
//   |u| >= 0.625: sign(u) · (1 − 2 / (exp(2|u|) + 1))   with Eigen's vectorised exp
// Large |u|: exp saturates (Eigen clamps its argument), giving exactly ±1.
using PacketF = Eigen::internal::packet_traits<float>::type;
constexpr int kWidth = Eigen::internal::packet_traits<float>::size;

inline PacketF tanh_packet(const PacketF& u) {
  using namespace Eigen::internal;
  const PacketF one = pset1<PacketF>(1.0f), two = pset1<PacketF>(2.0f);
  const PacketF a = pabs(u);
  const PacketF z = pmul(u, u);
  PacketF p = pmadd(z, pset1<PacketF>(-5.70498872745e-3f), pset1<PacketF>(2.06390887954e-2f));
  p = pmadd(p, z, pset1<PacketF>(-5.37397155531e-2f));
  p = pmadd(p, z, pset1<PacketF>(1.33314422036e-1f));
  p = pmadd(p, z, pset1<PacketF>(-3.33332819422e-1f));
  const PacketF small = pmadd(pmul(p, z), u, u);
  const PacketF e = pexp(padd(a, a));
  const PacketF big = psub(one, pdiv(two, padd(e, one)));
  const PacketF signed_big = pselect(pcmp_lt(u, pzero(u)), pnegate(big), big);
  return pselect(pcmp_lt(a, pset1<PacketF>(0.625f)), small, signed_big);
}

// Applies `body(x_packet, i)` to [begin, end) one packet at a time; the tail goes through a
// zero-padded packet so that every element takes the same code path (same rounding).
template <class Body>
inline void for_each_packet(std::size_t begin, std::size_t end, const float* x, Body&& body) {
  using namespace Eigen::internal;
  std::size_t i = begin;
  for (; i + kWidth <= end; i += kWidth) body(ploadu<PacketF>(x + i), i, kWidth);
  if (i < end) {
    alignas(64) float tmp[kWidth] = {};
    std::copy(x + i, x + end, tmp);
    body(pload<PacketF>(tmp), i, int(end - i));
  }
}

// for_each_packet over [0, n), split into kBlock-element blocks shared among the OpenMP
// threads. kBlock is a multiple of the packet width, so only the last block has a tail.
// Element-wise: which thread takes a block changes no number, so blocks are handed out
// dynamically (a thread whose core is shared with another process takes fewer).
template <class Body>
inline void parallel_for_each_packet(std::size_t n, const float* x, Body&& body) {
  const std::size_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(dynamic, 4)
  for (std::size_t blk = 0; blk < blocks; ++blk) {
    const std::size_t begin = blk * kBlock;
    for_each_packet(begin, std::min(n, begin + kBlock), x, body);
  }
}

inline void store_partial(float* dst, const PacketF& v, int count) {
  using namespace Eigen::internal;
  if (count == kWidth) {
    pstoreu(dst, v);
  } else {
    alignas(64) float tmp[kWidth];
    pstore(tmp, v);
    std::copy(tmp, tmp + count, dst);
  }
}

inline PacketF load_partial(const float* src, int count) {
  using namespace Eigen::internal;
  if (count == kWidth) return ploadu<PacketF>(src);
  alignas(64) float tmp[kWidth] = {};
  std::copy(src, src + count, tmp);
  return pload<PacketF>(tmp);
}

[[maybe_unused]] void gelu_forward_impl(float* y, const float* x, std::size_t n) {
  using namespace Eigen::internal;
  parallel_for_each_packet(n, x, [&](const PacketF& v, std::size_t i, int count) {
    const PacketF v3 = pmul(pmul(pset1<PacketF>(kCubic), v), pmul(v, v));
    const PacketF u = pmul(pset1<PacketF>(kSqrt2OverPi), padd(v, v3));
    const PacketF t = tanh_packet(u);
    const PacketF out =
        pmul(pmul(pset1<PacketF>(0.5f), v), padd(pset1<PacketF>(1.0f), t));
    store_partial(y + i, out, count);
  });
}

[[maybe_unused]] void gelu_backward_impl(float* dx, const float* dy, const float* x, std::size_t n,
                                         bool accumulate) {
  using namespace Eigen::internal;
  parallel_for_each_packet(n, x, [&](const PacketF& v, std::size_t i, int count) {
    const PacketF one = pset1<PacketF>(1.0f), half = pset1<PacketF>(0.5f);
    const PacketF vv = pmul(v, v);
    const PacketF u =
        pmul(pset1<PacketF>(kSqrt2OverPi), padd(v, pmul(pmul(pset1<PacketF>(kCubic), v), vv)));
    const PacketF t = tanh_packet(u);
    const PacketF du =
        pmul(pset1<PacketF>(kSqrt2OverPi),
             padd(one, pmul(pmul(pset1<PacketF>(3.0f * kCubic), v), v)));
    const PacketF grad = padd(pmul(half, padd(one, t)),
                              pmul(pmul(pmul(half, v), psub(one, pmul(t, t))), du));
    const PacketF g = pmul(load_partial(dy + i, count), grad);
    store_partial(dx + i, accumulate ? padd(load_partial(dx + i, count), g) : g, count);
  });
}

// double (finite-difference and parity tests): libm's tanh, scalar.
[[maybe_unused]] void gelu_forward_impl(double* y, const double* x, std::size_t n) {
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) {
    const double v = x[i];
    y[i] = 0.5 * v * (1.0 + std::tanh(kSqrt2OverPi * (v + kCubic * v * v * v)));
  }
}

[[maybe_unused]] void gelu_backward_impl(double* dx, const double* dy, const double* x,
                                         std::size_t n, bool accumulate) {
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) {
    const double v = x[i];
    const double u = kSqrt2OverPi * (v + kCubic * v * v * v);
    const double t = std::tanh(u);
    const double du = kSqrt2OverPi * (1.0 + 3.0 * kCubic * v * v);
    const double grad = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * du;
    dx[i] = accumulate ? dx[i] + dy[i] * grad : dy[i] * grad;
  }
}
}  // namespace

void gelu_forward(Real* y, const Real* x, std::size_t n) { gelu_forward_impl(y, x, n); }

void gelu_backward(Real* dx, const Real* dy, const Real* x, std::size_t n, bool accumulate) {
  gelu_backward_impl(dx, dy, x, n, accumulate);
}

}  // namespace poslab::kernels
