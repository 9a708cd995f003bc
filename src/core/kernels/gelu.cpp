#include <cmath>

#include "core/kernels/kernels.h"

namespace poslab::kernels {

namespace {
constexpr Real kSqrt2OverPi = Real(0.7978845608028654);
constexpr Real kCubic = Real(0.044715);
}  // namespace

void gelu_forward(Real* y, const Real* x, std::size_t n) {
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) {
    const Real v = x[i];
    y[i] = Real(0.5) * v * (Real(1) + std::tanh(kSqrt2OverPi * (v + kCubic * v * v * v)));
  }
}

void gelu_backward(Real* dx, const Real* dy, const Real* x, std::size_t n) {
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) {
    const Real v = x[i];
    const Real u = kSqrt2OverPi * (v + kCubic * v * v * v);
    const Real t = std::tanh(u);
    const Real du = kSqrt2OverPi * (Real(1) + Real(3) * kCubic * v * v);
    const Real grad = Real(0.5) * (Real(1) + t) + Real(0.5) * v * (Real(1) - t * t) * du;
    dx[i] += dy[i] * grad;
  }
}

}  // namespace poslab::kernels
