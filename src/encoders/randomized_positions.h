#pragma once
// Randomized positional encodings (Ruoss et al. ACL 2023, "Randomized Positional Encodings
// Boost Length Generalization of Transformers"): instead of 0..T-1, a sequence of T tokens
// reads the positions of a sorted uniform random T-subset of {0, ..., max_position - 1}, so
// that a model trained on short sequences has seen every position (and the distances
// between them) up to max_position, and evaluation at longer lengths reads positions and
// distances it was trained on.
//
// One option, declared here once and appended by every scheme whose positions are indices
// (sinusoidal, learned, rope, xpos, alibi, t5, kerple, fire, sandwich, shaw, relative,
// transformer_xl): `randomized: {max_position: P}`. `none` has no positions and `cope`'s
// are contextual (counts of gated tokens), so they do not declare it and refuse the key.
//
// One array per batch, shared by every example: the issue asked for one per example, but
// the authors' code (models/positional_encodings.py, noisy_fixed_positional_encodings)
// draws a single sorted sample of sequence_length indices per forward call and applies it
// to the whole batch; we follow the code (and it keeps the hooks' per-distance tables
// shared by the batch). As in their code, positions are drawn in evaluation too.
//
// The draw is Floyd's algorithm (Bentley & Floyd 1987, "A sample of brilliance"): for
// m = P - n, ..., P - 1 take t uniform in [0, m]; add t, or m if t is already taken. Every
// n-subset comes out with probability 1 / C(P, n), using exactly n random numbers; the
// subset is then sorted. Streams (train/run.cpp): step s of training draws from
// Rng::derive(seed, "positions/train/<s>"), evaluation batch b at length L of a series
// from "positions/<eval stream><L>/<b>", so the positions never touch the batch streams
// (training and evaluation data are the same numbers as without randomization), resuming
// needs no extra checkpoint state, and every MPI rank draws the same array.
#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/rng.h"
#include "core/options.h"
#include "core/real.h"  // POSLAB_REAL_NAMESPACE

namespace poslab::inline POSLAB_REAL_NAMESPACE {

inline OptionSpec randomized_option() {
  OptionSpec spec{"randomized", OptionSpec::Type::Section, "off",
                  "randomized positions (Ruoss et al. 2023): each batch reads a sorted uniform "
                  "random subset of 0..max_position-1 instead of 0..T-1, in training and "
                  "evaluation"};
  spec.fields = {{"max_position", OptionSpec::Type::Int, "",
                  "P: positions are drawn from 0..P-1 (>= every training and evaluation "
                  "sequence length)",
                  1, double(std::numeric_limits<int>::max())}};
  return spec;
}

// `specs` followed by the randomized option: what each position-indexed scheme registers.
inline std::vector<OptionSpec> with_randomized(std::vector<OptionSpec> specs) {
  specs.push_back(randomized_option());
  return specs;
}

// A sorted uniform random n-subset of {0, ..., max_position - 1} (Floyd's algorithm).
inline std::vector<int> draw_positions(Rng& rng, int n, int max_position) {
  if (n < 0 || n > max_position)
    throw std::invalid_argument("draw_positions: cannot draw " + std::to_string(n) +
                                " distinct positions below " + std::to_string(max_position));
  std::vector<int> out;
  out.reserve(std::size_t(n));
  std::unordered_set<int> taken;
  taken.reserve(std::size_t(n) * 2);
  for (int m = max_position - n; m < max_position; ++m) {
    const int t = rng.uniform_int(0, m);
    const int pick = taken.count(t) ? m : t;
    taken.insert(pick);
    out.push_back(pick);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace poslab
