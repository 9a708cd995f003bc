#include "io/h5file.h"

#include <H5Cpp.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "core/config_node.h"  // ConfigError
#include "io/format_shape.h"
#include "io/h5_global_heaps.h"
#include "io/temp_files.h"

namespace poslab {
namespace {

namespace fs = std::filesystem;

// HDF5 prints its whole error stack to stderr by default; our callers want one line.
// The setting is per thread in HDF5, so every entry point calls this (it is cheap).
void silence_hdf5() { H5::Exception::dontPrint(); }

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// "eval//loss/" -> "/eval/loss"; "" -> "/".
std::string normalize(const std::string& path) {
  std::string out;
  for (const std::string& part : split_path(path)) out += "/" + part;
  return out.empty() ? "/" : out;
}

std::string parent_of(const std::string& normalized) {
  std::size_t slash = normalized.rfind('/');
  return slash == 0 ? "/" : normalized.substr(0, slash);
}

std::size_t element_count(const std::vector<std::size_t>& shape) {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  return n;
}

H5::DataSpace make_space(const std::vector<std::size_t>& shape) {
  if (shape.empty()) return H5::DataSpace(H5S_SCALAR);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  return H5::DataSpace(static_cast<int>(dims.size()), dims.data());
}

H5::StrType utf8_string_type() {
  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  type.setCset(H5T_CSET_UTF8);
  return type;
}

const char* class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "variable-length";
    case H5T_REFERENCE: return "reference";
    case H5T_OPAQUE: return "opaque";
    case H5T_BITFIELD: return "bitfield";
    case H5T_TIME: return "time";
    default: return "unknown";
  }
}

bool is_numeric(H5T_class_t c) { return c == H5T_INTEGER || c == H5T_FLOAT; }

// Whether a numeric type is one of the standard integer or IEEE float layouts (either byte
// order). libhdf5 1.10 converts any integer or float layout a file describes, and a damaged
// description (bit offsets past the type's size) makes that conversion read out of
// bounds; no writer we read from (poslab, h5py, NumPy) produces other layouts.
bool is_standard_numeric(hid_t type) {
  static const hid_t standard[] = {
      H5T_IEEE_F32LE, H5T_IEEE_F32BE, H5T_IEEE_F64LE, H5T_IEEE_F64BE,
      H5T_STD_I8LE,   H5T_STD_I8BE,   H5T_STD_I16LE,  H5T_STD_I16BE,
      H5T_STD_I32LE,  H5T_STD_I32BE,  H5T_STD_I64LE,  H5T_STD_I64BE,
      H5T_STD_U8LE,   H5T_STD_U8BE,   H5T_STD_U16LE,  H5T_STD_U16BE,
      H5T_STD_U32LE,  H5T_STD_U32BE,  H5T_STD_U64LE,  H5T_STD_U64BE};
  for (hid_t t : standard)
    if (H5Tequal(type, t) > 0) return true;
  return false;
}
const char* kStandardNumeric = "a standard integer or IEEE float type (8 to 64 bits)";

enum class ObjectKind { Missing, Group, Dataset, Other };

// Walks the path one link at a time because H5Lexists fails (rather than answering
// false) when an intermediate group is missing; a dangling link counts as missing.
ObjectKind kind_of(const H5::H5File& file, const std::string& normalized) {
  if (normalized == "/") return ObjectKind::Group;
  try {
    std::string prefix;
    for (const std::string& part : split_path(normalized)) {
      prefix += "/" + part;
      if (!file.nameExists(prefix)) return ObjectKind::Missing;
    }
    switch (file.childObjType(normalized)) {
      case H5O_TYPE_GROUP: return ObjectKind::Group;
      case H5O_TYPE_DATASET: return ObjectKind::Dataset;
      default: return ObjectKind::Other;
    }
  } catch (const H5::Exception&) {
    return ObjectKind::Missing;  // e.g. a path that goes "through" a dataset
  }
}

// Calls f(H5::H5Object&) with the group or dataset at `normalized` (which must exist).
template <class F>
decltype(auto) with_object(const H5::H5File& file, const std::string& normalized,
                           ObjectKind kind, F&& f) {
  if (kind == ObjectKind::Dataset) {
    H5::DataSet dataset = file.openDataSet(normalized);
    return f(static_cast<H5::H5Object&>(dataset));
  }
  H5::Group group = file.openGroup(normalized);
  return f(static_cast<H5::H5Object&>(group));
}

// The HDF5 detail message names the failing C function; good enough as the "why".
std::string detail(const H5::Exception& e) {
  std::string msg = e.getDetailMsg();
  return msg.empty() ? "HDF5 error" : msg;
}

// Flushes the file's data to disk so that the rename cannot expose an empty file after
// a power loss; a failure here is not fatal (the data is still in the page cache).
void sync_to_disk(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

// ---- H5Writer ---------------------------------------------------------------------------

struct H5Writer::Impl {
  // Declared first so that it outlives the file: a failed constructor or a writer
  // destroyed without commit() closes the file, then removes the temp.
  TempFile temp;
  // Constructed in place: H5File's implicit copy-assignment copies the id without taking
  // a reference, so assigning a temporary would leave a closed id behind. TRUNC opens the
  // empty file TempFile created exclusively.
  H5::H5File file;
  bool committed = false;

  explicit Impl(const std::string& final_path)
      : temp(final_path), file(temp.path(), H5F_ACC_TRUNC) {}

  [[noreturn]] void fail(const std::string& final_path, const std::string& object,
                         const std::string& what) const {
    throw std::runtime_error(final_path + ": " + object + ": " + what);
  }

  // Creates every missing group on the way to `normalized` (inclusive).
  void ensure_group(const std::string& final_path, const std::string& normalized) {
    std::string prefix;
    for (const std::string& part : split_path(normalized)) {
      prefix += "/" + part;
      ObjectKind kind = kind_of(file, prefix);
      if (kind == ObjectKind::Missing) {
        file.createGroup(prefix);
      } else if (kind != ObjectKind::Group) {
        fail(final_path, prefix, "exists and is not a group");
      }
    }
  }

  void write_dataset(const std::string& final_path, const std::string& path, const void* data,
                     std::size_t size, const std::vector<std::size_t>& shape,
                     const H5::PredType& file_type, const H5::PredType& mem_type) {
    const std::string p = normalize(path);
    if (p == "/") fail(final_path, p, "the root cannot be a dataset");
    if (size != element_count(shape)) {
      fail(final_path, p,
           std::to_string(size) + " values do not fill shape " + format_shape(shape));
    }
    if (kind_of(file, p) != ObjectKind::Missing) fail(final_path, p, "already exists");
    ensure_group(final_path, parent_of(p));
    H5::DataSet dataset = file.createDataSet(p, file_type, make_space(shape));
    // A zero-element dataset has nothing to transfer (and data() may be null).
    if (size > 0) dataset.write(data, mem_type);
  }

  // Opens the attribute target (creating groups on demand; a missing dataset is a caller
  // bug, not something to invent) and replaces any attribute of the same name, since
  // HDF5 refuses to create a duplicate.
  template <class Write>
  void write_attr(const std::string& final_path, const std::string& object_path,
                  const std::string& name, Write&& write) {
    const std::string p = normalize(object_path);
    ObjectKind kind = kind_of(file, p);
    if (kind == ObjectKind::Other) fail(final_path, p, "not a group or dataset");
    if (kind == ObjectKind::Missing) {
      ensure_group(final_path, p);
      kind = ObjectKind::Group;
    }
    with_object(file, p, kind, [&](H5::H5Object& object) {
      if (object.attrExists(name)) object.removeAttr(name);
      write(object);
    });
  }
};

// Runs `body`, turning HDF5 exceptions into one-line runtime errors about `object`.
namespace {
template <class F>
void writer_guard(const std::string& final_path, const std::string& object, F&& body) {
  silence_hdf5();
  try {
    body();
  } catch (const H5::Exception& e) {
    throw std::runtime_error(final_path + ": " + normalize(object) + ": " + detail(e));
  }
}
}  // namespace

H5Writer::H5Writer(std::string final_path)
    : final_path_(std::move(final_path)) {
  silence_hdf5();
  const fs::path dir = fs::path(final_path_).parent_path();
  if (!dir.empty() && !fs::is_directory(dir)) {
    throw std::runtime_error(final_path_ + ": cannot create: directory '" + dir.string() +
                             "' does not exist");
  }
  try {
    impl_ = std::make_unique<Impl>(final_path_);
  } catch (const H5::Exception& e) {
    throw std::runtime_error(final_path_ + ": cannot create a temporary file: " + detail(e));
  }
}

H5Writer::~H5Writer() {
  if (!impl_ || impl_->committed) return;
  try {
    impl_->file.close();
  } catch (...) {
    // Closing can fail after an earlier HDF5 error; the file is removed regardless.
  }
  // impl_'s TempFile removes the temp file.
}

const std::string& H5Writer::temp_path() const { return impl_->temp.path(); }

void H5Writer::write(const std::string& path, const std::vector<double>& data,
                     const std::vector<std::size_t>& shape) {
  writer_guard(final_path_, path, [&] {
    impl_->write_dataset(final_path_, path, data.data(), data.size(), shape,
                         H5::PredType::IEEE_F64LE, H5::PredType::NATIVE_DOUBLE);
  });
}

void H5Writer::write_float32(const std::string& path, const std::vector<float>& data,
                             const std::vector<std::size_t>& shape) {
  writer_guard(final_path_, path, [&] {
    impl_->write_dataset(final_path_, path, data.data(), data.size(), shape,
                         H5::PredType::IEEE_F32LE, H5::PredType::NATIVE_FLOAT);
  });
}

void H5Writer::write_int64(const std::string& path, const std::vector<std::int64_t>& data,
                           const std::vector<std::size_t>& shape) {
  writer_guard(final_path_, path, [&] {
    impl_->write_dataset(final_path_, path, data.data(), data.size(), shape,
                         H5::PredType::STD_I64LE, H5::PredType::NATIVE_INT64);
  });
}

void H5Writer::write_string(const std::string& path, const std::string& text) {
  writer_guard(final_path_, path, [&] {
    const std::string p = normalize(path);
    if (kind_of(impl_->file, p) != ObjectKind::Missing) impl_->fail(final_path_, p, "already exists");
    impl_->ensure_group(final_path_, parent_of(p));
    H5::StrType type = utf8_string_type();
    H5::DataSet dataset = impl_->file.createDataSet(p, type, H5::DataSpace(H5S_SCALAR));
    dataset.write(text, type);
  });
}

void H5Writer::create_group(const std::string& path) {
  writer_guard(final_path_, path, [&] { impl_->ensure_group(final_path_, normalize(path)); });
}


void H5Writer::attr(const std::string& object_path, const std::string& name,
                    const std::string& value) {
  writer_guard(final_path_, object_path, [&] {
    impl_->write_attr(final_path_, object_path, name, [&](H5::H5Object& object) {
      H5::StrType type = utf8_string_type();
      object.createAttribute(name, type, H5::DataSpace(H5S_SCALAR)).write(type, value);
    });
  });
}

void H5Writer::attr(const std::string& object_path, const std::string& name, double value) {
  writer_guard(final_path_, object_path, [&] {
    impl_->write_attr(final_path_, object_path, name, [&](H5::H5Object& object) {
      object.createAttribute(name, H5::PredType::IEEE_F64LE, H5::DataSpace(H5S_SCALAR))
          .write(H5::PredType::NATIVE_DOUBLE, &value);
    });
  });
}

void H5Writer::attr(const std::string& object_path, const std::string& name,
                    std::int64_t value) {
  writer_guard(final_path_, object_path, [&] {
    impl_->write_attr(final_path_, object_path, name, [&](H5::H5Object& object) {
      object.createAttribute(name, H5::PredType::STD_I64LE, H5::DataSpace(H5S_SCALAR))
          .write(H5::PredType::NATIVE_INT64, &value);
    });
  });
}

void H5Writer::commit() {
  if (impl_->committed) throw std::logic_error(final_path_ + ": commit() called twice");
  writer_guard(final_path_, "/", [&] { impl_->file.close(); });
  sync_to_disk(temp_path());
  impl_->temp.commit();  // on failure the destructor still removes the temporary file
  impl_->committed = true;
}

// ---- H5Reader ---------------------------------------------------------------------------

struct H5Reader::Impl {
  H5::H5File file;  // constructed in place, see H5Writer::Impl
  std::string file_path;

  explicit Impl(const std::string& path) : file(path, H5F_ACC_RDONLY), file_path(path) {}

  [[noreturn]] void fail(const std::string& object, const std::string& what) const {
    throw ConfigError(file_path + ": " + object + ": " + what);
  }

  std::uintmax_t file_bytes() const {
    std::error_code error;
    const std::uintmax_t n = fs::file_size(file_path, error);
    return error ? 0 : n;
  }

  H5::DataSet open_dataset(const std::string& path) const {
    const std::string p = normalize(path);
    switch (kind_of(file, p)) {
      case ObjectKind::Dataset: return file.openDataSet(p);
      case ObjectKind::Group: fail(p, "is a group, expected a dataset");
      case ObjectKind::Other: fail(p, "is not a dataset");
      case ObjectKind::Missing: break;
    }
    fail(p, "no such dataset");
  }

  ObjectKind existing_object(const std::string& p) const {
    ObjectKind kind = kind_of(file, p);
    if (kind == ObjectKind::Missing) fail(p, "no such group or dataset");
    if (kind == ObjectKind::Other) fail(p, "not a group or dataset");
    return kind;
  }

  H5::Attribute open_attr(H5::H5Object& object, const std::string& p,
                          const std::string& name) const {
    if (!object.attrExists(name)) fail(p, "no attribute '" + name + "'");
    return object.openAttribute(name);
  }

  // The number of values of `dataset`, refused when they cannot be stored in this file: a
  // corrupt or hostile header must not make the reader allocate what the file cannot hold
  // (or read past the dataset's storage). Unfiltered data is stored byte for byte;
  // compressed chunks expand by at most about 1000x (deflate's limit). A compact dataset,
  // or a contiguous one with storage (none yet: fill values), must fit that storage.
  std::size_t value_count(const H5::DataSet& dataset, const std::string& p) const {
    const hssize_t n = dataset.getSpace().getSimpleExtentNpoints();
    if (n < 0) fail(p, "invalid dataspace");
    const double bytes = double(n) * double(dataset.getDataType().getSize());
    const H5::DSetCreatPropList dcpl = dataset.getCreatePlist();
    const double limit = double(file_bytes()) * (dcpl.getNfilters() > 0 ? 1100.0 : 1.0);
    const H5D_layout_t layout = dcpl.getLayout();
    const double storage = double(H5Dget_storage_size(dataset.getId()));
    const std::string claim = "its shape claims " + std::to_string(n) + " values (" +
                              std::to_string(std::uint64_t(bytes)) + " bytes)";
    const std::string expected = "; expected a dataset whose shape matches its data (is the file corrupt?)";
    if (bytes > limit)
      fail(p, claim + ", more than the " + std::to_string(file_bytes()) + "-byte file can hold" + expected);
    // Compact data is always stored with the dataset; contiguous data may not be yet.
    if ((layout == H5D_COMPACT || (layout == H5D_CONTIGUOUS && storage > 0)) && bytes > storage)
      fail(p, claim + " but its storage holds " + std::to_string(std::uint64_t(storage)) + " bytes" + expected);
    return static_cast<std::size_t>(n);
  }
};

// A scalar string from an attribute or dataset, fixed- or variable-length, read through
// the C API: the C++ wrapper hands a null variable-length string (legal in HDF5, and what a
// damaged heap reads as) to strlen. `read(mem_type, buffer)` is H5Aread or H5Dread.
template <class Read>
std::string read_scalar_string(hid_t file_type, std::uintmax_t file_bytes, Read&& read) {
  if (H5Tis_variable_str(file_type) > 0) {
    const hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5Tget_cset(file_type));
    char* text = nullptr;
    const herr_t status = read(mem, &text);
    H5Tclose(mem);
    if (status < 0) throw H5::DataSetIException("read_string", "H5Dread/H5Aread failed for a variable-length string");
    std::string out = text ? std::string(text) : std::string();
    H5free_memory(text);
    return out;
  }
  const std::size_t size = H5Tget_size(file_type);
  if (size == 0 || size > file_bytes)
    throw H5::DataSetIException("read_string", "fixed-length string of " + std::to_string(size) +
                                                   " bytes does not fit in the file");
  const hid_t mem = H5Tcopy(H5T_C_S1);
  H5Tset_size(mem, size);
  std::string buffer(size, '\0');
  const herr_t status = read(mem, buffer.data());
  H5Tclose(mem);
  if (status < 0) throw H5::DataSetIException("read_string", "H5Dread/H5Aread failed for a fixed-length string");
  return buffer.substr(0, buffer.find('\0'));  // null-terminated or null-padded
}

// Runs `body`, turning HDF5 exceptions into one-line ConfigErrors about `object`.
namespace {
template <class F>
decltype(auto) reader_guard(const std::string& file_path, const std::string& object,
                                   F&& body) {
  silence_hdf5();
  try {
    return body();
  } catch (const H5::Exception& e) {
    throw ConfigError(file_path + ": " + normalize(object) + ": " + detail(e));
  }
}
}  // namespace

H5Reader::H5Reader(const std::string& path) : path_(path) {
  silence_hdf5();
  std::error_code error;
  if (!fs::exists(path, error)) throw ConfigError(path + ": cannot open: no such file");
  if (fs::is_directory(path, error)) throw ConfigError(path + ": cannot open: is a directory");
  bool hdf5 = false;
  try {
    hdf5 = H5::H5File::isHdf5(path);
  } catch (const H5::Exception& e) {
    throw ConfigError(path + ": cannot open: " + detail(e));
  }
  if (!hdf5) throw ConfigError(path + ": not an HDF5 file");
  check_global_heaps(path);  // damage that would make libhdf5 hang (see h5_global_heaps.h)
  try {
    impl_ = std::make_unique<Impl>(path);
  } catch (const H5::Exception& e) {
    throw ConfigError(path + ": cannot open: " + detail(e));
  }
}

H5Reader::~H5Reader() = default;

bool H5Reader::exists(const std::string& path) const {
  silence_hdf5();
  ObjectKind kind = kind_of(impl_->file, normalize(path));
  return kind == ObjectKind::Group || kind == ObjectKind::Dataset;
}

bool H5Reader::is_group(const std::string& path) const {
  silence_hdf5();
  return kind_of(impl_->file, normalize(path)) == ObjectKind::Group;
}

bool H5Reader::is_dataset(const std::string& path) const {
  silence_hdf5();
  return kind_of(impl_->file, normalize(path)) == ObjectKind::Dataset;
}

std::vector<std::string> H5Reader::members(const std::string& group_path) const {
  return reader_guard(path_, group_path, [&] {
    const std::string p = normalize(group_path);
    ObjectKind kind = kind_of(impl_->file, p);
    if (kind == ObjectKind::Missing) impl_->fail(p, "no such group");
    if (kind != ObjectKind::Group) impl_->fail(p, "is not a group");
    H5::Group group = impl_->file.openGroup(p);
    std::vector<std::string> names;
    for (hsize_t i = 0; i < group.getNumObjs(); ++i) names.push_back(group.getObjnameByIdx(i));
    std::sort(names.begin(), names.end());
    return names;
  });
}

std::vector<std::size_t> H5Reader::shape(const std::string& dataset_path) const {
  return reader_guard(path_, dataset_path, [&] {
    H5::DataSpace space = impl_->open_dataset(dataset_path).getSpace();
    const int rank = space.getSimpleExtentNdims();
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    if (rank > 0) space.getSimpleExtentDims(dims.data());
    return std::vector<std::size_t>(dims.begin(), dims.end());
  });
}

std::vector<double> H5Reader::read(const std::string& dataset_path) const {
  return reader_guard(path_, dataset_path, [&] {
    H5::DataSet dataset = impl_->open_dataset(dataset_path);
    const H5T_class_t c = dataset.getTypeClass();
    if (!is_numeric(c)) {
      impl_->fail(normalize(dataset_path),
                  std::string("expected a numeric dataset, got a ") + class_name(c) + " dataset");
    }
    if (!is_standard_numeric(dataset.getDataType().getId()))
      impl_->fail(normalize(dataset_path), std::string("nonstandard ") + class_name(c) + " type; expected " + kStandardNumeric);
    // HDF5 converts integer and float storage types to double during the read.
    std::vector<double> out(impl_->value_count(dataset, normalize(dataset_path)));
    if (!out.empty()) dataset.read(out.data(), H5::PredType::NATIVE_DOUBLE);
    return out;
  });
}

std::vector<std::int64_t> H5Reader::read_int64(const std::string& dataset_path) const {
  return reader_guard(path_, dataset_path, [&] {
    H5::DataSet dataset = impl_->open_dataset(dataset_path);
    const H5T_class_t c = dataset.getTypeClass();
    if (c != H5T_INTEGER) {
      impl_->fail(normalize(dataset_path),
                  std::string("expected an integer dataset, got a ") + class_name(c) + " dataset");
    }
    if (!is_standard_numeric(dataset.getDataType().getId()))
      impl_->fail(normalize(dataset_path), std::string("nonstandard integer type; expected ") + kStandardNumeric);
    std::vector<std::int64_t> out(impl_->value_count(dataset, normalize(dataset_path)));
    if (!out.empty()) dataset.read(out.data(), H5::PredType::NATIVE_INT64);
    return out;
  });
}

std::string H5Reader::read_string(const std::string& dataset_path) const {
  return reader_guard(path_, dataset_path, [&] {
    H5::DataSet dataset = impl_->open_dataset(dataset_path);
    const H5T_class_t c = dataset.getTypeClass();
    if (c != H5T_STRING) {
      impl_->fail(normalize(dataset_path),
                  std::string("expected a string dataset, got a ") + class_name(c) + " dataset");
    }
    if (dataset.getSpace().getSimpleExtentNpoints() != 1) {
      impl_->fail(normalize(dataset_path), "expected a scalar string, got an array of strings");
    }
    const H5::StrType type = dataset.getStrType();
    return read_scalar_string(type.getId(), impl_->file_bytes(), [&](hid_t mem, void* buffer) {
      return H5Dread(dataset.getId(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
    });
  });
}

bool H5Reader::has_attr(const std::string& object_path, const std::string& name) const {
  return reader_guard(path_, object_path, [&] {
    const std::string p = normalize(object_path);
    ObjectKind kind = kind_of(impl_->file, p);
    if (kind != ObjectKind::Group && kind != ObjectKind::Dataset) return false;
    return with_object(impl_->file, p, kind,
                       [&](H5::H5Object& object) { return object.attrExists(name); });
  });
}

std::string H5Reader::attr_string(const std::string& object_path, const std::string& name) const {
  return reader_guard(path_, object_path, [&] {
    const std::string p = normalize(object_path);
    return with_object(impl_->file, p, impl_->existing_object(p), [&](H5::H5Object& object) {
      H5::Attribute attribute = impl_->open_attr(object, p, name);
      const H5T_class_t c = attribute.getTypeClass();
      if (c != H5T_STRING || attribute.getSpace().getSimpleExtentNpoints() != 1) {
        impl_->fail(p, "attribute '" + name + "': expected a string, got " +
                           (c == H5T_STRING ? std::string("an array of strings")
                                            : std::string("a ") + class_name(c) + " value"));
      }
      const H5::StrType type = attribute.getStrType();
      return read_scalar_string(type.getId(), impl_->file_bytes(), [&](hid_t mem, void* buffer) {
        return H5Aread(attribute.getId(), mem, buffer);
      });
    });
  });
}

double H5Reader::attr_double(const std::string& object_path, const std::string& name) const {
  return reader_guard(path_, object_path, [&] {
    const std::string p = normalize(object_path);
    return with_object(impl_->file, p, impl_->existing_object(p), [&](H5::H5Object& object) {
      H5::Attribute attribute = impl_->open_attr(object, p, name);
      const H5T_class_t c = attribute.getTypeClass();
      if (!is_numeric(c) || attribute.getSpace().getSimpleExtentNpoints() != 1) {
        impl_->fail(p, "attribute '" + name + "': expected a number, got " +
                           (is_numeric(c) ? std::string("an array")
                                          : std::string("a ") + class_name(c) + " value"));
      }
      if (!is_standard_numeric(attribute.getDataType().getId()))
        impl_->fail(p, "attribute '" + name + "': nonstandard " + class_name(c) + " type; expected " + kStandardNumeric);
      double value = 0.0;
      attribute.read(H5::PredType::NATIVE_DOUBLE, &value);
      return value;
    });
  });
}

std::vector<std::string> H5Reader::attr_names(const std::string& object_path) const {
  return reader_guard(path_, object_path, [&] {
    const std::string p = normalize(object_path);
    return with_object(impl_->file, p, impl_->existing_object(p), [&](H5::H5Object& object) {
      std::vector<std::string> names;
      const int n = object.getNumAttrs();
      for (int i = 0; i < n; ++i) {
        names.push_back(object.openAttribute(static_cast<unsigned>(i)).getName());
      }
      std::sort(names.begin(), names.end());
      return names;
    });
  });
}

}  // namespace poslab
