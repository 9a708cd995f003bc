#pragma once
// Central finite differences in double precision, shared by the gradient-check suites.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/real.h"

namespace poslab::testing {

static_assert(sizeof(Real) == sizeof(double), "gradient checks need the double build");

// Checks d f / d x[i] against analytic[i] for every i (f is evaluated with x perturbed in
// place). Tolerance: |a - n| <= atol + rtol * max(|a|, |n|).
inline void expect_gradient(const std::string& what, double* x, std::size_t n,
                            const std::function<double()>& f, const double* analytic,
                            double rtol = 1e-6, double atol = 1e-8, double h = 1e-6) {
  int failures = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double up = f();
    x[i] = saved - h;
    const double down = f();
    x[i] = saved;
    const double numeric = (up - down) / (2 * h);
    const double tol = atol + rtol * std::max(std::abs(analytic[i]), std::abs(numeric));
    if (std::abs(analytic[i] - numeric) > tol && failures++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: analytic " << analytic[i] << " vs numeric "
                    << numeric;
  }
  EXPECT_EQ(failures, 0) << what << ": " << failures << " of " << n << " entries differ";
}

inline std::vector<double> random_vector(std::size_t n, unsigned seed, double scale = 1.0) {
  std::vector<double> v(n);
  unsigned s = seed * 2654435761u + 12345u;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = scale * (double(s >> 8) / double(1u << 24) * 2.0 - 1.0);
  }
  return v;
}

}  // namespace poslab::testing
