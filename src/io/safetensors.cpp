#include "io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/config_node.h"  // ConfigError
#include "core/config_text.h"  // printable
#include "io/format_shape.h"
#include "io/json.h"

namespace poslab {
namespace {

// safetensors stores little-endian values; we copy bytes straight into host values.
static_assert(std::endian::native == std::endian::little,
              "safetensors I/O assumes a little-endian host");

constexpr char kExpectFile[] = "a safetensors file (8-byte header length, JSON header, data)";
// The reference implementation refuses headers above 100 MB; a real one is a few hundred KB.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;
constexpr std::size_t kMaxNamesListed = 12;

[[noreturn]] void fail(const std::string& path, const std::string& what,
                       const std::string& expected) {
  throw ConfigError(path + ": " + what + ": expected " + expected);
}

// A name from the file, quoted for a one-line message (a hostile header can hold anything:
// control characters are escaped, and the name is cut after 80 bytes).
std::string quote_name(const std::string& name) { return "'" + printable(name, 80) + "'"; }

// Bits per element of every dtype the format defines (sub-byte floats included, so that a
// valid file holding them is still read; only the tensor asked for must be convertible).
int dtype_bits(const std::string& dtype) {
  static const std::map<std::string, int> bits = {
      {"BOOL", 8},    {"U8", 8},       {"I8", 8},        {"F8_E5M2", 8}, {"F8_E4M3", 8},
      {"F8_E8M0", 8}, {"F4", 4},       {"F6_E2M3", 6},   {"F6_E3M2", 6}, {"I16", 16},
      {"U16", 16},    {"F16", 16},     {"BF16", 16},     {"I32", 32},    {"U32", 32},
      {"F32", 32},    {"I64", 64},     {"U64", 64},      {"F64", 64},    {"C64", 64}};
  auto it = bits.find(dtype);
  return it == bits.end() ? 0 : it->second;
}

std::uint64_t read_u64_le(const unsigned char* bytes) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

void check_readable(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    fail(path, std::filesystem::exists(path, error) ? "not a regular file" : "no such file",
         kExpectFile);
  }
}

// One tensor entry of the header: {"dtype": str, "shape": [uint...], "data_offsets": [b, e]}.
SafetensorsEntry parse_entry(const std::string& path, const std::string& name,
                             const JsonValue& value) {
  const std::string where = "tensor " + quote_name(name);
  const std::string form = "{\"dtype\": ..., \"shape\": [...], \"data_offsets\": [begin, end]}";
  if (value.kind != JsonValue::Kind::Object) {
    fail(path, where + " is " + json_kind_name(value.kind), "an object " + form);
  }
  for (const auto& [key, member] : value.members) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      fail(path, where + " has unknown key " + quote_name(key), "only the keys of " + form);
    }
  }
  SafetensorsEntry entry;
  entry.name = name;
  const JsonValue* dtype = value.find("dtype");
  const JsonValue* shape = value.find("shape");
  const JsonValue* offsets = value.find("data_offsets");
  if (!dtype || !shape || !offsets) fail(path, where + " lacks dtype, shape or data_offsets", form);

  if (dtype->kind != JsonValue::Kind::String) {
    fail(path, where + " dtype is " + json_kind_name(dtype->kind), "a dtype string such as \"F32\"");
  }
  entry.dtype = dtype->text;
  if (dtype_bits(entry.dtype) == 0) {
    fail(path, where + " has unknown dtype " + quote_name(entry.dtype),
         "one of BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F4, F6_E2M3, F6_E3M2, F8_E5M2, "
         "F8_E4M3, F8_E8M0, F16, BF16, F32, F64, C64");
  }

  if (shape->kind != JsonValue::Kind::Array) {
    fail(path, where + " shape is " + json_kind_name(shape->kind), "an array of dimensions");
  }
  for (const JsonValue& dim : shape->items) {
    const auto d = dim.as_uint64();
    if (!d || *d > std::numeric_limits<std::size_t>::max()) {
      fail(path, where + " shape holds " + (dim.kind == JsonValue::Kind::Number ? dim.text : json_kind_name(dim.kind)),
           "non-negative integer dimensions");
    }
    entry.shape.push_back(static_cast<std::size_t>(*d));
  }

  if (offsets->kind != JsonValue::Kind::Array || offsets->items.size() != 2 ||
      !offsets->items[0].as_uint64() || !offsets->items[1].as_uint64()) {
    fail(path, where + " data_offsets is not two non-negative integers", "[begin, end]");
  }
  entry.begin = *offsets->items[0].as_uint64();
  entry.end = *offsets->items[1].as_uint64();
  if (entry.end < entry.begin) {
    fail(path, where + " data_offsets [" + std::to_string(entry.begin) + ", " +
                   std::to_string(entry.end) + "] end before they begin",
         "begin <= end");
  }

  // Bytes the shape needs, with overflow checks (a corrupt shape must not wrap around to
  // a small size that then matches the offsets).
  const std::uint64_t bits = static_cast<std::uint64_t>(dtype_bits(entry.dtype));
  const bool empty = std::find(entry.shape.begin(), entry.shape.end(), 0) != entry.shape.end();
  std::uint64_t count = empty ? 0 : 1;
  bool overflow = false;
  for (std::size_t d : entry.shape) {
    if (empty) break;  // a zero dimension makes the tensor empty, whatever the others
    if (count > std::numeric_limits<std::uint64_t>::max() / bits / d) {
      overflow = true;
      break;
    }
    count *= d;
  }
  const std::uint64_t length = entry.end - entry.begin;
  if (overflow || (count * bits) % 8 != 0 || count * bits / 8 != length) {
    fail(path,
         where + " shape " + format_shape(entry.shape) + " of " + entry.dtype + " needs " +
             (overflow ? std::string("more than 2^64 bits")
                       : (count * bits) % 8 ? std::to_string(count * bits) + " bits (not whole bytes)"
                                            : std::to_string(count * bits / 8) + " bytes") +
             " but data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
             "] hold " + std::to_string(length),
         "shape x dtype size = end - begin");
  }
  return entry;
}

// The tensors must tile the data buffer [0, size) exactly, as the format requires.
void check_layout(const std::string& path, std::vector<SafetensorsEntry> tensors,
                  std::uint64_t data_size) {
  std::sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t covered = 0;
  const SafetensorsEntry* previous = nullptr;
  for (const SafetensorsEntry& t : tensors) {
    if (t.end > data_size) {
      fail(path, "tensor " + quote_name(t.name) + " data_offsets [" + std::to_string(t.begin) + ", " +
                     std::to_string(t.end) + "] reach past the end of the data (" +
                     std::to_string(data_size) + " bytes)",
           "offsets inside the file");
    }
    if (t.begin < covered) {
      fail(path, "tensor " + quote_name(t.name) + " overlaps tensor " + quote_name(previous->name) +
                     " (bytes " + std::to_string(t.begin) + ".." + std::to_string(covered) + ")",
           "tensors that do not share bytes");
    }
    if (t.begin > covered) {
      fail(path, "bytes " + std::to_string(covered) + ".." + std::to_string(t.begin) +
                     " of the data belong to no tensor",
           "tensors that fill the data without gaps");
    }
    covered = t.end;
    previous = &t;
  }
  if (covered != data_size) {
    fail(path, std::to_string(data_size - covered) + " bytes after the last tensor",
         "the data to end with the last tensor");
  }
}

// "a [2, 3] F32, b [4] BF16, ... (148 tensors)": the names most like `wanted` first (those
// containing it or contained in it), then the rest in header order.
std::string list_names(const SafetensorsHeader& header, const std::string& wanted) {
  std::vector<const SafetensorsEntry*> order;
  auto similar = [&](const std::string& name) {
    return !wanted.empty() &&
           (name.find(wanted) != std::string::npos || wanted.find(name) != std::string::npos);
  };
  for (const auto& t : header.tensors) if (similar(t.name)) order.push_back(&t);
  for (const auto& t : header.tensors) if (!similar(t.name)) order.push_back(&t);
  std::string out;
  for (std::size_t i = 0; i < order.size() && i < kMaxNamesListed; ++i) {
    if (i > 0) out += ", ";
    out += quote_name(order[i]->name) + " " + format_shape(order[i]->shape) + " " + order[i]->dtype;
  }
  if (order.size() > kMaxNamesListed) {
    out += ", ... (" + std::to_string(order.size()) + " tensors in all)";
  }
  return out;
}

double half_to_double(std::uint16_t h) {
  const int exponent = (h >> 10) & 0x1F;
  const int mantissa = h & 0x3FF;
  double value;
  if (exponent == 0) {
    value = std::ldexp(mantissa, -24);  // zero or subnormal
  } else if (exponent == 31) {
    value = mantissa ? std::numeric_limits<double>::quiet_NaN()
                     : std::numeric_limits<double>::infinity();
  } else {
    value = std::ldexp(mantissa + 1024, exponent - 25);
  }
  return (h & 0x8000) ? -value : value;
}

double bfloat16_to_double(std::uint16_t b) {
  const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;  // bf16 = top half of f32
  return static_cast<double>(std::bit_cast<float>(bits));
}

template <class T, class Convert>
void convert(const std::string& bytes, std::vector<double>& out, Convert to_double) {
  for (std::size_t i = 0; i < out.size(); ++i) {
    T value;
    std::memcpy(&value, bytes.data() + i * sizeof(T), sizeof(T));
    out[i] = to_double(value);
  }
}

}  // namespace

SafetensorsHeader read_safetensors_header(const std::string& path) {
  check_readable(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open", kExpectFile);
  std::error_code error;
  const std::uint64_t file_size = std::filesystem::file_size(path, error);
  if (error) fail(path, "cannot read its size", kExpectFile);
  unsigned char prefix[8];
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(prefix), 8)) {
    fail(path, "shorter than the 8-byte header length (" + std::to_string(file_size) + " bytes)",
         kExpectFile);
  }
  const std::uint64_t header_size = read_u64_le(prefix);
  if (header_size > kMaxHeaderBytes || header_size > file_size - 8) {
    fail(path, "header length " + std::to_string(header_size) + " exceeds " +
                   (header_size > kMaxHeaderBytes ? "the 100 MB limit" :
                    "the file (" + std::to_string(file_size) + " bytes)"),
         kExpectFile);
  }
  std::string text(static_cast<std::size_t>(header_size), '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(header_size))) {
    fail(path, "read error in the header", kExpectFile);
  }

  JsonValue root;
  try {
    root = parse_json(text);
  } catch (const JsonError& e) {
    fail(path, "header is not valid JSON (byte " + std::to_string(8 + e.offset()) + ": " +
                   e.what() + ")",
         kExpectFile);
  }
  if (root.kind != JsonValue::Kind::Object) {
    fail(path, std::string("header is ") + json_kind_name(root.kind),
         "a JSON object of tensors");
  }

  SafetensorsHeader header;
  header.data_start = 8 + header_size;
  for (const auto& [name, value] : root.members) {
    if (name == "__metadata__") {
      if (value.kind != JsonValue::Kind::Object) {
        fail(path, std::string("__metadata__ is ") + json_kind_name(value.kind),
             "an object of string values");
      }
      for (const auto& [key, item] : value.members) {
        if (item.kind != JsonValue::Kind::String) {
          fail(path, "__metadata__ " + quote_name(key) + " is " + json_kind_name(item.kind),
               "string values only");
        }
        header.metadata[key] = item.text;
      }
      continue;
    }
    header.tensors.push_back(parse_entry(path, name, value));
  }
  check_layout(path, header.tensors, file_size - header.data_start);
  return header;
}

SafetensorsArray read_safetensors_tensor(const std::string& path, const std::string& name) {
  const SafetensorsHeader header = read_safetensors_header(path);
  if (header.tensors.empty()) {
    fail(path, name.empty() ? "no tensor given" : "no tensor " + quote_name(name),
         "a file with tensors (this one holds none)");
  }
  if (name.empty()) {
    fail(path, "no tensor given", "file.safetensors:TENSOR, one of " + list_names(header, name));
  }
  auto it = std::find_if(header.tensors.begin(), header.tensors.end(),
                         [&](const SafetensorsEntry& t) { return t.name == name; });
  if (it == header.tensors.end()) {
    fail(path, "no tensor " + quote_name(name), "one of " + list_names(header, name));
  }
  const SafetensorsEntry& entry = *it;
  const int bits = dtype_bits(entry.dtype);
  if (entry.dtype != "F64" && entry.dtype != "F32" && entry.dtype != "F16" &&
      entry.dtype != "BF16") {
    fail(path, "tensor " + quote_name(name) + " has dtype " + entry.dtype,
         "a floating-point tensor: F32, F16, BF16 or F64");
  }

  std::string bytes(static_cast<std::size_t>(entry.end - entry.begin), '\0');
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(header.data_start + entry.begin));
  if (!in || !in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
    fail(path, "read error in tensor " + quote_name(name), kExpectFile);
  }

  SafetensorsArray array;
  array.shape = entry.shape;
  array.dtype = entry.dtype;
  array.data.resize(bytes.size() * 8 / static_cast<std::size_t>(bits));
  if (entry.dtype == "F64") convert<double>(bytes, array.data, [](double v) { return v; });
  if (entry.dtype == "F32") convert<float>(bytes, array.data, [](float v) { return double(v); });
  if (entry.dtype == "F16") convert<std::uint16_t>(bytes, array.data, half_to_double);
  if (entry.dtype == "BF16") convert<std::uint16_t>(bytes, array.data, bfloat16_to_double);
  return array;
}

bool looks_like_safetensors(const std::string& path) {
  if (path.size() >= 12 && path.compare(path.size() - 12, 12, ".safetensors") == 0) return true;
  std::ifstream in(path, std::ios::binary);
  char prefix[9];
  if (!in.read(prefix, 9)) return false;
  // A .npy or HDF5 file is never taken for one, whatever its 9th byte.
  if (std::memcmp(prefix, "\x93NUMPY", 6) == 0 || std::memcmp(prefix, "\x89HDF", 4) == 0) {
    return false;
  }
  return prefix[8] == '{';
}

}  // namespace poslab
