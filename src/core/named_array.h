#pragma once
// A named n-d array of doubles with its shape and a description of its axes: the unit in
// which encoders (describe/encode) and probes hand results to the HDF5 writer.
#include <cstddef>
#include <string>
#include <vector>

#include <Eigen/Dense>

namespace poslab {

struct NamedArray {
  std::string name;
  std::vector<double> data;        // row-major
  std::vector<std::size_t> shape;  // empty = scalar
  std::string description;         // axes and units, written as the "description" attribute
};

// A matrix as a row-major NamedArray of shape [rows, cols].
inline NamedArray matrix_array(const std::string& name, const Eigen::MatrixXd& m,
                               const std::string& description) {
  NamedArray a{name, {}, {std::size_t(m.rows()), std::size_t(m.cols())}, description};
  a.data.reserve(m.size());
  for (Eigen::Index r = 0; r < m.rows(); ++r)
    for (Eigen::Index c = 0; c < m.cols(); ++c) a.data.push_back(m(r, c));
  return a;
}

}  // namespace poslab
