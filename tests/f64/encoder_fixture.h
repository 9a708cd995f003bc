#pragma once
// Builds any registered encoder from a YAML options string, for tests generic over the
// registry. Returns null when the encoder refuses the model kind (e.g. cope is causal only),
// so that a test can skip combinations that are not defined.
#include <memory>
#include <string>

#include "encoders/encoder.h"

namespace poslab::testing {

inline std::unique_ptr<PositionalEncoder> try_build_encoder(const std::string& name,
                                                            const ModelDims& dims,
                                                            const std::string& extra = "") {
  YAML::Node node = YAML::Load("{" + extra + "}");
  node["name"] = name;
  const PluginSpec spec{name, ConfigNode(node, "encoder", std::make_shared<KeyOrigins>(), "test.yaml")};
  try {
    return EncoderRegistry::instance().build(spec, dims);
  } catch (const ConfigError&) {
    return nullptr;
  }
}

}  // namespace poslab::testing
