#pragma once
// The rotation RoPE and xPos share: dimensions (2m, 2m+1) of each query/key row at
// position t turned by the angle whose cos/sin the encoder tabulated (cos and sin scaled
// by a magnitude where the scheme has one). direction +1 is the forward map; -1 applies
// the transpose (the backward pass), which for a scaled rotation is the rotation by -φ
// with the same scale.
#include <cstddef>

#include "core/real.h"  // POSLAB_REAL_NAMESPACE
#include "encoders/encoder.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {

// x [B, H, T, dh] in place; cos, sin [T, d_rot/2] (row t for position t); dimensions
// d_rot..dh-1 are left alone.
inline void rotate_pairs(Real* x, const Real* cos, const Real* sin, int d_rot, const AttnDims& d,
                         int direction) {
  const int half = d_rot / 2;
  const Real sign = Real(direction);
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < d.B * d.H; ++bh)
    for (int t = 0; t < d.T; ++t) {
      Real* row = x + (std::size_t(bh) * d.T + t) * d.dh;
      const Real* c = cos + std::size_t(t) * half;
      const Real* s = sin + std::size_t(t) * half;
      for (int m = 0; m < half; ++m) {
        const Real x0 = row[2 * m], x1 = row[2 * m + 1], sm = sign * s[m];
        row[2 * m] = x0 * c[m] - x1 * sm;
        row[2 * m + 1] = x0 * sm + x1 * c[m];
      }
    }
}

}  // namespace poslab::inline POSLAB_REAL_NAMESPACE
