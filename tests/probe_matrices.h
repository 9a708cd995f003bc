#pragma once
// Canned position matrices for the probe tests, written out from their definitions rather
// than taken from the encoders, so that a probe test does not inherit an encoder's bug.
#include <Eigen/Dense>

#include <cmath>
#include <cstdint>

#include "core/rng.h"

namespace poslab {

// docs/design.md: P(k,2i) = sin(k / n^(2i/d)), P(k,2i+1) = cos(k / n^(2i/d)). [L, d]
inline Eigen::MatrixXd sinusoidal_matrix(int L, int d, double n = 10000.0) {
  Eigen::MatrixXd P(L, d);
  for (int k = 0; k < L; ++k)
    for (int i = 0; i < d / 2; ++i) {
      const double angle = k / std::pow(n, 2.0 * i / d);
      P(k, 2 * i) = std::sin(angle);
      P(k, 2 * i + 1) = std::cos(angle);
    }
  return P;
}

// Standard normal entries from Rng(seed), row by row. [rows, cols]
inline Eigen::MatrixXd gaussian_matrix(int rows, int cols, std::uint64_t seed) {
  Rng rng(seed);
  Eigen::MatrixXd X(rows, cols);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) X(r, c) = rng.normal();
  return X;
}

}  // namespace poslab
