#include "io/file_name.h"

#include <algorithm>

namespace poslab {

namespace {

bool kept(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-';
}

// Only upper-case digits appear in escapes; a lower-case "_ab" is therefore plain text.
bool hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

int hex_value(char c) { return c <= '9' ? c - '0' : c - 'A' + 10; }

}  // namespace

std::string encode_file_name_component(const std::string& text) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (kept(c)) {
      out += c;
      continue;
    }
    // A '_' stays itself only when the decoder cannot read it as an escape and it cannot
    // form "__" or end the component: the next byte is kept as itself, and the two next
    // bytes are not both upper-case hex digits.
    const bool next_kept = i + 1 < text.size() && kept(text[i + 1]);
    const bool looks_like_escape =
        i + 2 < text.size() && hex_digit(text[i + 1]) && hex_digit(text[i + 2]);
    if (c == '_' && next_kept && !looks_like_escape) {
      out += c;
      continue;
    }
    const auto byte = static_cast<unsigned char>(c);
    out += '_';
    out += digits[byte >> 4];
    out += digits[byte & 15];
  }
  return out;
}

std::string decode_file_name_component(const std::string& encoded) {
  std::string out;
  out.reserve(encoded.size());
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '_' && i + 2 < encoded.size() && hex_digit(encoded[i + 1]) &&
        hex_digit(encoded[i + 2])) {
      out += static_cast<char>(hex_value(encoded[i + 1]) * 16 + hex_value(encoded[i + 2]));
      i += 2;
    } else {
      out += encoded[i];
    }
  }
  return out;
}

std::string short_hash(const std::string& text) {
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a offset basis and prime
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  static const char* digits = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[std::size_t(i)] = digits[h & 15];
  return out;
}

std::string bounded_suffix(const std::string& stem, const std::string& suffix, std::size_t max_bytes) {
  if (stem.size() + suffix.size() <= max_bytes) return suffix;
  const std::string tail = "__" + short_hash(stem + suffix);
  const std::size_t room = max_bytes > stem.size() + tail.size() ? max_bytes - stem.size() - tail.size() : 0;
  return suffix.substr(0, std::min(room, suffix.size())) + tail;
}

}  // namespace poslab
