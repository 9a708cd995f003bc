#include "encoders/encoder.h"

#include <stdexcept>

namespace poslab {

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

std::vector<NamedArray> PositionalEncoder::encode(int length) const {
  std::vector<NamedArray> out;
  if (auto P = position_matrix(length))
    out.push_back(matrix_array("position_matrix", *P, "[position, dim]: vector added at each position"));
  return out;
}

}  // namespace poslab
