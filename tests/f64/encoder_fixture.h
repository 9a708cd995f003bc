#pragma once
// Builds any registered encoder from a YAML options string, for tests generic over the
// registry. Returns null only for the one refusal a generic test may skip: a causal-only
// scheme (its error says "causal only") asked for a bidirectional model, when the same
// options build a causal one. Every other configuration error fails the test.
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
  } catch (const ConfigError& e) {
    if (dims.causal || std::string(e.what()).find("causal only") == std::string::npos) throw;
    ModelDims causal = dims;
    causal.causal = true;
    EncoderRegistry::instance().build(spec, causal);  // throws if the options are at fault
    return nullptr;
  }
}

}  // namespace poslab::testing
