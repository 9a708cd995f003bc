#pragma once
// Loads a matrix that a probe runs on, from outside poslab: `poslab probe MATRIX`.
#include <Eigen/Dense>

#include <string>

namespace poslab {

// `spec` is either "file.npy" (a 2-D array) or "file.h5:/path/to/dataset" (a 2-D numeric
// HDF5 dataset). Rows are the leading dimension (e.g. positions), as stored in C order.
// Any failure (missing file, not 2-D, unknown dataset, not HDF5) throws ConfigError with
// one line "<file>: <what>: expected <what>".
Eigen::MatrixXd load_matrix(const std::string& spec);

}  // namespace poslab
