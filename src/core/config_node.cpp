// ConfigNode: key paths, origins and one-line errors (contract in core/config_node.h).
#include "core/config_node.h"

#include "core/config_text.h"

namespace poslab {

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

}  // namespace poslab
