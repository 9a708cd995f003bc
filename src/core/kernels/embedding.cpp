#include <algorithm>

#include "core/kernels/kernels.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE::kernels {

void embedding_forward(Real* out, const std::int32_t* ids, const Real* table, int N, int C) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) std::copy_n(table + std::size_t(ids[n]) * C, C, out + std::size_t(n) * C);
}

void embedding_backward(Real* dtable, const Real* dout, const std::int32_t* ids, int N, int C) {
  // Serial: the same id can appear at many positions, and a fixed order keeps the sum
  // bit-for-bit reproducible.
  for (int n = 0; n < N; ++n) {
    Real* row = dtable + std::size_t(ids[n]) * C;
    const Real* g = dout + std::size_t(n) * C;
    for (int c = 0; c < C; ++c) row[c] += g[c];
  }
}

}  // namespace poslab::kernels
