#pragma once
// A small, fully specified RNG (xoshiro256** seeded by splitmix64), so that the same seed
// gives the same numbers on every platform and library version (std:: distributions do not
// promise that). Each consumer (model init, training batches, evaluation batches, probes)
// derives its own stream from the experiment seed with `Rng::derive`.
#include <cstdint>
#include <string_view>

namespace poslab {

class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  // A child stream identified by a name, independent of how much the parent was used.
  static Rng derive(std::uint64_t seed, std::string_view stream);

  std::uint64_t next_u64();
  double uniform();                      // [0, 1)
  int uniform_int(int lo, int hi);       // inclusive range [lo, hi]
  double normal();                       // N(0, 1), Box-Muller
  bool bernoulli(double p) { return uniform() < p; }

  // The complete state, for checkpoints: set_state(state()) continues the same stream.
  struct State {
    std::uint64_t words[4] = {0, 0, 0, 0};
    bool has_spare = false;
    double spare = 0.0;
  };
  State state() const { return {{s_[0], s_[1], s_[2], s_[3]}, has_spare_, spare_}; }
  void set_state(const State& st) {
    for (int i = 0; i < 4; ++i) s_[i] = st.words[i];
    has_spare_ = st.has_spare;
    spare_ = st.spare;
  }

 private:
  std::uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace poslab
