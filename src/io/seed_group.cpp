#include "io/seed_group.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "core/config_node.h"  // ConfigError

namespace poslab {
namespace {

// A plain scalar that strtod reads whole and finite -> "%.17g" of its value; anything else
// (text, quoted strings, nan/inf spellings) unchanged.
std::string canonical_scalar(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() != "?" || text.empty()) return text;  // "!" = quoted: a string, not a number
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno != 0 || !std::isfinite(value)) return text;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
}

// Writes `node` with every mapping's keys sorted; `drop_seed` only at the top level.
void emit_canonical(YAML::Emitter& out, const YAML::Node& node, bool drop_seed) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      // Sorted by a std::map filled by emplace: YAML::Node's assignment rebinds the node it
      // refers to (it would rewrite the tree), so Nodes must never be sorted or assigned.
      std::map<std::string, YAML::Node> entries;
      for (const auto& kv : node) {
        const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : YAML::Dump(kv.first);
        if (drop_seed && key == "seed") continue;
        entries.emplace(key, kv.second);
      }
      out << YAML::BeginMap;
      for (const auto& [key, value] : entries) {
        out << YAML::Key << key << YAML::Value;
        emit_canonical(out, value, false);
      }
      out << YAML::EndMap;
      break;
    }
    case YAML::NodeType::Sequence:
      out << YAML::BeginSeq;
      for (const auto& item : node) emit_canonical(out, item, false);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Scalar:
      out << canonical_scalar(node);
      break;
    default:  // null / undefined
      out << YAML::Null;
  }
}

}  // namespace

std::string seed_group_key(const std::string& experiment, const std::string& config_yaml,
                           const std::string& where) {
  YAML::Node config;
  try {
    config = YAML::Load(config_yaml);
  } catch (const YAML::Exception& e) {
    throw ConfigError(where + ": /config: not YAML (" + e.msg + "): expected the resolved configuration");
  }
  if (!config.IsMap())
    throw ConfigError(where + ": /config: not a mapping: expected the resolved configuration");
  YAML::Emitter out;
  out << YAML::Flow;  // one line: a key, never shown
  emit_canonical(out, config, true);
  return experiment + "\n" + out.c_str();
}

std::string without_seed_label(const std::string& run_name, std::uint64_t seed) {
  const std::string label = "__seed-" + std::to_string(seed);
  for (std::size_t at = run_name.find(label); at != std::string::npos; at = run_name.find(label, at + 1)) {
    const std::size_t end = at + label.size();
    if (end == run_name.size() || run_name.compare(end, 2, "__") == 0)
      return run_name.substr(0, at) + run_name.substr(end);
  }
  return run_name;
}

std::string seed_group_label(const std::vector<std::string>& names) {
  std::vector<std::string> distinct;
  for (const auto& n : names)
    if (std::find(distinct.begin(), distinct.end(), n) == distinct.end()) distinct.push_back(n);
  std::string label;
  for (std::size_t i = 0; i < distinct.size() && i < 3; ++i) label += (i ? " | " : "") + distinct[i];
  if (distinct.size() > 3) label += " +" + std::to_string(distinct.size() - 3) + " more";
  return label;
}

}  // namespace poslab
