#pragma once
// NumPy .npy files (format versions 1.0, 2.0 and 3.0), enough to exchange matrices with
// Python: little-endian <f4, <f8, <i4, <i8 in C order. Anything else (fortran_order=True,
// big-endian, object or structured dtypes) is refused with a ConfigError naming the file
// and what was found, rather than read wrongly.
#include <cstddef>
#include <string>
#include <vector>

namespace poslab {

struct NpyArray {
  std::vector<double> data;        // C (row-major) order, converted to double
  std::vector<std::size_t> shape;  // {} for a 0-d array
};

// Throws ConfigError "<path>: <what>: expected <what>" for a missing, truncated or
// unsupported file.
NpyArray read_npy(const std::string& path);

// Writes float64 ('<f8'), C order; format 1.0 unless the header needs 2.0. The file is
// written to "<path>.tmp" and renamed, so it appears whole or not at all. Throws
// std::invalid_argument if data does not fill shape, std::runtime_error on I/O failure.
void write_npy(const std::string& path, const std::vector<double>& data,
               const std::vector<std::size_t>& shape);

}  // namespace poslab
