#include "encoders/encoder.h"

#include <stdexcept>
#include <string>

namespace poslab::inline POSLAB_REAL_NAMESPACE {

// A scheme that adds a bias in the materialized attention but has no tile form would make
// the streaming path silently wrong: refuse instead.
void PositionalEncoder::score_bias_tile(const AttnTile&, Real*, int, Real*) const {
  throw std::logic_error("this encoder has a score bias but no score_bias_tile: the streaming "
                         "attention cannot run it");
}

void PositionalEncoder::value_bias_tile(const AttnTile&, const Real*, int, Real*, Real*) const {
  throw std::logic_error("this encoder has a value bias but no value_bias_tile: the streaming "
                         "attention cannot run it");
}

void PositionalEncoder::set_positions(const int* positions, int T) {
  bool identity = positions == nullptr;
  if (!identity) {
    identity = true;
    for (int t = 0; t < T; ++t) {
      if (positions[t] < 0 || (t > 0 && positions[t] <= positions[t - 1]))
        throw std::invalid_argument("positions must be >= 0 and strictly increasing; slot " +
                                    std::to_string(t) + " has " + std::to_string(positions[t]));
      identity = identity && positions[t] == t;
    }
  }
  if (identity) {
    if (positions_.empty()) return;
    positions_.clear();
  } else {
    if (positions_.size() == std::size_t(T) && std::equal(positions_.begin(), positions_.end(), positions))
      return;
    positions_.assign(positions, positions + T);
  }
  ++positions_version_;
}

void PositionalEncoder::check_positions(int T) const {
  if (randomized_max_position_ > 0 && T > randomized_max_position_)
    max_position_node_.fail("sequences of length " + std::to_string(T) +
                            " need that many distinct positions; expected max_position >= " +
                            std::to_string(T) + " (every training and evaluation length), got " +
                            std::to_string(randomized_max_position_));
}

void PositionalEncoder::configure_positions(const Options& o) {
  if (const Options* r = o.section("randomized")) {
    randomized_max_position_ = r->get_int("max_position");
    max_position_node_ = r->node("max_position");
  }
}

std::vector<NamedArray> PositionalEncoder::encode(int length) const {
  std::vector<NamedArray> out;
  if (auto P = position_matrix(length))
    out.push_back(matrix_array("position_matrix", *P, "[position, dim]: vector added at each position"));
  return out;
}

}  // namespace poslab
