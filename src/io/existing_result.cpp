#include "io/existing_result.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "core/config_node.h"  // ConfigError
#include "io/h5file.h"
#include "io/results.h"

namespace poslab {

namespace {

// A value as one short line for a message.
std::string brief(const YAML::Node& node) {
  if (!node.IsDefined()) return "absent";
  YAML::Emitter e;
  e << YAML::Flow << node;
  std::string text = e.c_str();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

std::string join(const std::string& where, const std::string& key) {
  return where.empty() ? key : where + "." + key;
}

std::string describe(const std::string& where, const YAML::Node& stored, const YAML::Node& requested) {
  return (where.empty() ? std::string("configuration") : where) + ": " + brief(stored) +
         " in the file, " + brief(requested) + " requested";
}

// train.threads auto (or 0, its synonym) asks for "whatever count this machine gives", so
// a result made with any count is a result of that configuration; the count used is in
// the file's `threads` attribute. A count asked for explicitly must match (it changes bits).
bool any_thread_count(const std::string& where, const YAML::Node& requested) {
  return where == "train.threads" && requested.IsScalar() &&
         (requested.Scalar() == "auto" || requested.Scalar() == "0");
}

// Depth-first, in the requested document's key order, so the message names the most
// specific key that changed.
std::string difference(const YAML::Node& stored, const YAML::Node& requested, const std::string& where) {
  if (any_thread_count(where, requested) && stored.IsDefined()) return "";
  if (stored.Type() != requested.Type()) return describe(where, stored, requested);
  switch (requested.Type()) {
    case YAML::NodeType::Map: {
      for (const auto& entry : requested) {
        const std::string key = entry.first.as<std::string>();
        const YAML::Node other = stored[key];
        if (!other.IsDefined()) return describe(join(where, key), other, entry.second);
        const std::string d = difference(other, entry.second, join(where, key));
        if (!d.empty()) return d;
      }
      for (const auto& entry : stored) {
        const std::string key = entry.first.as<std::string>();
        if (!requested[key].IsDefined()) return describe(join(where, key), entry.second, requested[key]);
      }
      return "";
    }
    case YAML::NodeType::Sequence: {
      if (stored.size() != requested.size()) return describe(where, stored, requested);
      for (std::size_t i = 0; i < requested.size(); ++i) {
        const std::string d = difference(stored[i], requested[i], where + "[" + std::to_string(i) + "]");
        if (!d.empty()) return d;
      }
      return "";
    }
    case YAML::NodeType::Scalar:
      return stored.Scalar() == requested.Scalar() ? "" : describe(where, stored, requested);
    default:  // null or undefined on both sides
      return "";
  }
}

}  // namespace

std::string first_yaml_difference(const std::string& stored_yaml, const std::string& requested_yaml) {
  // The stored side comes from a file and may be anything; the requested side was
  // emitted by this build. A map key that is not a scalar fails as<std::string>().
  try {
    return difference(YAML::Load(stored_yaml), YAML::Load(requested_yaml), "");
  } catch (const YAML::Exception&) {
    return stored_yaml == requested_yaml ? "" : "configuration: not comparable as YAML";
  }
}

ExistingResult inspect_existing_result(const std::string& path, const std::string& requested_yaml) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec))) return {ResultState::missing, ""};
  try {
    const H5Reader reader(path);
    if (reader.has_attr("/", "file_kind")) {
      const std::string kind = reader.attr_string("/", "file_kind");
      if (kind != "run_results") return {ResultState::unusable, "a " + kind + " file, not a run's results"};
    }
    check_results_schema(path);  // also the test for legacy files without file_kind
    ResultState finished = ResultState::complete;
    if (reader.has_attr("/", "status")) {
      const std::string status = reader.attr_string("/", "status");
      if (status == "diverged") {
        finished = ResultState::diverged;
      } else if (status != "complete") {
        return {ResultState::unusable, "status '" + status + "', expected complete or diverged"};
      }
    }
    if (!reader.is_dataset("/config")) return {ResultState::unusable, "no /config to compare with"};
    const std::string d = first_yaml_difference(reader.read_string("/config"), requested_yaml);
    if (!d.empty()) return {ResultState::stale, d};
    return {finished, ""};
  } catch (const std::exception& e) {  // ConfigError from the reader, a bad attribute type, ...
    return {ResultState::unusable, e.what()};
  }
}

}  // namespace poslab
