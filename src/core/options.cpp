// Option declarations, validation and description (contract in core/options.h).
#include "core/options.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "core/config_text.h"

namespace poslab {

namespace {

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

void check_keys(const ConfigNode& node, const std::vector<std::string>& allowed) {
  for (const auto& key : node.keys())
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      fail_unknown_key(node.child(key), allowed);
}

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

}  // namespace poslab
