#pragma once
// A small, safe layer over the HDF5 C++ API for results files.
//
// H5Writer creates a file atomically: it writes a temp file unique to the writer
// ("<final>.tmp.<pid>.<random>", see io/temp_files.h) and renames it on commit(), so a
// results file is either whole or absent, and concurrent writers never share a temp file. H5Reader opens files read-only and turns
// every HDF5 failure into a one-line ConfigError naming the file and the object path
// ("results.h5: /eval/loss: no such dataset"); HDF5's own error-stack printing is off.
// Because files may be damaged or hostile, the reader does not pass libhdf5 1.10 what it
// would trust blindly: a dataset's shape must fit the data the file stores for it (no
// allocation larger than the file), numeric types must be standard integer/IEEE layouts,
// and global heap collections are checked at open (io/h5_global_heaps.h).
//
// Object paths are absolute ("/eval/loss"); a missing leading "/" is added, repeated or
// trailing slashes are ignored. "/" is the root group.
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace poslab {

class H5Writer {
 public:
  // Creates a new, unique temp file next to final_path (never following a symlink).
  // Throws std::runtime_error if it cannot.
  explicit H5Writer(std::string final_path);
  // Without a successful commit(), closes and removes the temporary file.
  ~H5Writer();
  H5Writer(const H5Writer&) = delete;
  H5Writer& operator=(const H5Writer&) = delete;

  // Datasets: `data` is in C (row-major) order and must hold product(shape) values;
  // shape {} is a scalar dataset. Parent groups are created on demand. Writing a path
  // that already exists is an error (std::runtime_error), never a silent overwrite.
  void write(const std::string& path, const std::vector<double>& data,
             const std::vector<std::size_t>& shape);  // float64
  void write_float32(const std::string& path, const std::vector<float>& data,
                     const std::vector<std::size_t>& shape);
  void write_int64(const std::string& path, const std::vector<std::int64_t>& data,
                   const std::vector<std::size_t>& shape);
  // A scalar variable-length UTF-8 string dataset (h5py reads it as str/bytes).
  void write_string(const std::string& path, const std::string& text);
  // Creates the group and any missing parents; an existing group is fine.
  void create_group(const std::string& path);

  // Attributes on a group or dataset ("/" = root). Groups are created on demand; a
  // dataset must already exist. An existing attribute of the same name is replaced.
  void attr(const std::string& object_path, const std::string& name, const std::string& value);
  void attr(const std::string& object_path, const std::string& name, double value);
  void attr(const std::string& object_path, const std::string& name, std::int64_t value);
  // Other integer types (int, size_t, uint64 seeds) would otherwise be ambiguous between
  // the double and int64 overloads; they are stored as int64.
  template <std::integral T>
  void attr(const std::string& object_path, const std::string& name, T value) {
    attr(object_path, name, static_cast<std::int64_t>(value));
  }

  // Closes the file, syncs it to disk and renames it to final_path. Call once.
  void commit();

  const std::string& final_path() const { return final_path_; }
  const std::string& temp_path() const;

 private:
  struct Impl;
  std::string final_path_;
  std::unique_ptr<Impl> impl_;
};

class H5Reader {
 public:
  // Throws ConfigError "<path>: cannot open: no such file", "<path>: not an HDF5 file"
  // or "<path>: cannot open: <detail>".
  explicit H5Reader(const std::string& path);
  ~H5Reader();
  H5Reader(const H5Reader&) = delete;
  H5Reader& operator=(const H5Reader&) = delete;

  const std::string& path() const { return path_; }

  bool exists(const std::string& path) const;  // group or dataset
  bool is_group(const std::string& path) const;
  bool is_dataset(const std::string& path) const;
  std::vector<std::string> members(const std::string& group_path) const;  // sorted names

  std::vector<std::size_t> shape(const std::string& dataset_path) const;  // {} = scalar
  // Any integer or floating-point dataset, converted to double, C order.
  std::vector<double> read(const std::string& dataset_path) const;
  // Integer datasets only (a float dataset is refused rather than silently truncated).
  std::vector<std::int64_t> read_int64(const std::string& dataset_path) const;
  // A scalar string dataset, fixed- or variable-length.
  std::string read_string(const std::string& dataset_path) const;

  bool has_attr(const std::string& object_path, const std::string& name) const;
  std::string attr_string(const std::string& object_path, const std::string& name) const;
  // Numeric attributes of any integer or float type (scalar or one element).
  double attr_double(const std::string& object_path, const std::string& name) const;
  std::vector<std::string> attr_names(const std::string& object_path) const;  // sorted

 private:
  struct Impl;
  std::string path_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace poslab
