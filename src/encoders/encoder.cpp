#include "encoders/encoder.h"

namespace poslab {

std::vector<NamedArray> PositionalEncoder::encode(int length) const {
  std::vector<NamedArray> out;
  if (auto P = position_matrix(length))
    out.push_back(matrix_array("position_matrix", *P, "[position, dim]: vector added at each position"));
  return out;
}

}  // namespace poslab
