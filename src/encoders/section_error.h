#pragma once
// An error about an encoder section as a whole (e.g. "this scheme is causal only"), reported
// at the section's `name` key. Options keep only their own keys' nodes, so the section's
// path and file are read off one of its declared options (`any_option`).
#include <memory>
#include <string>

#include "core/options.h"
#include "core/real.h"  // POSLAB_REAL_NAMESPACE

namespace poslab::inline POSLAB_REAL_NAMESPACE {

[[noreturn]] inline void fail_on_name(const Options& o, const std::string& any_option,
                                      const std::string& message) {
  const ConfigNode& option = o.node(any_option);
  const std::string& path = option.path();
  const auto dot = path.rfind('.');
  if (path.empty() || dot == std::string::npos) throw ConfigError("encoder.name: " + message);
  ConfigNode(YAML::Node(), path.substr(0, dot) + ".name", std::make_shared<KeyOrigins>(),
             option.file())
      .fail(message);
}

}  // namespace poslab
