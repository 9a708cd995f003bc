#pragma once
// safetensors files (the Hugging Face format for model weights), read-only: enough to take
// one tensor out of a pretrained model, e.g. GPT-2's position table
// `transformer.wpe.weight`, without converting it by hand.
//
// Layout: an 8-byte little-endian unsigned header length N, N bytes of JSON, then the data
// buffer. The header maps each tensor name to
//   {"dtype": "F32", "shape": [1024, 768], "data_offsets": [begin, end]}
// (offsets into the data buffer, end exclusive), plus an optional "__metadata__" object of
// string → string. The header is validated strictly, as the reference implementation does:
// valid JSON (RFC 8259, no duplicate keys), known dtypes, every tensor's byte length equal
// to its shape's element count times the dtype's size, and the tensors tiling the data
// buffer exactly (no overlap, no gap, nothing after the last). Any violation is a one-line
// ConfigError "<file>: <what>: expected <what>".
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace poslab {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;                // "F32", "BF16", ... as written in the header
  std::vector<std::size_t> shape;   // {} for a scalar
  std::uint64_t begin = 0, end = 0; // byte range in the data buffer, end exclusive
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> tensors;       // in header order
  std::map<std::string, std::string> metadata; // "__metadata__", if present
  std::uint64_t data_start = 0;                // file offset of the data buffer (8 + N)
};

// Reads and validates the header (not the data). Throws ConfigError.
SafetensorsHeader read_safetensors_header(const std::string& path);

struct SafetensorsArray {
  std::vector<double> data;        // C (row-major) order, converted to double
  std::vector<std::size_t> shape;
  std::string dtype;
};

// Reads one tensor of dtype F64, F32, F16 or BF16, converted exactly to double (every
// value of those types is a double). Only that tensor's bytes are read, so taking a
// position table out of a multi-gigabyte checkpoint is quick. A missing name is a
// ConfigError that lists the names the file holds (those that contain the asked-for name
// first, at most 12); another dtype (integers, FP8, ...) is a ConfigError naming it.
SafetensorsArray read_safetensors_tensor(const std::string& path, const std::string& name);

// Whether `path` is named *.safetensors or starts like one (an 8-byte length, then '{').
// True does not mean valid: read_safetensors_header says what is wrong.
bool looks_like_safetensors(const std::string& path);

}  // namespace poslab
