#pragma once
// A configuration value that knows where it came from: ConfigNode is a YAML node plus its
// key path and the file that set it, so that any consumer (the experiment parser in
// io/config.cpp, or a plugin reading its options) reports an error that names file and
// key. Every error is a ConfigError whose message is one line:
// "<file>: <key.path>: expected <what>, got <what>" — the CLI prints it and exits 2.
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace poslab {

// A configuration or usage error: exit code 2, nothing written.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Which file set each key path ("model.d_model" -> "configs/models/small.yaml"; keys set by
// --set map to "--set"). Shared by all nodes of one resolved configuration.
using KeyOrigins = std::map<std::string, std::string>;

class ConfigNode {
 public:
  ConfigNode() = default;
  ConfigNode(YAML::Node node, std::string path, std::shared_ptr<const KeyOrigins> origins,
             std::string fallback_file);
  ConfigNode(const ConfigNode&) = default;
  // Rebinds this handle. (YAML::Node's own operator= writes through into the tree the node
  // belongs to, so `n = n.child("x")` would otherwise corrupt the configuration.)
  ConfigNode& operator=(const ConfigNode& other);

  const YAML::Node& yaml() const { return node_; }
  const std::string& path() const { return path_; }
  // The file that set this key (or the nearest parent key that has an origin).
  std::string file() const;

  bool has(const std::string& key) const;
  ConfigNode child(const std::string& key) const;  // an undefined node if absent
  std::vector<std::string> keys() const;            // mapping keys in document order
  // The index-th element of a sequence, path "path[index]" (undefined if out of range).
  ConfigNode item(std::size_t index) const;
  // Another tree reported as if it stood at this node's path and file (a section built
  // from this one, e.g. a task section with an eval variant's overrides applied);
  // `more_origins` names the files of keys that came from elsewhere.
  ConfigNode derived(YAML::Node node, const KeyOrigins& more_origins = {}) const;

  // Throws ConfigError("<file>: <path>: <message>").
  [[noreturn]] void fail(const std::string& message) const;

 private:
  YAML::Node node_;
  std::string path_;
  std::shared_ptr<const KeyOrigins> origins_;
  std::string fallback_file_;
};

}  // namespace poslab
