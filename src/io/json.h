#pragma once
// A strict JSON reader (RFC 8259) for small machine-written headers, such as a safetensors
// file's. The whole text must be one value (surrounding whitespace allowed); anything else
// — a trailing comma, a comment, a single-quoted string, a control character inside a
// string, an unpaired surrogate, a duplicate object key, nesting deeper than 64 — is a
// JsonError that says at which byte. Numbers keep their literal text, so that integers
// beyond double precision (byte offsets in files over 2^53 bytes) are not rounded.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace poslab {

struct JsonValue {
  enum class Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  std::string text;  // a String's decoded UTF-8, or a Number's literal as written
  std::vector<JsonValue> items;                             // Array
  std::vector<std::pair<std::string, JsonValue>> members;   // Object, in document order

  // The member named `key` of an Object, or nullptr.
  const JsonValue* find(const std::string& key) const;
  // A Number that is a non-negative integer literal (no sign, fraction or exponent) that
  // fits in 64 bits; std::nullopt otherwise.
  std::optional<std::uint64_t> as_uint64() const;
};

// "an object", "a number", ...: what a kind is called in error messages.
const char* json_kind_name(JsonValue::Kind kind);

class JsonError : public std::runtime_error {
 public:
  JsonError(std::size_t offset, const std::string& what)
      : std::runtime_error(what), offset_(offset) {}
  // Byte offset into the parsed text where the problem was found.
  std::size_t offset() const { return offset_; }

 private:
  std::size_t offset_;
};

JsonValue parse_json(std::string_view text);

}  // namespace poslab
