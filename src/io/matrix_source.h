#pragma once
// Loads a matrix that a probe runs on, from outside poslab: `poslab probe MATRIX`.
#include <Eigen/Dense>

#include <string>

namespace poslab {

// `spec` is "file.npy" (a 2-D array), "file.h5:/path/to/dataset" (a 2-D numeric HDF5
// dataset) or "model.safetensors:tensor.name" (a 2-D F32/F16/BF16/F64 tensor; a file is
// taken as safetensors by its name or its first bytes, see io/safetensors.h). Rows are the leading dimension (e.g. positions), as stored in C order.
// Any failure (missing file, not 2-D, unknown dataset, not HDF5) throws ConfigError with
// one line "<file>: <what>: expected <what>".
Eigen::MatrixXd load_matrix(const std::string& spec);

// The file part of `spec` ("file.h5:/a/b" -> "file.h5", "m.npy" -> "m.npy"), split as
// load_matrix splits it; e.g. to make sure an output file is not the input.
std::string matrix_file(const std::string& spec);

}  // namespace poslab
