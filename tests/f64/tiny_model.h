#pragma once
// The small random models the double-precision tests share: a shape (tiny_config), any
// registered encoder built on it (testing::try_build_encoder: null only for a causal-only
// scheme asked for a bidirectional model), and every parameter drawn at random so that
// attention is far from uniform and every bias table matters (randomize_parameters).
#include <algorithm>
#include <memory>
#include <string>

#include "f64/encoder_fixture.h"
#include "f64/gradcheck.h"
#include "model/transformer.h"

namespace poslab::testing {

// V 7, 2 layers, d 8, 2 heads, d_ff 12: small enough for finite differences over every
// parameter, large enough for two heads and two layers.
inline TransformerConfig tiny_config(bool causal = true, bool tied = true) {
  TransformerConfig c;
  c.vocab_size = 7;
  c.layers = 2;
  c.d_model = 8;
  c.heads = 2;
  c.d_ff = 12;
  c.causal = causal;
  c.tied_embeddings = tied;
  return c;
}

// Every parameter uniform in [-scale, scale) from `seed` (testing::random_vector), then, with
// gains_near_one, 1 added to each LayerNorm weight: the network is neither degenerate nor
// saturated.
inline void randomize_parameters(Transformer& model, unsigned seed, double scale,
                                 bool gains_near_one = true) {
  const auto values = random_vector(model.params().count(), seed, scale);
  std::copy(values.begin(), values.end(), model.params().values().begin());
  if (!gains_near_one) return;
  for (const auto& info : model.params().infos())
    if (info.name.find("ln") != std::string::npos && info.name.find("weight") != std::string::npos)
      for (std::size_t i = 0; i < info.size; ++i) model.params().values()[info.offset + i] += 1.0;
}

// The model of shape `c` with encoder `name` (YAML options `options`), or null when the
// encoder refuses the model kind.
inline std::unique_ptr<Transformer> build_model(const TransformerConfig& c, const std::string& name,
                                                const std::string& options = "") {
  auto encoder = try_build_encoder(name, Transformer::model_dims(c), options);
  if (!encoder) return nullptr;
  return std::make_unique<Transformer>(c, std::move(encoder));
}

}  // namespace poslab::testing
