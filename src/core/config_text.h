#pragma once
// Text helpers shared by the configuration code (core/config_node, core/options and the
// experiment loader in io/): the strict scalar grammar, the pieces of the one-line error
// format, and yaml-cpp lookups that never create keys. Depends on yaml-cpp only.
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace poslab {

// ---- Messages ---------------------------------------------------------------------------

// `text` with control characters (newlines, tabs, NUL, ESC) escaped as \xNN, so that a
// value or key quoted in a message cannot break it into lines or drive a terminal.
std::string one_line(const std::string& text);
// The one-line error format every ConfigError uses: "<file>: <path>: <message>".
std::string error_text(const std::string& file, const std::string& path,
                       const std::string& message);
// `text` with control characters and non-ASCII bytes escaped (\x07), cut after `max_bytes`
// with "...", so that a hostile value cannot break a one-line message.
std::string printable(const std::string& text, std::size_t max_bytes = 60);
std::string join(const std::vector<std::string>& items, const std::string& separator);
// Shortest text that reads back as the same double ("0.1", "1e-08", "64").
std::string format_number(double value);
// What a node is, for the "got ..." half of a message: numbers and booleans bare, other
// scalars quoted, containers by kind.
std::string describe_got(const YAML::Node& node);

// ---- Key paths ------------------------------------------------------------------------

// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c".
std::string join_key(const std::string& prefix, const std::string& key);
// "a.b[2]" -> "a.b" -> "a" -> "": the key path one level up (sequence items count as levels).
std::string parent_key(const std::string& path);

// ---- yaml-cpp without surprises --------------------------------------------------------

// A genuinely undefined node. (A missing key looked up on a const yaml-cpp node gives a
// "zombie" node whose Type() throws, so we never hand those out.)
YAML::Node undefined_node();
inline bool is_absent(const YAML::Node& node) { return !node.IsDefined() || node.IsNull(); }
// Looks a key up in a mapping without creating it; undefined if absent or not a mapping.
YAML::Node find_key(const YAML::Node& map, const std::string& key);

// ---- Scalar grammar (YAML 1.2 core schema, stricter than yaml-cpp's as<T>) ------------
// yaml-cpp's as<int> reads "010" as octal and "0x10" as hex, and as<bool> accepts yes/no;
// a configuration language for experiments should not surprise, so we parse ourselves.

// Quoted scalars ("3", '3') are strings in YAML even when they look like numbers.
inline bool is_quoted(const YAML::Node& node) { return node.Tag() == "!"; }
// [-+]?[0-9]+
std::optional<long long> parse_integer(const std::string& text);
// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, finite.
std::optional<double> parse_number(const std::string& text);
// true/True/TRUE, false/False/FALSE (not yes/no/on/off).
std::optional<bool> parse_bool(const std::string& text);

// ---- Names that become file names ----------------------------------------------------

// Empty if `name` is a safe file name: 1 to kMaxRunNameBytes (core/limits.h) bytes of
// [A-Za-z0-9._-], not starting with '.'; otherwise what is wrong with it ("contains '/'").
std::string file_name_problem(const std::string& name);

}  // namespace poslab
