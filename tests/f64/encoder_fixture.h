#pragma once
// Builds any registered encoder from a YAML options string: build_encoder lets every
// ConfigError through (tests of the errors), encoder_config_error returns its message, and
// try_build_encoder, for tests generic over the registry, returns null only for the one
// refusal a generic test may skip: a causal-only
// scheme (its error says "causal only") asked for a bidirectional model, when the same
// options build a causal one. Every other configuration error fails the test.
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "encoders/encoder.h"

namespace poslab::testing {

// Builds an encoder, letting any ConfigError through (for tests of the errors themselves).
inline std::unique_ptr<PositionalEncoder> build_encoder(const std::string& name, const ModelDims& dims,
                                                        const std::string& options = "") {
  YAML::Node node = YAML::Load("{" + options + "}");
  node["name"] = name;
  const PluginSpec spec{name, ConfigNode(node, "encoder", std::make_shared<KeyOrigins>(), "test.yaml")};
  return EncoderRegistry::instance().build(spec, dims);
}

// The ConfigError message building the encoder gives, or "" when it builds.
inline std::string encoder_config_error(const std::string& name, const ModelDims& dims,
                                        const std::string& options = "") {
  try {
    build_encoder(name, dims, options);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

inline std::unique_ptr<PositionalEncoder> try_build_encoder(const std::string& name,
                                                            const ModelDims& dims,
                                                            const std::string& extra = "") {
  try {
    return build_encoder(name, dims, extra);
  } catch (const ConfigError& e) {
    if (dims.causal || std::string(e.what()).find("causal only") == std::string::npos) throw;
    ModelDims causal = dims;
    causal.causal = true;
    build_encoder(name, causal, extra);  // throws if the options are at fault
    return nullptr;
  }
}

// One case of the tests generic over the registry: an encoder, the model kind, and whether
// its positions are a randomized subset (Ruoss et al. 2023; only schemes that declare the
// `randomized` option).
struct EncoderCase {
  std::string encoder;
  bool causal;
  bool randomized = false;
};
inline std::string case_name(const EncoderCase& c) {
  return c.encoder + (c.causal ? "_causal" : "_bidirectional") + (c.randomized ? "_randomized" : "");
}
// Readable test names in CTest output.
inline std::ostream& operator<<(std::ostream& os, const EncoderCase& c) { return os << case_name(c); }

inline bool declares_randomized(const std::string& name) {
  for (const auto& spec : EncoderRegistry::instance().find(name)->options)
    if (spec.name == "randomized") return true;
  return false;
}

// Every registered encoder, causal and bidirectional, each also randomized where declared.
inline std::vector<EncoderCase> every_encoder_case() {
  std::vector<EncoderCase> cases;
  for (const auto& name : EncoderRegistry::instance().names())
    for (bool causal : {true, false}) {
      cases.push_back({name, causal});
      if (declares_randomized(name)) cases.push_back({name, causal, true});
    }
  return cases;
}

}  // namespace poslab::testing
