#pragma once
// Deterministic column reductions (bias and LayerNorm parameter gradients): inside an
// OpenMP parallel region each thread takes a contiguous range of whole 16-column blocks
// and sums its columns over rows 0..N-1 in order, so every column's sum is bit-identical
// to a serial loop for any thread count.
#include <omp.h>

#include <algorithm>

#include "core/real.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE::kernels {

struct ColumnRange {
  int begin, end;  // [begin, end), possibly empty
};

// This thread's columns of [0, columns). Call inside `#pragma omp parallel`.
inline ColumnRange this_threads_columns(int columns) {
  constexpr int kCols = 16;
  const int blocks = (columns + kCols - 1) / kCols;
  const int threads = omp_get_num_threads(), tid = omp_get_thread_num();
  return {std::min(columns, kCols * (blocks * tid / threads)),
          std::min(columns, kCols * (blocks * (tid + 1) / threads))};
}

}  // namespace poslab::kernels
