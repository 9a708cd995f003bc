#include "io/matrix_source.h"

#include <filesystem>
#include <memory>
#include <vector>

#include "core/config_node.h"  // ConfigError
#include "core/config_text.h"  // printable
#include "io/format_shape.h"
#include "io/h5file.h"
#include "io/npy.h"
#include "io/safetensors.h"

namespace poslab {
namespace {

namespace fs = std::filesystem;

struct Spec {
  std::string file;
  std::string dataset;  // empty for .npy
};

bool is_file(const std::string& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

// "file.h5:/a/b" -> {file.h5, /a/b}. A ':' may also occur in a file or dataset name, so
// the split is taken at the first ':' whose left side names an existing file; failing
// that (the file is missing), at the first ":/" or else the last ':', so that the error
// names the file the user most likely meant.
Spec parse_spec(const std::string& spec) {
  if (is_file(spec)) return {spec, ""};
  for (std::size_t i = spec.find(':'); i != std::string::npos; i = spec.find(':', i + 1)) {
    if (is_file(spec.substr(0, i))) return {spec.substr(0, i), spec.substr(i + 1)};
  }
  std::size_t split = spec.find(":/");
  if (split == std::string::npos) split = spec.rfind(':');
  if (split == std::string::npos) return {spec, ""};
  return {spec.substr(0, split), spec.substr(split + 1)};
}

bool opens_as_hdf5(const std::string& file) {
  if (!is_file(file)) return false;
  try {
    H5Reader reader(file);
    return true;
  } catch (const ConfigError&) {
    return false;
  }
}

// C-order (row-major) values -> Eigen's default column-major matrix.
Eigen::MatrixXd to_matrix(const std::vector<double>& data, std::size_t rows, std::size_t cols) {
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  return Eigen::Map<const RowMajor>(data.data(), static_cast<Eigen::Index>(rows),
                                    static_cast<Eigen::Index>(cols));
}

Eigen::MatrixXd load_npy_matrix(const std::string& file) {
  NpyArray array = read_npy(file);
  if (array.shape.size() != 2) {
    throw ConfigError(file + ": " + std::to_string(array.shape.size()) + "-D array " +
                      format_shape(array.shape) + ": expected a 2-D array");
  }
  return to_matrix(array.data, array.shape[0], array.shape[1]);
}

// "expected ..." for a dataset that is not there: name what the parent group holds, so a
// typo is easy to fix.
std::string expected_dataset(const H5Reader& reader, const std::string& dataset) {
  const std::size_t slash = dataset.find_last_of('/');
  const std::string parent = slash == std::string::npos || slash == 0 ? "/" : dataset.substr(0, slash);
  std::string text = "a 2-D numeric dataset";
  if (!reader.is_group(parent)) return text;
  std::vector<std::string> names = reader.members(parent);
  if (names.empty()) return text;
  text += " (" + parent + " holds:";
  for (std::size_t i = 0; i < names.size() && i < 12; ++i) text += " " + names[i];
  if (names.size() > 12) text += " ...";
  return text + ")";
}

Eigen::MatrixXd load_h5_matrix(const std::string& file, const std::string& dataset) {
  if (!fs::exists(file)) throw ConfigError(file + ": no such file: expected an HDF5 file");
  std::unique_ptr<H5Reader> reader;
  try {
    reader = std::make_unique<H5Reader>(file);
  } catch (const ConfigError& error) {
    // The reader's message is "<file>: not an HDF5 file" or "<file>: cannot open: ...".
    throw ConfigError(std::string(error.what()) +
                      ": expected an HDF5 file (or a .npy file, given without ':dataset')");
  }
  if (dataset.empty() || dataset.find_first_not_of('/') == std::string::npos) {
    throw ConfigError(file + ": no dataset given: expected file.h5:/path/to/dataset");
  }
  if (!reader->is_dataset(dataset)) {
    throw ConfigError(file + ": " + dataset +
                      (reader->is_group(dataset) ? " is a group" : " does not exist") +
                      ": expected " + expected_dataset(*reader, dataset));
  }
  const std::vector<std::size_t> shape = reader->shape(dataset);
  if (shape.size() != 2) {
    throw ConfigError(file + ": " + dataset + " is " + std::to_string(shape.size()) + "-D " +
                      format_shape(shape) + ": expected a 2-D numeric dataset");
  }
  return to_matrix(reader->read(dataset), shape[0], shape[1]);
}

// "model.safetensors:transformer.wpe.weight": one 2-D floating-point tensor.
Eigen::MatrixXd load_safetensors_matrix(const std::string& file, const std::string& tensor) {
  SafetensorsArray array = read_safetensors_tensor(file, tensor);
  if (array.shape.size() != 2) {
    throw ConfigError(file + ": tensor '" + printable(tensor, 80) + "' is " + std::to_string(array.shape.size()) +
                      "-D " + format_shape(array.shape) + ": expected a 2-D tensor");
  }
  return to_matrix(array.data, array.shape[0], array.shape[1]);
}

}  // namespace

Eigen::MatrixXd load_matrix(const std::string& spec) {
  const Spec parsed = parse_spec(spec);
  if (looks_like_safetensors(parsed.file)) return load_safetensors_matrix(parsed.file, parsed.dataset);
  if (!parsed.dataset.empty()) return load_h5_matrix(parsed.file, parsed.dataset);
  // No ':dataset': a .npy file, unless it is HDF5 (then say that the dataset is missing).
  if (opens_as_hdf5(parsed.file)) {
    throw ConfigError(parsed.file + ": no dataset given: expected file.h5:/path/to/dataset");
  }
  return load_npy_matrix(parsed.file);
}

std::string matrix_file(const std::string& spec) { return parse_spec(spec).file; }

}  // namespace poslab
