#pragma once
// CoPE's contextual positions, shared by the cope encoder and its property tests so that
// the tests check the code path the model runs.
//
//   gates   g_ij = σ(z_ij) for j <= i, 0 for j > i
//   p_ij    = min(Σ_{t=j..i} g_it, p_max)   for j <= i, 0 for j > i
//
// p_ij counts (softly) the tokens between key j and query i, both included, that the query
// gates on; it grows as j moves back from i, so each row is a reverse cumulative sum.
#include <algorithm>
#include <cstddef>
#include <vector>

#include <Eigen/Dense>
#include "core/real.h"  // POSLAB_REAL_NAMESPACE

namespace poslab::inline POSLAB_REAL_NAMESPACE {

// One query row i: z, p, gates hold the keys j = 0..i (the causal part of the row).
template <class S>
void cope_positions_row(const S* z, int i, S p_max, S* p, S* gates) {
  // Eigen's σ is vectorised (std::exp is not, without -ffast-math).
  using Row = Eigen::Array<S, 1, Eigen::Dynamic>;
  Eigen::Map<Row>(gates, i + 1) = Eigen::Map<const Row>(z, i + 1).logistic();
  S count = 0;  // Σ_{t=j..i} g_it, accumulated from the query backwards
  for (int j = i; j >= 0; --j) {
    count += gates[j];
    p[j] = std::min(count, p_max);
  }
}

// A whole [T, T] block (query i = row, key j = column), zeros above the diagonal.
template <class S>
void cope_positions(const S* z, int T, S p_max, S* p, S* gates = nullptr) {
  std::vector<S> row_gates(T);
  for (int i = 0; i < T; ++i) {
    const std::size_t row = std::size_t(i) * T;
    S* g = gates ? gates + row : row_gates.data();
    cope_positions_row(z + row, i, p_max, p + row, g);
    std::fill(p + row + i + 1, p + row + T, S(0));
    std::fill(g + i + 1, g + T, S(0));
  }
}

}  // namespace poslab
