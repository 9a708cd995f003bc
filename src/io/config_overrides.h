#pragma once
// `--set key.path=value` overrides: each becomes a one-key tree {a: {b: {c: value}}} whose
// key paths all have the origin "--set", merged onto every run last (io/config.cpp).
#include <yaml-cpp/yaml.h>

#include <string>

#include "core/config_node.h"

namespace poslab {

struct Override {
  std::string text;    // as the user typed it, for messages
  YAML::Node tree;     // {a: {b: {c: value}}}
  KeyOrigins origins;  // every path in `tree` -> "--set"
};

// "a.b.c=value" (value parsed as YAML). A malformed key, a value that does not parse or
// passes the size limits, or a key under include/runs -> ConfigError naming "--set".
Override parse_override(const std::string& text);

}  // namespace poslab
