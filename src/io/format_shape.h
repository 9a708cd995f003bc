#pragma once
// An array shape as error messages print it: {64, 768} -> "[64, 768]", {} -> "[]".
// One definition for every reader (npy, HDF5, safetensors, matrix sources), so that their
// messages agree.
#include <cstddef>
#include <string>
#include <vector>

namespace poslab {

inline std::string format_shape(const std::vector<std::size_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

}  // namespace poslab
