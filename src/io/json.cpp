#include "io/json.h"

#include <limits>

namespace poslab {
namespace {

constexpr int kMaxDepth = 64;  // deeper input is refused instead of exhausting the stack

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  JsonValue document() {
    JsonValue value = parse_value(0);
    skip_space();
    if (pos_ != text_.size()) bad("unexpected text after the JSON value");
    return value;
  }

 private:
  [[noreturn]] void bad(const std::string& what) const { throw JsonError(pos_, what); }

  bool at_end() const { return pos_ >= text_.size(); }
  char current() const { return text_[pos_]; }

  void skip_space() {
    while (!at_end() && (current() == ' ' || current() == '\t' || current() == '\n' ||
                         current() == '\r')) {
      ++pos_;
    }
  }

  void expect(char c) {
    skip_space();
    if (at_end() || current() != c) bad(std::string("expected '") + c + "'");
    ++pos_;
  }

  JsonValue parse_value(int depth) {
    if (depth > kMaxDepth) bad("nesting deeper than " + std::to_string(kMaxDepth));
    skip_space();
    if (at_end()) bad("unexpected end of text");
    JsonValue value;
    switch (current()) {
      case '{': parse_object(value, depth); break;
      case '[': parse_array(value, depth); break;
      case '"':
        value.kind = JsonValue::Kind::String;
        value.text = parse_string();
        break;
      case 't': literal("true"); value.kind = JsonValue::Kind::Bool; value.boolean = true; break;
      case 'f': literal("false"); value.kind = JsonValue::Kind::Bool; break;
      case 'n': literal("null"); break;
      default:
        if (current() == '-' || (current() >= '0' && current() <= '9')) {
          value.kind = JsonValue::Kind::Number;
          value.text = parse_number();
        } else {
          bad(std::string("unexpected character '") + printable(current()) + "'");
        }
    }
    return value;
  }

  static std::string printable(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F) return std::string(1, c);
    const char* hex = "0123456789abcdef";
    return std::string("\\x") + hex[u >> 4] + hex[u & 15];
  }

  void literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) bad("invalid literal (true, false or null?)");
    pos_ += word.size();
  }

  void parse_object(JsonValue& value, int depth) {
    value.kind = JsonValue::Kind::Object;
    ++pos_;  // '{'
    skip_space();
    if (!at_end() && current() == '}') {
      ++pos_;
      return;
    }
    while (true) {
      skip_space();
      if (at_end() || current() != '"') bad("expected a string key");
      const std::size_t key_at = pos_;
      std::string key = parse_string();
      if (value.find(key)) throw JsonError(key_at, "duplicate key \"" + key + "\"");
      expect(':');
      value.members.emplace_back(std::move(key), parse_value(depth + 1));
      skip_space();
      if (at_end()) bad("unexpected end of text in an object");
      if (current() == '}') {
        ++pos_;
        return;
      }
      if (current() != ',') bad("expected ',' or '}'");
      ++pos_;
    }
  }

  void parse_array(JsonValue& value, int depth) {
    value.kind = JsonValue::Kind::Array;
    ++pos_;  // '['
    skip_space();
    if (!at_end() && current() == ']') {
      ++pos_;
      return;
    }
    while (true) {
      value.items.push_back(parse_value(depth + 1));
      skip_space();
      if (at_end()) bad("unexpected end of text in an array");
      if (current() == ']') {
        ++pos_;
        return;
      }
      if (current() != ',') bad("expected ',' or ']'");
      ++pos_;
    }
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  std::string parse_number() {
    const std::size_t start = pos_;
    if (current() == '-') ++pos_;
    if (at_end() || !digit()) bad("a number needs digits");
    if (current() == '0') {
      ++pos_;
      if (!at_end() && digit()) bad("leading zeros are not allowed in a number");
    } else {
      digits();
    }
    if (!at_end() && current() == '.') {
      ++pos_;
      if (at_end() || !digit()) bad("a fraction needs digits");
      digits();
    }
    if (!at_end() && (current() == 'e' || current() == 'E')) {
      ++pos_;
      if (!at_end() && (current() == '+' || current() == '-')) ++pos_;
      if (at_end() || !digit()) bad("an exponent needs digits");
      digits();
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  bool digit() const { return current() >= '0' && current() <= '9'; }
  void digits() {
    while (!at_end() && digit()) ++pos_;
  }

  unsigned hex4() {
    if (text_.size() - pos_ < 4) bad("truncated \\u escape");
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      code <<= 4;
      if (c >= '0' && c <= '9') code |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f') code |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') code |= unsigned(c - 'A' + 10);
      else bad("invalid \\u escape");
    }
    return code;
  }

  static void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
      out += char(code);
    } else if (code < 0x800) {
      out += char(0xC0 | (code >> 6));
      out += char(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += char(0xE0 | (code >> 12));
      out += char(0x80 | ((code >> 6) & 0x3F));
      out += char(0x80 | (code & 0x3F));
    } else {
      out += char(0xF0 | (code >> 18));
      out += char(0x80 | ((code >> 12) & 0x3F));
      out += char(0x80 | ((code >> 6) & 0x3F));
      out += char(0x80 | (code & 0x3F));
    }
  }

  // Checks one UTF-8 sequence starting at pos_ (a byte >= 0x80) and copies it to `out`:
  // shortest form only, no surrogates, at most U+10FFFF.
  void utf8_sequence(std::string& out) {
    const auto lead = static_cast<unsigned char>(current());
    int extra = 0;
    unsigned code = 0, minimum = 0;
    if (lead >= 0xC2 && lead <= 0xDF) extra = 1, code = lead & 0x1F, minimum = 0x80;
    else if (lead >= 0xE0 && lead <= 0xEF) extra = 2, code = lead & 0x0F, minimum = 0x800;
    else if (lead >= 0xF0 && lead <= 0xF4) extra = 3, code = lead & 0x07, minimum = 0x10000;
    else bad("invalid UTF-8 in a string");
    if (text_.size() - pos_ <= std::size_t(extra)) bad("invalid UTF-8 in a string");
    for (int i = 1; i <= extra; ++i) {
      const auto next = static_cast<unsigned char>(text_[pos_ + i]);
      if ((next & 0xC0) != 0x80) bad("invalid UTF-8 in a string");
      code = (code << 6) | (next & 0x3F);
    }
    if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      bad("invalid UTF-8 in a string");
    }
    out.append(text_.substr(pos_, extra + 1));
    pos_ += extra + 1;
  }

  std::string parse_string() {
    ++pos_;  // '"'
    std::string out;
    while (true) {
      if (at_end()) bad("unterminated string");
      const char c = current();
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) bad("control character inside a string");
      if (static_cast<unsigned char>(c) >= 0x80) {
        utf8_sequence(out);
        continue;
      }
      ++pos_;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_end()) bad("unterminated string");
      const char e = text_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned code = hex4();
          if (code >= 0xDC00 && code <= 0xDFFF) bad("unpaired surrogate in a \\u escape");
          if (code >= 0xD800 && code <= 0xDBFF) {
            if (text_.substr(pos_, 2) != "\\u") bad("unpaired surrogate in a \\u escape");
            pos_ += 2;
            const unsigned low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) bad("unpaired surrogate in a \\u escape");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, code);
          break;
        }
        default:
          --pos_;
          bad(std::string("invalid escape '\\") + printable(e) + "'");
      }
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

const JsonValue* JsonValue::find(const std::string& key) const {
  for (const auto& [name, value] : members) {
    if (name == key) return &value;
  }
  return nullptr;
}

std::optional<std::uint64_t> JsonValue::as_uint64() const {
  if (kind != Kind::Number || text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

const char* json_kind_name(JsonValue::Kind kind) {
  switch (kind) {
    case JsonValue::Kind::Null: return "null";
    case JsonValue::Kind::Bool: return "a boolean";
    case JsonValue::Kind::Number: return "a number";
    case JsonValue::Kind::String: return "a string";
    case JsonValue::Kind::Array: return "an array";
    case JsonValue::Kind::Object: return "an object";
  }
  return "?";
}

JsonValue parse_json(std::string_view text) { return Parser(text).document(); }

}  // namespace poslab
