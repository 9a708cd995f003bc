// Experiment configuration: ConfigNode (a YAML node that knows its key path and file),
// option declarations (parse_options / describe_options) and load_experiment (includes,
// --set overrides, runs expansion, validation). See config.h for the contract.
#include "io/config.h"

#include <algorithm>
#include <limits>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

namespace poslab {

namespace fs = std::filesystem;

namespace {

// ---- Small helpers shared by every part of this file ---------------------------------

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

bool is_absent(const YAML::Node& node) { return !node.IsDefined() || node.IsNull(); }

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

// ---- Scalar grammar (YAML 1.2 core schema, stricter than yaml-cpp's as<T>) ------------
// yaml-cpp's as<int> reads "010" as octal and "0x10" as hex, and as<bool> accepts yes/no;
// a configuration language for experiments should not surprise, so we parse ourselves.

// Quoted scalars ("3", '3') are strings in YAML even when they look like numbers.
bool is_quoted(const YAML::Node& node) { return node.Tag() == "!"; }

// Length of the run of decimal digits starting at `i`.
std::size_t digits_at(const std::string& text, std::size_t i) {
  std::size_t n = 0;
  while (i + n < text.size() && text[i + n] >= '0' && text[i + n] <= '9') ++n;
  return n;
}

std::size_t sign_length(const std::string& text) {
  return !text.empty() && (text[0] == '-' || text[0] == '+') ? 1 : 0;
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

// A bound as people write it: whole numbers in full ("1000000", not "1e+06").
std::string bound_text(double bound) {
  if (std::abs(bound) < 1e15 && bound == std::floor(bound))
    return std::to_string(static_cast<long long>(bound));
  return format_number(bound);
}

std::string range_text(double min, double max) {
  const bool has_min = std::isfinite(min), has_max = std::isfinite(max);
  if (has_min && has_max) return "between " + bound_text(min) + " and " + bound_text(max);
  if (has_min) return ">= " + bound_text(min);
  if (has_max) return "<= " + bound_text(max);
  return "";
}

bool in_range(double value, const OptionSpec& spec) {
  return value >= spec.min && value <= spec.max;
}

// "an integer >= 1", "one of: cosine, constant", ... — the "expected" half of a message.
std::string expectation(const OptionSpec& spec) {
  const std::string range = range_text(spec.min, spec.max);
  const std::string suffix = range.empty() ? "" : " " + range;
  switch (spec.type) {
    case OptionSpec::Type::Int: return "an integer" + suffix;
    case OptionSpec::Type::Float: return "a number" + suffix;
    case OptionSpec::Type::Bool: return "true or false";
    case OptionSpec::Type::IntList: return "a list of integers" + suffix;
    case OptionSpec::Type::String:
      return spec.choices.empty() ? "a string" : "one of: " + join(spec.choices, ", ");
    case OptionSpec::Type::Section: return "a mapping";
  }
  return "a value";
}

const char* type_name(OptionSpec::Type type) {
  switch (type) {
    case OptionSpec::Type::Int: return "int";
    case OptionSpec::Type::Float: return "float";
    case OptionSpec::Type::String: return "string";
    case OptionSpec::Type::Bool: return "bool";
    case OptionSpec::Type::IntList: return "int list";
    case OptionSpec::Type::Section: return "section";
  }
  return "?";
}

[[noreturn]] void fail_expected(const ConfigNode& where, const YAML::Node& value,
                                const OptionSpec& spec) {
  where.fail("expected " + expectation(spec) + ", got " + describe_got(value));
}

// One integer (an Int option, or one item of an IntList), range-checked.
int read_int(const ConfigNode& where, const YAML::Node& value, const OptionSpec& spec) {
  std::optional<long long> parsed;
  if (value.IsScalar() && !is_quoted(value)) parsed = parse_integer(value.Scalar());
  if (!parsed || !in_range(double(*parsed), spec) || *parsed < std::numeric_limits<int>::min() ||
      *parsed > std::numeric_limits<int>::max())
    fail_expected(where, value, spec);
  return int(*parsed);
}

double read_float(const ConfigNode& where, const YAML::Node& value, const OptionSpec& spec) {
  std::optional<double> parsed;
  if (value.IsScalar() && !is_quoted(value)) parsed = parse_number(value.Scalar());
  if (!parsed || !in_range(*parsed, spec)) fail_expected(where, value, spec);
  return *parsed;
}

bool read_bool(const ConfigNode& where, const YAML::Node& value, const OptionSpec& spec) {
  std::optional<bool> parsed;
  if (value.IsScalar() && !is_quoted(value)) parsed = parse_bool(value.Scalar());
  if (!parsed) fail_expected(where, value, spec);
  return *parsed;
}

std::string read_string(const ConfigNode& where, const YAML::Node& value,
                        const OptionSpec& spec) {
  if (!value.IsScalar()) fail_expected(where, value, spec);
  const std::string& text = value.Scalar();
  if (!spec.choices.empty() &&
      std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end())
    fail_expected(where, value, spec);
  return text;
}

// A sequence of integers; a single integer is accepted as a one-element list because
// "lengths: 64" is what people write when they want one length.
std::vector<int> read_int_list(const ConfigNode& where, const YAML::Node& value,
                               const OptionSpec& spec) {
  if (value.IsScalar()) return {read_int(where, value, spec)};
  if (!value.IsSequence()) fail_expected(where, value, spec);
  OptionSpec item_spec = spec;
  item_spec.type = OptionSpec::Type::Int;
  std::vector<int> out;
  for (std::size_t i = 0; i < value.size(); ++i)
    out.push_back(read_int(where.item(i), value[i], item_spec));
  return out;
}

[[noreturn]] void fail_unknown_key(const ConfigNode& key, const std::vector<std::string>& allowed) {
  key.fail(allowed.empty() ? "unknown key; this section takes no options"
                           : "unknown key; expected one of: " + join(allowed, ", "));
}

// Fails on the first key of `node` (a mapping) that is not in `allowed`.
void check_keys(const ConfigNode& node, const std::vector<std::string>& allowed) {
  for (const auto& key : node.keys())
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      fail_unknown_key(node.child(key), allowed);
}

}  // namespace

// ---- Names that become file names ----------------------------------------------------

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

// ---- ConfigNode ----------------------------------------------------------------------

ConfigNode::ConfigNode(YAML::Node node, std::string path,
                       std::shared_ptr<const KeyOrigins> origins, std::string fallback_file)
    : node_(std::move(node)),
      path_(std::move(path)),
      origins_(std::move(origins)),
      fallback_file_(std::move(fallback_file)) {}

std::string ConfigNode::file() const {
  if (origins_) {
    // Walk up so that a key nobody set (a default, a sequence item) still names the file
    // that set its nearest ancestor.
    for (std::string key = path_;; key = parent_key(key)) {
      const auto it = origins_->find(key);
      if (it != origins_->end()) return it->second;
      if (key.empty()) break;
    }
  }
  return fallback_file_;
}

ConfigNode& ConfigNode::operator=(const ConfigNode& other) {
  if (this == &other) return *this;
  node_.reset(other.node_);
  path_ = other.path_;
  origins_ = other.origins_;
  fallback_file_ = other.fallback_file_;
  return *this;
}

bool ConfigNode::has(const std::string& key) const {
  return find_key(node_, key).IsDefined();
}

ConfigNode ConfigNode::child(const std::string& key) const {
  return ConfigNode(find_key(node_, key), join_key(path_, key), origins_, fallback_file_);
}

ConfigNode ConfigNode::item(std::size_t index) const {
  YAML::Node value = node_.IsSequence() && index < node_.size() ? node_[index] : undefined_node();
  return ConfigNode(value, path_ + "[" + std::to_string(index) + "]", origins_, fallback_file_);
}

ConfigNode ConfigNode::derived(YAML::Node node, const KeyOrigins& more_origins) const {
  if (more_origins.empty()) return ConfigNode(std::move(node), path_, origins_, fallback_file_);
  auto origins = std::make_shared<KeyOrigins>(origins_ ? *origins_ : KeyOrigins{});
  for (const auto& [key, file] : more_origins) (*origins)[key] = file;
  return ConfigNode(std::move(node), path_, std::move(origins), fallback_file_);
}

std::vector<std::string> ConfigNode::keys() const {
  std::vector<std::string> out;
  if (!node_.IsMap()) return out;
  for (const auto& kv : node_) out.push_back(kv.first.Scalar());
  return out;
}

void ConfigNode::fail(const std::string& message) const {
  throw ConfigError(error_text(file(), path_, message));
}

// ---- Options -------------------------------------------------------------------------

namespace {

// Declared-name lookup shared by the getters: an undeclared name is a bug in the caller.
template <class Map>
const typename Map::mapped_type& declared(const Map& values, const std::string& name,
                                          const char* type) {
  const auto it = values.find(name);
  if (it == values.end())
    throw std::logic_error("option '" + name + "' was not declared as " + type);
  return it->second;
}

}  // namespace

int Options::get_int(const std::string& name) const { return declared(ints_, name, "int"); }
double Options::get_float(const std::string& name) const {
  return declared(floats_, name, "float");
}
const std::string& Options::get_string(const std::string& name) const {
  return declared(strings_, name, "string");
}
bool Options::get_bool(const std::string& name) const { return declared(bools_, name, "bool"); }
const std::vector<int>& Options::get_int_list(const std::string& name) const {
  return declared(int_lists_, name, "int list");
}
const ConfigNode& Options::node(const std::string& name) const {
  return declared(nodes_, name, "an option");
}
const Options* Options::section(const std::string& name) const {
  const auto it = sections_.find(name);
  return it == sections_.end() ? nullptr : it->second.get();
}

Options parse_options(const ConfigNode& node, const std::vector<OptionSpec>& specs,
                      const std::vector<std::string>& ignored) {
  if (!is_absent(node.yaml()) && !node.yaml().IsMap())
    node.fail("expected a mapping, got " + describe_got(node.yaml()));

  std::vector<std::string> names;
  for (const auto& spec : specs) {
    if (std::find(names.begin(), names.end(), spec.name) != names.end())
      throw std::logic_error("option '" + spec.name + "' declared twice");
    names.push_back(spec.name);
  }
  for (const auto& key : node.keys()) {
    const bool known = std::find(names.begin(), names.end(), key) != names.end() ||
                       std::find(ignored.begin(), ignored.end(), key) != ignored.end();
    if (!known) fail_unknown_key(node.child(key), names);
  }

  Options options;
  for (const auto& spec : specs) {
    const ConfigNode where = node.child(spec.name);
    YAML::Node value = where.yaml();
    if (spec.type == OptionSpec::Type::Section) {  // absent (or null): off
      if (!is_absent(value)) {
        if (!value.IsMap()) fail_expected(where, value, spec);
        options.sections_[spec.name] =
            std::make_shared<const Options>(parse_options(where, spec.fields, {}));
      }
      options.nodes_[spec.name] = where;
      continue;
    }
    const bool defaulted = !value.IsDefined();
    if (defaulted) {
      if (spec.default_value.empty()) where.fail("required option missing");
      value.reset(YAML::Load(spec.default_value));  // rebind; operator= would write into `where`
    }
    // A default that does not satisfy its own declaration is a programming error, not a
    // configuration error: report it as such so it is not blamed on the user's file.
    try {
      switch (spec.type) {
        case OptionSpec::Type::Int: options.ints_[spec.name] = read_int(where, value, spec); break;
        case OptionSpec::Type::Float:
          options.floats_[spec.name] = read_float(where, value, spec);
          break;
        case OptionSpec::Type::String:
          options.strings_[spec.name] = read_string(where, value, spec);
          break;
        case OptionSpec::Type::Bool:
          options.bools_[spec.name] = read_bool(where, value, spec);
          break;
        case OptionSpec::Type::IntList:
          options.int_lists_[spec.name] = read_int_list(where, value, spec);
          break;
        case OptionSpec::Type::Section: break;  // handled above
      }
    } catch (const ConfigError& e) {
      if (!defaulted) throw;
      throw std::logic_error("bad default for option '" + spec.name + "': " + e.what());
    }
    options.nodes_[spec.name] = where;
  }
  return options;
}

std::string describe_options(const std::vector<OptionSpec>& specs) {
  std::string out;
  for (const auto& spec : specs) {
    std::vector<std::string> facts{type_name(spec.type)};
    facts.push_back(spec.default_value.empty() ? "required" : "default " + spec.default_value);
    const std::string range = range_text(spec.min, spec.max);
    if (!range.empty()) facts.push_back(range);
    if (!spec.choices.empty()) facts.push_back("one of " + join(spec.choices, "|"));
    out += "  " + spec.name + " (" + join(facts, ", ") + ")";
    out += spec.help.empty() ? "\n" : ": " + spec.help + "\n";
    // A section's fields follow as "section.field (...)" lines.
    std::istringstream fields(describe_options(spec.fields));
    for (std::string line; std::getline(fields, line);)
      out += "  " + spec.name + "." + line.substr(line.find_first_not_of(' ')) + "\n";
  }
  return out;
}

// ---- Loading files: parse, includes, deep merge with key origins -----------------------

namespace {

// A configuration tree and, for every key path in it, the file that last set it.
struct Tree {
  YAML::Node yaml = YAML::Node(YAML::NodeType::Map);
  KeyOrigins origins;
};

bool in_subtree(const std::string& key, const std::string& path) {
  if (key.compare(0, path.size(), path) != 0) return false;
  if (key.size() == path.size()) return true;
  const char next = key[path.size()];
  return next == '.' || next == '[';
}

// Forgets the origins of `path` and everything below it (the value is being replaced).
void erase_subtree(KeyOrigins& origins, const std::string& path) {
  for (auto it = origins.lower_bound(path); it != origins.end() && it->first.compare(0, path.size(), path) == 0;) {
    if (in_subtree(it->first, path))
      it = origins.erase(it);
    else
      ++it;
  }
}

void copy_subtree(const KeyOrigins& from, KeyOrigins& to, const std::string& path) {
  for (auto it = from.lower_bound(path); it != from.end() && it->first.compare(0, path.size(), path) == 0; ++it)
    if (in_subtree(it->first, path)) to[it->first] = it->second;
}

// Deep-merges mapping `src` into mapping `dst` (src wins). Mappings merge key by key;
// scalars and sequences are replaced whole, so a later file's list never concatenates.
// A mapping that already existed keeps the origin of the file that introduced it (so that
// "task.name: required option missing" names the file holding the task section, not a file
// that merely added a key to it); every value that is replaced takes its origins from
// `src_origins`, so leaves and sequences name the file that set them last.
void merge_map(YAML::Node dst, const YAML::Node& src, const std::string& prefix,
               KeyOrigins& dst_origins, const KeyOrigins& src_origins) {
  for (const auto& kv : src) {
    const std::string key = kv.first.Scalar();
    const std::string path = join_key(prefix, key);
    YAML::Node existing = find_key(dst, key);
    if (existing.IsDefined() && existing.IsMap() && kv.second.IsMap()) {
      merge_map(existing, kv.second, path, dst_origins, src_origins);
    } else {
      erase_subtree(dst_origins, path);
      dst[key] = YAML::Clone(kv.second);
      copy_subtree(src_origins, dst_origins, path);
    }
  }
}

void merge_into(Tree& dst, const YAML::Node& src, const KeyOrigins& src_origins) {
  merge_map(dst.yaml, src, "", dst.origins, src_origins);
}

// Records `file` as the origin of every key path in one file's mapping. Sequences are
// recorded as a whole (their items inherit through ConfigNode::file's walk up). Also
// rejects what yaml-cpp lets through silently: duplicate and non-scalar keys.
void record_origins(const YAML::Node& map, const std::string& prefix, const std::string& file,
                    KeyOrigins& origins) {
  std::set<std::string> seen;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar())
      throw ConfigError(error_text(file, prefix, "expected keys to be plain names, got " +
                                                     describe_got(kv.first)));
    const std::string path = join_key(prefix, kv.first.Scalar());
    if (!seen.insert(kv.first.Scalar()).second)
      throw ConfigError(error_text(file, path, "duplicate key"));
    origins[path] = file;
    if (kv.second.IsMap()) record_origins(kv.second, path, file, origins);
  }
}

// ---- Size limits: a small file must not become a huge tree ------------------------------
// yaml-cpp keeps an alias (*name) as one more reference to its anchored node, and every
// later step (Clone, merging, key origins, the emitted /config) walks the tree as if each
// alias were a copy: nine levels of nine aliases ("billion laughs") turn 800 bytes into
// 10^9 nodes, minutes and gigabytes before a bad_alloc. So every parsed document is
// counted as it will be walked, stopping as soon as a limit is passed, before anything
// else touches it. Real experiments have a few hundred nodes.
constexpr std::uintmax_t kMaxConfigBytes = 4u << 20;
constexpr std::size_t kMaxConfigNodes = 100000;
constexpr int kMaxConfigDepth = 64;
// runs: and eval.variants copy a section once per item; their product is bounded too.
constexpr std::size_t kMaxExpandedNodes = 1000000;
constexpr std::size_t kMaxVariants = 100;

// The number of nodes of `node` with every alias counted at each use, or `limit` + 1 as
// soon as it is larger (also when nesting passes kMaxConfigDepth, which a cycle of
// aliases would do), so that counting a hostile tree costs at most `limit` steps.
std::size_t expanded_size(const YAML::Node& node, std::size_t limit, int depth = 0) {
  if (depth > kMaxConfigDepth || limit == 0) return limit + 1;
  std::size_t count = 1;
  const auto add = [&](const YAML::Node& child) {
    count += expanded_size(child, limit - count, depth + 1);
    return count <= limit;
  };
  if (node.IsSequence()) {
    for (const auto& item : node)
      if (!add(item)) return limit + 1;
  } else if (node.IsMap()) {
    for (const auto& kv : node)
      if (!add(kv.first) || !add(kv.second)) return limit + 1;
  }
  return count;
}

// "" if `node` is within the limits, else why not (for "<where>: <why>").
std::string size_problem(const YAML::Node& node) {
  if (expanded_size(node, kMaxConfigNodes) <= kMaxConfigNodes) return "";
  return "expected at most " + std::to_string(kMaxConfigNodes) + " YAML nodes nested at most " +
         std::to_string(kMaxConfigDepth) +
         " deep, counting every use of an alias (*name) as a copy; got more";
}

// Reads and parses one YAML file; its top level must be a mapping (empty = {}).
YAML::Node parse_file(const std::string& file) {
  std::ifstream in;
  std::error_code error;
  // Only regular files: a FIFO or a device would block or never end.
  if (fs::is_regular_file(file, error)) in.open(file);
  if (!in.is_open()) throw ConfigError(file + ": cannot open file");
  const std::uintmax_t bytes = fs::file_size(file, error);
  if (!error && bytes > kMaxConfigBytes)
    throw ConfigError(file + ": expected a configuration file of at most " +
                      std::to_string(kMaxConfigBytes) + " bytes, got " + std::to_string(bytes));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(file + ": cannot open file");
  YAML::Node root;
  try {
    root.reset(YAML::Load(text.str()));
  } catch (const YAML::Exception& e) {
    // yaml-cpp quotes the offending character, which may be a newline.
    if (e.mark.is_null()) throw ConfigError(one_line(file + ": " + e.msg));
    throw ConfigError(one_line(file + ": line " + std::to_string(e.mark.line + 1) + ", column " +
                               std::to_string(e.mark.column + 1) + ": " + e.msg));
  }
  const std::string problem = size_problem(root);
  if (!problem.empty()) throw ConfigError(file + ": " + problem);
  if (is_absent(root)) return YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap())
    throw ConfigError(file + ": expected a mapping at the top level, got " + describe_got(root));
  return root;
}

// The files an `include:` names, resolved relative to the including file's directory.
std::vector<std::string> include_paths(const YAML::Node& root, const std::string& file) {
  const ConfigNode include(find_key(root, "include"), "include", nullptr, file);
  const YAML::Node& node = include.yaml();
  if (is_absent(node)) return {};
  const char* expected = "expected a file name or a list of file names, got ";
  std::vector<ConfigNode> entries;
  if (node.IsScalar()) {
    entries.push_back(include);
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) entries.push_back(include.item(i));
  } else {
    include.fail(expected + describe_got(node));
  }
  std::vector<std::string> out;
  const fs::path dir = fs::path(file).parent_path();
  for (const auto& entry : entries) {
    if (!entry.yaml().IsScalar() || entry.yaml().Scalar().empty())
      entry.fail(expected + describe_got(entry.yaml()));
    out.push_back((dir / entry.yaml().Scalar()).lexically_normal().string());
  }
  return out;
}

std::string canonical_name(const std::string& file) {
  std::error_code error;
  const fs::path canonical = fs::weakly_canonical(file, error);
  return error ? file : canonical.string();
}

// Loads `file` with its includes merged underneath it. `stack` holds the files being
// loaded (display name, canonical name) so that a cycle is reported instead of recursing.
Tree load_tree(const std::string& file, std::vector<std::pair<std::string, std::string>>& stack) {
  const YAML::Node root = parse_file(file);
  stack.emplace_back(file, canonical_name(file));
  const ConfigNode include_node(find_key(root, "include"), "include", nullptr, file);

  Tree tree;
  for (const auto& path : include_paths(root, file)) {
    if (!fs::is_regular_file(path)) include_node.fail("cannot open '" + path + "'");
    const std::string canonical = canonical_name(path);
    for (const auto& entry : stack) {
      if (entry.second != canonical) continue;
      std::string chain;
      for (const auto& entry : stack) chain += entry.first + " -> ";
      include_node.fail("include cycle: " + chain + path);
    }
    const Tree included = load_tree(path, stack);
    merge_into(tree, included.yaml, included.origins);
  }

  YAML::Node own = YAML::Clone(root);
  own.remove("include");
  KeyOrigins own_origins;
  record_origins(own, "", file, own_origins);
  merge_into(tree, own, own_origins);
  stack.pop_back();
  return tree;
}

// ---- Overrides ---------------------------------------------------------------------------

struct Override {
  std::string text;        // as the user typed it, for messages
  YAML::Node tree;         // {a: {b: {c: value}}}
  KeyOrigins origins;      // every path in `tree` -> "--set"
};

constexpr const char* kOverrideOrigin = "--set";

Override parse_override(const std::string& text) {
  const auto malformed = [&] {
    return ConfigError(std::string(kOverrideOrigin) + ": '" + one_line(text) +
                       "': expected key.path=value");
  };
  const auto eq = text.find('=');
  if (eq == std::string::npos) throw malformed();
  std::string key = text.substr(0, eq);
  key.erase(0, key.find_first_not_of(" \t"));
  key.erase(key.find_last_not_of(" \t") + 1);
  std::vector<std::string> parts;
  std::stringstream split(key);
  for (std::string part; std::getline(split, part, '.');) parts.push_back(part);
  if (key.empty() || key.back() == '.' ||
      std::any_of(parts.begin(), parts.end(), [](const auto& p) { return p.empty(); }))
    throw malformed();
  if (parts[0] == "include" || parts[0] == "runs")
    throw ConfigError(std::string(kOverrideOrigin) + ": '" + one_line(text) +
                      "': include and runs cannot be overridden");

  YAML::Node value;
  try {
    value = YAML::Load(text.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    throw ConfigError(one_line(std::string(kOverrideOrigin) + ": '" + text +
                               "': cannot parse the value: " + e.msg));
  }
  const std::string problem = size_problem(value);
  if (!problem.empty())
    throw ConfigError(std::string(kOverrideOrigin) + ": '" + printable(text) + "': " + problem);
  Override out{text, value, {}};
  std::string path;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    path = join_key(path, parts[i]);
    out.origins[path] = kOverrideOrigin;
  }
  // Wrap the value innermost-first: {c: v} -> {b: {c: v}} -> {a: {b: {c: v}}}.
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    YAML::Node parent(YAML::NodeType::Map);
    parent[*it] = out.tree;
    out.tree.reset(parent);
  }
  return out;
}

// ---- Validation of one run ------------------------------------------------------------

using Type = OptionSpec::Type;
constexpr double kInf = std::numeric_limits<double>::infinity();

const std::vector<std::string> kTopLevelKeys = {
    "include", "name",   "description", "seed",   "task", "encoder", "model",
    "train",   "eval",   "output",      "probes", "runs", "grid"};

// The keys a run item (and a resolved run) may hold: everything but include and runs.
std::vector<std::string> run_keys() {
  std::vector<std::string> keys;
  for (const auto& key : kTopLevelKeys)
    if (key != "include" && key != "runs") keys.push_back(key);
  return keys;
}

// Upper bounds of the sizes this file owns (task lengths and threads: config.h). Generous
// for any model this laboratory trains on a CPU; their job is to turn a typo into a
// message that states the bound instead of an int overflow or a failed allocation.
constexpr int kMaxLayers = 64;
constexpr int kMaxWidth = 65536;  // d_model, d_ff
constexpr int kMaxHeads = 1024;
constexpr int kMaxSteps = 100'000'000;
constexpr int kMaxBatch = 65536;  // train.batch_size, eval.batch_size
constexpr int kMaxEvalBatches = 100000;
constexpr int kMaxListItems = 1000;  // eval.lengths (each is one evaluation pass)

std::string text_of(int v) { return std::to_string(v); }
std::string text_of(double v) { return format_number(v); }
std::string text_of(bool v) { return v ? "true" : "false"; }

// Defaults come from the spec structs in config.h so that they are written down once.
std::vector<OptionSpec> top_level_options() {
  return {{"name", Type::String, "", "experiment name"},
          {"description", Type::String, "''", "free text"},
          {"seed", Type::Int, "0", "seed of every random stream of the run", 0}};
}

std::vector<OptionSpec> model_options() {
  const ModelSpec d;
  return {{"layers", Type::Int, text_of(d.layers), "transformer blocks", 1, kMaxLayers},
          {"d_model", Type::Int, text_of(d.d_model), "model width", 1, kMaxWidth},
          {"heads", Type::Int, text_of(d.heads), "attention heads (must divide d_model)", 1,
           kMaxHeads},
          {"d_ff", Type::Int, text_of(d.d_ff), "MLP hidden width", 1, kMaxWidth},
          {"tied_embeddings", Type::Bool, text_of(d.tied_embeddings),
           "share the token embedding with the output head"},
          {"attention", Type::String, d.attention, "attention mask", -kInf, kInf,
           {"auto", "causal", "bidirectional"}},
          {"init_std", Type::Float, text_of(d.init_std), "std of weight initialisation (> 0)", 0}};
}

std::vector<OptionSpec> train_options() {
  const TrainSpec d;
  return {{"steps", Type::Int, text_of(d.steps), "optimiser steps", 1, kMaxSteps},
          {"batch_size", Type::Int, text_of(d.batch_size), "sequences per step", 1, kMaxBatch},
          {"micro_batches", Type::Int, text_of(d.micro_batches),
           "gradient accumulation: pieces of the batch run one after another (divides batch_size)",
           1, kMaxBatch},
          {"lr", Type::Float, text_of(d.lr), "peak learning rate (> 0)", 0},
          {"min_lr_ratio", Type::Float, text_of(d.min_lr_ratio), "final lr / peak lr (cosine)", 0, 1},
          {"warmup_steps", Type::Int, text_of(d.warmup_steps), "linear warmup steps", 0,
           kMaxSteps},
          {"schedule", Type::String, d.schedule, "learning-rate schedule", -kInf, kInf,
           {"cosine", "constant"}},
          {"weight_decay", Type::Float, text_of(d.weight_decay), "AdamW weight decay", 0},
          {"beta1", Type::Float, text_of(d.beta1), "AdamW beta1, in [0, 1)", 0},
          {"beta2", Type::Float, text_of(d.beta2), "AdamW beta2, in [0, 1)", 0},
          {"eps", Type::Float, text_of(d.eps), "AdamW epsilon (> 0)", 0},
          {"grad_clip", Type::Float, text_of(d.grad_clip), "global gradient-norm clip (0 = off)", 0},
          {"log_every", Type::Int, text_of(d.log_every), "steps between log lines", 1, kMaxSteps},
          {"threads", Type::String, "auto",
           "OpenMP threads: auto (from the work per step and the CPUs this process may use; "
           "0 means the same) or a count"},
          {"on_nonfinite", Type::String, d.on_nonfinite,
           "a non-finite loss or gradient: stop the run (diverged) or skip that step's update",
           -kInf, kInf, {"stop", "skip_step"}}};
}

std::vector<OptionSpec> eval_options() {
  const EvalSpec d;
  return {{"lengths", Type::IntList, "[]", "evaluation lengths (empty = the training length)", 1,
           kMaxTaskLength},
          {"batches", Type::Int, text_of(d.batches), "batches per length", 1, kMaxEvalBatches},
          {"batch_size", Type::Int, text_of(d.batch_size), "sequences per batch", 1, kMaxBatch},
          {"tokens", Type::Int, text_of(d.tokens),
           "tokens per batch at most (0 = off): sequences per batch = tokens / sequence length, "
           "between 1 and batch_size", 0, std::numeric_limits<int>::max()}};
}

std::vector<OptionSpec> output_options() {
  const OutputSpec d;
  return {{"dir", Type::String, "'" + d.dir + "'", "results folder (relative to the experiment file)"},
          {"checkpoint", Type::Bool, text_of(d.checkpoint), "write model parameters"},
          {"checkpoint_every", Type::Int, text_of(d.checkpoint_every),
           "steps between resumable checkpoints <run>.ckpt.h5 (0 = only when interrupted)", 0}};
}

// Bounds that OptionSpec's inclusive min/max cannot say.
void require_positive(const Options& options, const std::string& name) {
  const double value = options.get_float(name);
  if (!(value > 0))
    options.node(name).fail("expected a number > 0, got " + describe_got(options.node(name).yaml()));
}

void require_below_one(const Options& options, const std::string& name) {
  if (!(options.get_float(name) < 1))
    options.node(name).fail("expected a number in [0, 1), got " +
                            describe_got(options.node(name).yaml()));
}

ModelSpec parse_model(const ConfigNode& node) {
  const Options o = parse_options(node, model_options(), {});
  ModelSpec m;
  m.layers = o.get_int("layers");
  m.d_model = o.get_int("d_model");
  m.heads = o.get_int("heads");
  m.d_ff = o.get_int("d_ff");
  m.tied_embeddings = o.get_bool("tied_embeddings");
  m.attention = o.get_string("attention");
  m.init_std = o.get_float("init_std");
  require_positive(o, "init_std");
  if (m.d_model % m.heads != 0)
    o.node("heads").fail("expected a divisor of d_model (" + std::to_string(m.d_model) +
                         "), got " + std::to_string(m.heads));
  return m;
}

// train.threads: "auto" or an integer 0..kMaxThreads, 0 being auto (TrainSpec::threads).
int parse_thread_count(const ConfigNode& where, const std::string& text) {
  if (text == "auto") return 0;
  const std::optional<long long> count = is_quoted(where.yaml()) ? std::nullopt : parse_integer(text);
  if (!count || *count < 0 || *count > kMaxThreads)
    where.fail("expected auto or an integer between 0 and " + std::to_string(kMaxThreads) +
               " (0 = auto), got " + describe_got(where.yaml()));
  return int(*count);
}

TrainSpec parse_train(const ConfigNode& node) {
  const Options o = parse_options(node, train_options(), {});
  TrainSpec t;
  t.steps = o.get_int("steps");
  t.batch_size = o.get_int("batch_size");
  t.micro_batches = o.get_int("micro_batches");
  if (t.batch_size % t.micro_batches != 0)
    o.node("micro_batches").fail("expected a divisor of train.batch_size (" +
                                 std::to_string(t.batch_size) + "), got " +
                                 std::to_string(t.micro_batches));
  t.lr = o.get_float("lr");
  t.min_lr_ratio = o.get_float("min_lr_ratio");
  t.warmup_steps = o.get_int("warmup_steps");
  t.schedule = o.get_string("schedule");
  t.weight_decay = o.get_float("weight_decay");
  t.beta1 = o.get_float("beta1");
  t.beta2 = o.get_float("beta2");
  t.eps = o.get_float("eps");
  t.grad_clip = o.get_float("grad_clip");
  t.log_every = o.get_int("log_every");
  t.threads = parse_thread_count(o.node("threads"), o.get_string("threads"));
  t.on_nonfinite = o.get_string("on_nonfinite");
  require_positive(o, "lr");
  require_positive(o, "eps");
  require_below_one(o, "beta1");
  require_below_one(o, "beta2");
  return t;
}

// `section` with `overrides`' keys set on top (a copy); the section's own keys keep the
// file that set them, so a relative `path` stays relative to the file it was written in.
PluginSpec with_overrides(const PluginSpec& section, const ConfigNode& overrides,
                          const std::vector<std::string>& keys) {
  YAML::Node merged = YAML::Clone(section.node.yaml());
  for (const auto& key : keys) merged[key] = YAML::Clone(overrides.child(key).yaml());
  KeyOrigins inherited;
  for (const auto& key : section.node.keys())
    if (std::find(keys.begin(), keys.end(), key) == keys.end())
      inherited[overrides.path() + "." + key] = section.node.child(key).file();
  return PluginSpec{section.name, overrides.derived(merged, inherited)};
}

// eval.variants: {name: {task option: value, ..., encoder: {encoder option: value, ...}}}
// -> the run's task (and encoder) with each variant's options applied (the plugins
// validate them when the run is prepared).
std::vector<EvalVariant> parse_eval_variants(const ConfigNode& variants, const PluginSpec& task,
                                             const PluginSpec& encoder) {
  std::vector<EvalVariant> out;
  if (is_absent(variants.yaml())) return out;
  if (!variants.yaml().IsMap())
    variants.fail("expected a mapping from variant name to task options, e.g. {sparse: {eval_p_ignore: 0.98}}, got " +
                  describe_got(variants.yaml()));
  if (variants.yaml().size() > kMaxVariants)
    variants.fail("expected at most " + std::to_string(kMaxVariants) + " variants, got " +
                  std::to_string(variants.yaml().size()));
  // Each variant is a copy of the task and encoder sections.
  const std::size_t section_nodes = expanded_size(task.node.yaml(), kMaxConfigNodes) +
                                    expanded_size(encoder.node.yaml(), kMaxConfigNodes);
  if (section_nodes * variants.yaml().size() > kMaxExpandedNodes)
    variants.fail("expected variants x nodes of the task and encoder sections to be at most " +
                  std::to_string(kMaxExpandedNodes) + ", got " +
                  std::to_string(variants.yaml().size()) + " x " + std::to_string(section_nodes));
  for (const auto& name : variants.keys()) {
    const ConfigNode overrides = variants.child(name);
    if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
                            std::string::npos)
      overrides.fail("expected a variant name of letters, digits, '_' and '-'");
    if (!overrides.yaml().IsMap() || overrides.yaml().size() == 0)
      overrides.fail("expected a non-empty mapping of task options (and/or encoder: {options}), got " +
                     describe_got(overrides.yaml()));
    if (overrides.has("name"))
      overrides.child("name").fail("a variant keeps the run's task; expected task options only");
    std::vector<std::string> task_keys;
    for (const auto& key : overrides.keys())
      if (key != "encoder") task_keys.push_back(key);
    EvalVariant v{name, "", with_overrides(task, overrides, task_keys), std::nullopt, task_keys.empty()};
    if (overrides.has("encoder")) {
      const ConfigNode enc = overrides.child("encoder");
      if (!enc.yaml().IsMap() || enc.yaml().size() == 0)
        enc.fail("expected a non-empty mapping of encoder options, e.g. {interpolation: 4}, got " +
                 describe_got(enc.yaml()));
      if (enc.has("name"))
        enc.child("name").fail("a variant keeps the run's encoder; expected encoder options only");
      v.encoder = with_overrides(encoder, enc, enc.keys());
    }
    YAML::Emitter text;
    text << YAML::Flow << overrides.yaml();
    v.overrides_yaml = text.c_str();
    out.push_back(std::move(v));
  }
  return out;
}

EvalSpec parse_eval(const ConfigNode& node, const PluginSpec& task, const PluginSpec& encoder) {
  const Options o = parse_options(node, eval_options(), {"variants"});
  EvalSpec e;
  e.lengths = o.get_int_list("lengths");
  // Leaving lengths out means "the training length"; writing an empty list is a mistake.
  if (e.lengths.empty() && node.has("lengths"))
    o.node("lengths").fail("expected a non-empty list of integers >= 1, got an empty list");
  if (e.lengths.size() > std::size_t(kMaxListItems))
    o.node("lengths").fail("expected at most " + std::to_string(kMaxListItems) +
                           " evaluation lengths, got " + std::to_string(e.lengths.size()));
  e.batches = o.get_int("batches");
  e.batch_size = o.get_int("batch_size");
  e.tokens = o.get_int("tokens");
  e.variants = parse_eval_variants(node.child("variants"), task, encoder);
  return e;
}

OutputSpec parse_output(const ConfigNode& node, const std::string& source_file) {
  const Options o = parse_options(node, output_options(), {});
  OutputSpec out;
  const std::string& dir = o.get_string("dir");
  if (dir.empty()) o.node("dir").fail("expected a folder name, got ''");
  out.dir = (fs::path(source_file).parent_path() / dir).lexically_normal().string();
  out.checkpoint = o.get_bool("checkpoint");
  out.checkpoint_every = o.get_int("checkpoint_every");
  return out;
}

// A plugin section: a mapping whose `name` picks the plugin. Its other keys are the
// plugin's to check when it is built.
PluginSpec parse_plugin(const ConfigNode& node) {
  if (is_absent(node.yaml()))
    node.fail("required section missing; expected a mapping with a name");
  if (!node.yaml().IsMap())
    node.fail("expected a mapping with a name, got " + describe_got(node.yaml()));
  const ConfigNode name = node.child("name");
  if (!name.yaml().IsDefined()) name.fail("required option missing");
  if (!name.yaml().IsScalar() || name.yaml().Scalar().empty())
    name.fail("expected a name, got " + describe_got(name.yaml()));
  return PluginSpec{name.yaml().Scalar(), node};
}

std::vector<PluginSpec> parse_probes(const ConfigNode& node) {
  if (is_absent(node.yaml())) return {};
  if (!node.yaml().IsSequence())
    node.fail("expected a list of probe sections (mappings with a name), got " +
              describe_got(node.yaml()));
  std::vector<PluginSpec> probes;
  for (std::size_t i = 0; i < node.yaml().size(); ++i) probes.push_back(parse_plugin(node.item(i)));
  return probes;
}

// Run and experiment names become file names (<dir>/<run>.h5).
void check_run_name(const ConfigNode& where, const std::string& name) {
  const std::string problem = file_name_problem(name);
  if (!problem.empty())
    where.fail("expected a run name of at most " + std::to_string(kMaxRunNameBytes) +
               " letters, digits, '.', '_' or '-', not starting with '.' (it names the results "
               "file), got '" + printable(name) + "' (" + problem + ")");
}

// Fills the defaults of the sections poslab itself owns, so that the YAML written into a
// results file says every value the run used (plugin sections are left as written).
YAML::Node with_defaults(const YAML::Node& tree) {
  YAML::Node out = YAML::Clone(tree);
  // An empty-list default (eval.lengths) means "decided elsewhere" and is left out: written
  // explicitly it would not load again, since an explicit list must not be empty.
  const auto fill = [](YAML::Node section, const std::vector<OptionSpec>& specs) {
    for (const auto& spec : specs)
      if (!find_key(section, spec.name).IsDefined() && !spec.default_value.empty() &&
          spec.default_value != "[]")
        section[spec.name] = YAML::Load(spec.default_value);
  };
  fill(out, {top_level_options()[2]});  // seed; description stays absent when not given
  const std::pair<const char*, std::vector<OptionSpec>> sections[] = {
      {"model", model_options()},
      {"train", train_options()},
      {"eval", eval_options()},
      {"output", output_options()}};
  for (const auto& [key, specs] : sections) {
    if (is_absent(find_key(out, key))) out[key] = YAML::Node(YAML::NodeType::Map);
    fill(out[key], specs);
  }
  return out;
}

// Emits the top-level keys in schema order (includes are merged first, so document order
// would put model/train before name), which keeps the /config of every results file alike.
std::string emit(const YAML::Node& tree) {
  YAML::Node ordered(YAML::NodeType::Map);
  for (const auto& key : run_keys()) {
    const YAML::Node value = find_key(tree, key);
    if (value.IsDefined()) ordered[key] = value;
  }
  YAML::Emitter out;
  out << ordered;
  return std::string(out.c_str()) + "\n";
}

// Validates one resolved run tree and turns it into a RunSpec. `run_name` is empty when
// the experiment has no runs: list (the run is then named after the experiment).
RunSpec build_run(Tree tree, const std::string& run_name, const std::string& source_file) {
  // The encoder section is optional; its absence means the NoPE baseline.
  if (is_absent(find_key(tree.yaml, "encoder"))) {
    YAML::Node none(YAML::NodeType::Map);
    none["name"] = "none";
    tree.yaml["encoder"] = none;
  }
  auto origins = std::make_shared<const KeyOrigins>(std::move(tree.origins));
  const ConfigNode root(tree.yaml, "", origins, source_file);
  check_keys(root, run_keys());

  std::vector<std::string> sections;
  for (const auto& key : run_keys())
    if (key != "name" && key != "description" && key != "seed") sections.push_back(key);
  const Options top = parse_options(root, top_level_options(), sections);

  RunSpec run;
  run.experiment_name = top.get_string("name");
  run.run_name = run_name.empty() ? run.experiment_name : run_name;
  if (run_name.empty()) check_run_name(top.node("name"), run.run_name);
  run.seed = std::uint64_t(top.get_int("seed"));
  run.task = parse_plugin(root.child("task"));
  run.encoder = parse_plugin(root.child("encoder"));
  run.probes = parse_probes(root.child("probes"));
  run.model = parse_model(root.child("model"));
  run.train = parse_train(root.child("train"));
  run.eval = parse_eval(root.child("eval"), run.task, run.encoder);
  run.output = parse_output(root.child("output"), source_file);
  const ConfigNode grid = root.child("grid");
  if (!is_absent(grid.yaml()) && !grid.yaml().IsMap())
    grid.fail("expected a mapping, got " + describe_got(grid.yaml()));
  run.source_file = source_file;
  run.resolved_yaml = emit(with_defaults(tree.yaml));
  run.root = root;
  return run;
}

// ---- Runs expansion ----------------------------------------------------------------------

struct RunTree {
  std::string name;  // empty: the single implicit run
  Tree tree;
};

// Splits the base tree into one tree per `runs:` item (base deep-merged with the item);
// without runs:, the base itself is the only run.
std::vector<RunTree> expand_runs(const Tree& base, const std::string& source_file) {
  auto origins = std::make_shared<const KeyOrigins>(base.origins);
  const ConfigNode runs(find_key(base.yaml, "runs"), "runs", origins, source_file);
  Tree common{YAML::Clone(base.yaml), base.origins};
  common.yaml.remove("runs");
  erase_subtree(common.origins, "runs");
  if (!runs.yaml().IsDefined()) return {RunTree{"", common}};

  if (!runs.yaml().IsSequence() || runs.yaml().size() == 0)
    runs.fail("expected a non-empty list of runs (mappings with a name), got " +
              describe_got(runs.yaml()));
  // Each run is a copy of everything outside runs:.
  const std::size_t per_run = expanded_size(common.yaml, kMaxConfigNodes);
  if (per_run * runs.yaml().size() > kMaxExpandedNodes)
    runs.fail("expected runs x nodes outside runs: to be at most " +
              std::to_string(kMaxExpandedNodes) + ", got " + std::to_string(runs.yaml().size()) +
              " runs x " + std::to_string(per_run) + " nodes");
  const std::string runs_file = runs.file();
  std::map<std::string, std::size_t> seen;
  std::vector<RunTree> out;
  for (std::size_t i = 0; i < runs.yaml().size(); ++i) {
    const ConfigNode item = runs.item(i);
    if (!item.yaml().IsMap())
      item.fail("expected a mapping with a name, got " + describe_got(item.yaml()));
    check_keys(item, run_keys());
    const ConfigNode name = item.child("name");
    if (!name.yaml().IsDefined()) name.fail("required option missing");
    if (!name.yaml().IsScalar()) name.fail("expected a run name, got " + describe_got(name.yaml()));
    const std::string run_name = name.yaml().Scalar();
    check_run_name(name, run_name);
    const auto [it, inserted] = seen.emplace(run_name, i);
    if (!inserted)
      name.fail("duplicate run name '" + run_name + "' (also runs[" + std::to_string(it->second) + "])");

    YAML::Node changes = YAML::Clone(item.yaml());
    changes.remove("name");
    KeyOrigins change_origins;
    record_origins(changes, "", runs_file, change_origins);
    Tree run{YAML::Clone(common.yaml), common.origins};
    merge_into(run, changes, change_origins);
    out.push_back(RunTree{run_name, std::move(run)});
  }
  return out;
}

}  // namespace

std::vector<RunSpec> load_experiment(const std::string& path,
                                     const std::vector<std::string>& overrides) {
  std::vector<Override> sets;
  for (const auto& text : overrides) sets.push_back(parse_override(text));

  std::vector<std::pair<std::string, std::string>> stack;
  const Tree base = load_tree(path, stack);
  check_keys(ConfigNode(base.yaml, "", std::make_shared<const KeyOrigins>(base.origins), path),
             kTopLevelKeys);

  std::vector<RunSpec> specs;
  for (auto& [run_name, tree] : expand_runs(base, path)) {
    // --set is applied last, on every run, so that the command line always wins.
    for (const auto& set : sets) merge_into(tree, set.tree, set.origins);
    try {
      specs.push_back(build_run(std::move(tree), run_name, path));
    } catch (const ConfigError& e) {
      // The key path alone does not say which run the bad value ended up in.
      if (run_name.empty()) throw;
      throw ConfigError(std::string(e.what()) + " (in run '" + run_name + "')");
    }
  }
  return specs;
}

}  // namespace poslab
