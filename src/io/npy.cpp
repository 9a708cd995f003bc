#include "io/npy.h"

#include <bit>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "core/config_node.h"  // ConfigError
#include "io/format_shape.h"
#include "io/temp_files.h"

namespace poslab {
namespace {

// .npy data is stored little-endian ('<'); we copy bytes straight into host values.
static_assert(std::endian::native == std::endian::little, "npy I/O assumes a little-endian host");

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;

[[noreturn]] void fail(const std::string& path, const std::string& what,
                       const std::string& expected) {
  throw ConfigError(path + ": " + what + ": expected " + expected);
}

// ---- The header: a Python dict literal such as
//      {'descr': '<f4', 'fortran_order': False, 'shape': (64, 768), }
// Only the three keys NumPy writes, with str / bool / tuple-of-int values, are accepted.

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::size_t> shape;
};

class HeaderParser {
 public:
  HeaderParser(const std::string& path, const std::string& text) : path_(path), text_(text) {}

  Header parse() {
    Header header;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (!peek('}')) {
      const std::string key = quoted();
      expect(':');
      if (key == "descr") {
        header.descr = quoted();
        seen_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = boolean();
        seen_order = true;
      } else if (key == "shape") {
        header.shape = int_tuple();
        seen_shape = true;
      } else {
        bad("unknown header key '" + key + "'");
      }
      if (!peek('}')) expect(',');
    }
    expect('}');
    if (!seen_descr || !seen_order || !seen_shape) bad("header lacks descr, fortran_order or shape");
    return header;
  }

 private:
  [[noreturn]] void bad(const std::string& what) const {
    fail(path_, what, "a NumPy header {'descr': ..., 'fortran_order': ..., 'shape': (...)}");
  }

  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }

  bool peek(char c) {
    skip_space();
    return pos_ < text_.size() && text_[pos_] == c;
  }

  void expect(char c) {
    if (!peek(c)) bad(std::string("malformed header (wanted '") + c + "')");
    ++pos_;
  }

  std::string quoted() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      bad("malformed header (wanted a quoted string)");
    }
    const char quote = text_[pos_++];
    const std::size_t end = text_.find(quote, pos_);
    if (end == std::string::npos) bad("malformed header (unterminated string)");
    std::string out = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }

  bool word(const std::string& w) {
    skip_space();
    if (text_.compare(pos_, w.size(), w) != 0) return false;
    pos_ += w.size();
    return true;
  }

  bool boolean() {
    if (word("True")) return true;
    if (word("False")) return false;
    bad("malformed header (fortran_order is not True or False)");
  }

  std::size_t integer() {
    skip_space();
    const std::size_t start = pos_;
    std::size_t value = 0;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      const std::size_t digit = static_cast<std::size_t>(text_[pos_] - '0');
      if (value > (std::numeric_limits<std::size_t>::max() - digit) / 10) {
        bad("shape dimension too large");
      }
      value = value * 10 + digit;
      ++pos_;
    }
    if (pos_ == start) bad("malformed header (shape holds a non-integer)");
    // Python 2 era writers could append 'L' to longs.
    if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;
    return value;
  }

  std::vector<std::size_t> int_tuple() {
    std::vector<std::size_t> dims;
    expect('(');
    while (!peek(')')) {
      dims.push_back(integer());
      if (!peek(')')) expect(',');
    }
    expect(')');
    return dims;
  }

  const std::string& path_;
  const std::string& text_;
  std::size_t pos_ = 0;
};

// ---- Reading

std::string read_all(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    fail(path, std::filesystem::exists(path, error) ? "not a regular file" : "no such file",
         "a readable .npy file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open", "a readable .npy file");
  // One read of the whole file (a character-by-character copy is slow for big matrices).
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) fail(path, "read error", "a readable .npy file");
  return std::move(bytes).str();
}

std::uint32_t little_endian(const std::string& bytes, std::size_t offset, std::size_t width) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    value |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return value;
}

// Returns the header text and sets `data_offset` to the first data byte.
std::string split_header(const std::string& path, const std::string& bytes,
                         std::size_t& data_offset) {
  if (bytes.size() < kMagicSize || bytes.compare(0, kMagicSize, kMagic) != 0) {
    fail(path, "no \\x93NUMPY magic at the start", "a .npy file");
  }
  if (bytes.size() < kMagicSize + 2) fail(path, "truncated header", "a complete .npy file");
  const int major = static_cast<unsigned char>(bytes[kMagicSize]);
  const int minor = static_cast<unsigned char>(bytes[kMagicSize + 1]);
  if (major < 1 || major > 3) {
    fail(path, "format version " + std::to_string(major) + "." + std::to_string(minor),
         "version 1.0, 2.0 or 3.0");
  }
  // Version 1.0 stores the header length in 2 bytes, later versions in 4.
  const std::size_t width = major == 1 ? 2 : 4;
  const std::size_t prefix = kMagicSize + 2 + width;
  if (bytes.size() < prefix) fail(path, "truncated header", "a complete .npy file");
  const std::size_t header_length = little_endian(bytes, kMagicSize + 2, width);
  if (bytes.size() - prefix < header_length) {
    fail(path,
         "truncated header (" + std::to_string(bytes.size() - prefix) + " of " +
             std::to_string(header_length) + " bytes)",
         "a complete .npy file");
  }
  data_offset = prefix + header_length;
  return bytes.substr(prefix, header_length);
}

template <class T>
void convert(const std::string& bytes, std::size_t offset, std::vector<double>& out) {
  for (std::size_t i = 0; i < out.size(); ++i) {
    T value;
    std::memcpy(&value, bytes.data() + offset + i * sizeof(T), sizeof(T));
    out[i] = static_cast<double>(value);
  }
}

std::size_t item_size(const std::string& path, const std::string& descr) {
  static const std::map<std::string, std::size_t> sizes = {
      {"<f4", 4}, {"<f8", 8}, {"<i4", 4}, {"<i8", 8}};
  auto it = sizes.find(descr);
  if (it == sizes.end()) fail(path, "dtype '" + descr + "'", "one of <f4, <f8, <i4, <i8");
  return it->second;
}

// Element count with an overflow check: a corrupt header must not wrap around to a small
// count that then "fits" in the file.
std::size_t checked_count(const std::string& path, const std::vector<std::size_t>& shape,
                          std::size_t item) {
  std::size_t count = 1;
  for (std::size_t d : shape) {
    if (d != 0 && count > std::numeric_limits<std::size_t>::max() / item / d) {
      fail(path, "shape " + format_shape(shape) + " is too large", "a plausible shape");
    }
    count *= d;
  }
  return count;
}

// ---- Writing

std::string shape_tuple(const std::vector<std::size_t>& shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  if (shape.size() == 1) out += ",";  // a 1-tuple needs its comma in Python
  return out + ")";
}

// Magic, version, header length and the header dict padded with spaces and a newline so
// that the data starts on a 64-byte boundary (what NumPy itself does, for mmap).
std::string make_header(const std::vector<std::size_t>& shape) {
  const std::string dict =
      "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape_tuple(shape) + ", }";
  for (int major : {1, 2}) {
    const std::size_t prefix = kMagicSize + 2 + (major == 1 ? 2 : 4);
    const std::size_t unpadded = prefix + dict.size() + 1;  // + '\n'
    const std::size_t total = (unpadded + 63) / 64 * 64;
    const std::size_t header_length = total - prefix;
    if (major == 1 && header_length > 0xFFFF) continue;
    std::string out(kMagic, kMagicSize);
    out += static_cast<char>(major);
    out += '\0';
    for (std::size_t i = 0; i < prefix - kMagicSize - 2; ++i) {
      out += static_cast<char>((header_length >> (8 * i)) & 0xFF);
    }
    out += dict;
    out.append(total - out.size() - 1, ' ');
    out += '\n';
    return out;
  }
  throw std::invalid_argument("npy header too long");
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  const std::string bytes = read_all(path);
  std::size_t offset = 0;
  const std::string text = split_header(path, bytes, offset);
  const Header header = HeaderParser(path, text).parse();
  if (header.fortran_order) {
    fail(path, "fortran_order is True", "C order (save np.ascontiguousarray(a))");
  }
  const std::size_t item = item_size(path, header.descr);
  const std::size_t count = checked_count(path, header.shape, item);
  const std::size_t available = bytes.size() - offset;
  if (available < count * item) {
    fail(path,
         "truncated data (" + std::to_string(available) + " bytes, shape " +
             format_shape(header.shape) + " of " + header.descr + " needs " +
             std::to_string(count * item) + ")",
         "a complete .npy file");
  }
  NpyArray array;
  array.shape = header.shape;
  array.data.resize(count);
  if (header.descr == "<f4") convert<float>(bytes, offset, array.data);
  if (header.descr == "<f8") convert<double>(bytes, offset, array.data);
  if (header.descr == "<i4") convert<std::int32_t>(bytes, offset, array.data);
  if (header.descr == "<i8") convert<std::int64_t>(bytes, offset, array.data);
  return array;
}

void write_npy(const std::string& path, const std::vector<double>& data,
               const std::vector<std::size_t>& shape) {
  std::size_t count = 1;
  for (std::size_t d : shape) count *= d;
  if (count != data.size()) {
    throw std::invalid_argument(path + ": " + std::to_string(data.size()) +
                                " values do not fill shape " + format_shape(shape));
  }
  // A unique temp file next to the final name (io/temp_files.h), renamed when complete.
  TempFile temp(path);
  std::ofstream out(temp.path(), std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error(path + ": cannot write " + temp.path());
  const std::string header = make_header(shape);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(data.data()),
            static_cast<std::streamsize>(data.size() * sizeof(double)));
  out.close();
  if (!out) throw std::runtime_error(path + ": write failed");
  temp.commit();
}

}  // namespace poslab
