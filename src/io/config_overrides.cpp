// --set overrides (contract in io/config_overrides.h).
#include "io/config_overrides.h"

#include <algorithm>
#include <sstream>
#include <vector>

#include "core/config_text.h"
#include "io/config_tree.h"

namespace poslab {

namespace {

constexpr const char* kOverrideOrigin = "--set";

}  // namespace

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

}  // namespace poslab
