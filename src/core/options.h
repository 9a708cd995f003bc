#pragma once
// Plugin options: each plugin (encoder, task, probe) and each section of the experiment
// schema declares its options once as OptionSpecs; parse_options validates a section
// against them (unknown key, wrong type, out of range, not a choice, missing -> one-line
// ConfigError naming file and key) and describe_options prints them for `poslab list`.
// Below everything but yaml-cpp: core/registry.h builds plugins from a PluginSpec with it.
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config_node.h"
#include "core/limits.h"

namespace poslab {

// One option a plugin accepts. Declared once; used for parsing, validation and `poslab list`.
struct OptionSpec {
  // Section: a nested mapping of `fields` (e.g. an encoder's `randomized: {max_position:
  // 2048}`); absent means off (Options::section returns null), and default_value is only
  // what `poslab list` shows.
  enum class Type { Int, Float, String, Bool, IntList, Section };
  std::string name;
  Type type = Type::Int;
  std::string default_value;  // as YAML text; empty means the option is required
  std::string help;
  double min = -std::numeric_limits<double>::infinity();  // inclusive, numbers and list items
  double max = std::numeric_limits<double>::infinity();
  std::vector<std::string> choices = {};  // allowed values of a String option, if non-empty
  std::vector<OptionSpec> fields = {};    // the options of a Section
};

// Validated option values (defaults filled in).
class Options {
 public:
  int get_int(const std::string& name) const;
  double get_float(const std::string& name) const;
  const std::string& get_string(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  const std::vector<int>& get_int_list(const std::string& name) const;
  // The node an option came from (undefined if defaulted), for later errors such as
  // "encoder.max_length: 64 is shorter than the longest evaluation sequence (129)".
  const ConfigNode& node(const std::string& name) const;
  // A Section option's values, or null when the section was not given (or not declared:
  // plugins that share a section read it without knowing whether they declared it).
  const Options* section(const std::string& name) const;

 private:
  friend Options parse_options(const ConfigNode&, const std::vector<OptionSpec>&,
                               const std::vector<std::string>&);
  std::map<std::string, int> ints_;
  std::map<std::string, double> floats_;
  std::map<std::string, std::string> strings_;
  std::map<std::string, bool> bools_;
  std::map<std::string, std::vector<int>> int_lists_;
  std::map<std::string, ConfigNode> nodes_;
  std::map<std::string, std::shared_ptr<const Options>> sections_;
};

// Parses `node` (a mapping, or undefined = all defaults) against `specs`. Keys listed in
// `ignored` (e.g. "name") are skipped. Unknown key, wrong type, out of range, not one of
// the choices, missing required option -> ConfigError naming file and key path.
Options parse_options(const ConfigNode& node, const std::vector<OptionSpec>& specs,
                      const std::vector<std::string>& ignored = {"name"});

// "name (int, default 2, >= 1): help" lines for `poslab list`.
std::string describe_options(const std::vector<OptionSpec>& specs);

// Fails on the first key of `node` (a mapping) that is not in `allowed`.
void check_keys(const ConfigNode& node, const std::vector<std::string>& allowed);

// A plugin's section of an experiment: `name` picks the plugin in its registry
// (core/registry.h), which then parses the section's other keys as its options.
struct PluginSpec {
  std::string name;  // registry name, e.g. "learned"
  ConfigNode node;   // the whole section (the plugin parses its own keys)
};

}  // namespace poslab
