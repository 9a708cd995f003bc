// Links poslab::poslab from an installed package: builds every registered encoder for a
// small causal model, runs a forward pass, and prints the encoder names and the loss.
// Exit 0 only if the registries are full and the loss is finite.
#include <cmath>
#include <cstdio>
#include <memory>

#include "encoders/encoder.h"
#include "model/transformer.h"
#include "core/rng.h"

int main() {
  using namespace poslab;
  const auto names = EncoderRegistry::instance().names();
  if (names.size() < 8) {
    std::fprintf(stderr, "consumer: only %zu encoders registered\n", names.size());
    return 1;
  }
  TransformerConfig config;
  config.vocab_size = 11;
  config.layers = 1;
  config.d_model = 16;
  config.heads = 2;
  config.d_ff = 32;
  for (const auto& name : names) {
    YAML::Node node;
    node["name"] = name;
    const PluginSpec spec{name, ConfigNode(node, "encoder", std::make_shared<KeyOrigins>(), "consumer")};
    Transformer model(config, EncoderRegistry::instance().build(spec, Transformer::model_dims(config)));
    Rng rng(1);
    model.params().initialize(rng);
    const std::int32_t ids[6] = {1, 2, 3, 4, 5, 6}, targets[6] = {2, 3, 4, 5, 6, 7};
    const std::uint8_t mask[6] = {1, 1, 1, 1, 1, 1};
    model.forward(ids, 1, 6);
    const double loss = model.loss(targets, mask);
    if (!std::isfinite(loss)) return 1;
    std::printf("%s %.4f\n", name.c_str(), loss);
  }
  return 0;
}
