// The text helpers of core/config_text.h: messages, key paths, strict scalars, file names.
#include "core/config_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/limits.h"

namespace poslab {

namespace {

// Length of the run of decimal digits starting at `i`.
std::size_t digits_at(const std::string& text, std::size_t i) {
  std::size_t n = 0;
  while (i + n < text.size() && text[i + n] >= '0' && text[i + n] <= '9') ++n;
  return n;
}

std::size_t sign_length(const std::string& text) {
  return !text.empty() && (text[0] == '-' || text[0] == '+') ? 1 : 0;
}

}  // namespace

// `text` with control characters (newlines, tabs, NUL, ESC) escaped as \xNN, so that a
// value or key quoted in a message cannot break it into lines or drive a terminal.
std::string one_line(const std::string& text) {
  std::string out;
  for (const char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7F) {
      out += c;
    } else {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", unsigned(u));
      out += buffer;
    }
  }
  return out;
}

// The one-line error format every ConfigError uses.
std::string error_text(const std::string& file, const std::string& path,
                       const std::string& message) {
  return one_line(path.empty() ? file + ": " + message : file + ": " + path + ": " + message);
}

std::string join_key(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

// "a.b[2]" -> "a.b" -> "a" -> "": the key path one level up (sequence items count as levels).
std::string parent_key(const std::string& path) {
  if (!path.empty() && path.back() == ']') {
    const auto open = path.rfind('[');
    if (open != std::string::npos) return path.substr(0, open);
  }
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? std::string() : path.substr(0, dot);
}

// A genuinely undefined node. (A missing key looked up on a const yaml-cpp node gives a
// "zombie" node whose Type() throws, so we never hand those out.)
YAML::Node undefined_node() { return YAML::Node(YAML::NodeType::Undefined); }

// Looks a key up in a mapping without creating it; undefined if absent or not a mapping.
YAML::Node find_key(const YAML::Node& map, const std::string& key) {
  if (!map.IsMap()) return undefined_node();
  for (const auto& kv : map)
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return kv.second;
  return undefined_node();
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

// Shortest text that reads back as the same double ("0.1", "1e-08", "64").
std::string format_number(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}



// [-+]?[0-9]+
std::optional<long long> parse_integer(const std::string& text) {
  const std::size_t sign = sign_length(text);
  const std::size_t digits = digits_at(text, sign);
  if (digits == 0 || sign + digits != text.size()) return std::nullopt;
  long long value = 0;
  const char* begin = text.data() + (text[0] == '+' ? 1 : 0);
  const auto result = std::from_chars(begin, text.data() + text.size(), value);
  if (result.ec != std::errc() || result.ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, finite.
std::optional<double> parse_number(const std::string& text) {
  std::size_t i = sign_length(text);
  const std::size_t whole = digits_at(text, i);
  i += whole;
  std::size_t fraction = 0;
  if (i < text.size() && text[i] == '.') {
    fraction = digits_at(text, i + 1);
    i += 1 + fraction;
  }
  if (whole == 0 && fraction == 0) return std::nullopt;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    i += 1 + sign_length(text.substr(i + 1));
    const std::size_t exponent = digits_at(text, i);
    if (exponent == 0) return std::nullopt;
    i += exponent;
  }
  if (i != text.size()) return std::nullopt;
  const double value = std::strtod(text.c_str(), nullptr);
  if (!std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<bool> parse_bool(const std::string& text) {
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  return std::nullopt;
}

// What a node is, for the "got ..." half of a message: numbers and booleans bare, other
// scalars quoted, containers by kind.
std::string describe_got(const YAML::Node& node) {
  if (!node.IsDefined()) return "nothing";
  if (node.IsNull()) return "null";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  const std::string& text = node.Scalar();
  const bool looks_typed = parse_number(text) || parse_bool(text);
  if (!is_quoted(node) && looks_typed) return text;
  return "'" + text + "'" + (looks_typed ? " (a quoted string)" : "");
}

std::string file_name_problem(const std::string& name) {
  if (name.empty()) return "empty";
  if (name.size() > kMaxRunNameBytes) return std::to_string(name.size()) + " bytes";
  if (name[0] == '.') return "starts with '.'";
  for (const char c : name) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!safe) return "contains '" + printable(std::string(1, c)) + "'";
  }
  return "";
}

std::string printable(const std::string& text, std::size_t max_bytes) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == max_bytes) return out + "...";
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += char(c);
    } else {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", unsigned(c));
      out += buffer;
    }
  }
  return out;
}

}  // namespace poslab
