#pragma once
// A poslab model built from a PyTorch fixture (scripts/make_parity_fixtures.py,
// scripts/make_optimizer_fixtures.py): the root attributes model_yaml, encoder_yaml and
// vocab_size give the shape, the datasets /params/<name> the weights. Shared by the parity
// test and the first-losses test so that both load weights the same way.
#include <memory>
#include <stdexcept>
#include <string>

#include "encoders/encoder.h"
#include "io/h5file.h"
#include "model/transformer.h"

namespace poslab::testing {

inline TransformerConfig fixture_model_config(const H5Reader& f) {
  const YAML::Node m = YAML::Load(f.attr_string("/", "model_yaml"));
  TransformerConfig c;
  c.vocab_size = static_cast<int>(f.attr_double("/", "vocab_size"));
  c.layers = m["layers"].as<int>();
  c.d_model = m["d_model"].as<int>();
  c.heads = m["heads"].as<int>();
  c.d_ff = m["d_ff"].as<int>();
  c.tied_embeddings = m["tied_embeddings"].as<bool>();
  c.causal = m["attention"].as<std::string>() == "causal";
  return c;
}

// Copies <group>/<name> into every parameter. Throws (the test fails, naming the tensor)
// unless the file holds exactly poslab's parameters, with the same shapes.
inline void load_fixture_parameters(const H5Reader& f, const std::string& group, ParameterSet& params) {
  if (f.members(group).size() != params.infos().size())
    throw std::runtime_error(f.path() + ": " + std::to_string(f.members(group).size()) +
                             " tensors under " + group + ", poslab's model has " +
                             std::to_string(params.infos().size()));
  for (const auto& info : params.infos()) {
    const std::string path = group + "/" + info.name;
    if (!f.exists(path)) throw std::runtime_error(f.path() + ": " + info.name + " missing from " + group);
    if (f.shape(path) != std::vector<std::size_t>(info.shape.begin(), info.shape.end()))
      throw std::runtime_error(f.path() + ": " + path + " has another shape than poslab's");
    const auto v = f.read(path);
    std::copy(v.begin(), v.end(), params.values().begin() + static_cast<std::ptrdiff_t>(info.offset));
  }
}

// The fixture's model with its initial weights (/params).
inline std::unique_ptr<Transformer> model_from_fixture(const H5Reader& f, const std::string& label) {
  const TransformerConfig c = fixture_model_config(f);
  const YAML::Node encoder_yaml = YAML::Load(f.attr_string("/", "encoder_yaml"));
  const PluginSpec spec{encoder_yaml["name"].as<std::string>(),
                        ConfigNode(encoder_yaml, "encoder", std::make_shared<KeyOrigins>(), label)};
  auto model = std::make_unique<Transformer>(c, EncoderRegistry::instance().build(spec, Transformer::model_dims(c)));
  load_fixture_parameters(f, "/params", model->params());
  return model;
}

}  // namespace poslab::testing
