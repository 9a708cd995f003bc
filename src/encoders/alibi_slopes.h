#pragma once
// ALiBi head slopes (Press et al. 2022, "Train Short, Test Long: Attention with Linear
// Biases Enables Input Length Extrapolation", section 3), shared by the alibi encoder and
// its tests.
//
// H a power of two: m_h = 2^(-8h/H), h = 1..H — a geometric sequence from 2^(-8/H) to 2^-8.
// Otherwise (the paper's rule): with P the largest power of two below H, take the P slopes
// for P heads, then the first H - P of the slopes for 2P heads that the P-head sequence
// does not already contain — those at odd h (h = 1, 3, 5, ...), i.e. 2^(-8h/(2P)).
// E.g. 6 heads: [2^-2, 2^-4, 2^-6, 2^-8] then [2^-1, 2^-3]; 3 heads: [2^-4, 2^-8, 2^-2].
#include <cmath>
#include <stdexcept>
#include <vector>
#include "core/real.h"  // POSLAB_REAL_NAMESPACE

namespace poslab::inline POSLAB_REAL_NAMESPACE {

inline std::vector<double> alibi_slopes(int heads) {
  if (heads < 1) throw std::invalid_argument("alibi_slopes: heads must be >= 1");
  int P = 1;
  while (P * 2 <= heads) P *= 2;
  std::vector<double> slopes;
  slopes.reserve(heads);
  for (int h = 1; h <= P; ++h) slopes.push_back(std::exp2(-8.0 * h / P));
  // Interleaving for the remaining heads: the odd-numbered slopes of the 2P-head sequence.
  for (int h = 1; int(slopes.size()) < heads; h += 2)
    slopes.push_back(std::exp2(-8.0 * h / (2 * P)));
  return slopes;
}

}  // namespace poslab
