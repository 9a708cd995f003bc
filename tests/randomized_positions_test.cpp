// Randomized positions (Ruoss et al. 2023; encoders/randomized_positions.h): the draw's
// properties, the shared option, and the interface's position array.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "encoders/encoder.h"
#include "encoders/randomized_positions.h"
#include "model/transformer.h"

namespace poslab {
namespace {

std::unique_ptr<PositionalEncoder> build(const std::string& name, const std::string& extra,
                                         bool causal = true) {
  YAML::Node node = YAML::Load("{" + extra + "}");
  node["name"] = name;
  const PluginSpec spec{name, ConfigNode(node, "encoder", std::make_shared<KeyOrigins>(), "test.yaml")};
  return EncoderRegistry::instance().build(spec, ModelDims{16, 2, 8, 2, causal});
}

TEST(RandomizedPositions, DrawIsSortedDistinctAndBelowMaxPosition) {
  Rng rng(1);
  for (int n : {0, 1, 7, 64, 200})
    for (int P : {200, 256, 2048}) {
      const auto p = draw_positions(rng, n, P);
      ASSERT_EQ(p.size(), std::size_t(n));
      for (std::size_t t = 0; t < p.size(); ++t) {
        EXPECT_GE(p[t], 0);
        EXPECT_LT(p[t], P);
        if (t > 0) {
          EXPECT_LT(p[t - 1], p[t]) << "sorted and distinct";
        }
      }
    }
  // n = P: every position, in order.
  const auto all = draw_positions(rng, 50, 50);
  for (int t = 0; t < 50; ++t) EXPECT_EQ(all[t], t);
  EXPECT_THROW(draw_positions(rng, 51, 50), std::invalid_argument);
}

TEST(RandomizedPositions, DrawIsReproducibleFromTheSeedAndDiffersAcrossSteps) {
  // The training loop's streams: one per step, derived from the seed.
  auto at_step = [](std::uint64_t seed, int step) {
    Rng r = Rng::derive(seed, "positions/train/" + std::to_string(step));
    return draw_positions(r, 16, 2048);
  };
  EXPECT_EQ(at_step(7, 3), at_step(7, 3));
  EXPECT_NE(at_step(7, 3), at_step(7, 4));
  EXPECT_NE(at_step(7, 3), at_step(8, 3));
  std::set<std::vector<int>> distinct;
  for (int step = 0; step < 50; ++step) distinct.insert(at_step(7, step));
  EXPECT_EQ(distinct.size(), 50u);
}

// Every n-subset can come out: all C(5, 3) = 10 subsets of {0..4} appear in 2000 draws, and
// (a loose check of uniformity, no chi-square) each appears between 100 and 300 times
// (expected 200; the spread is ~13).
TEST(RandomizedPositions, EverySubsetIsPossible) {
  Rng rng(11);
  std::map<std::vector<int>, int> count;
  for (int k = 0; k < 2000; ++k) ++count[draw_positions(rng, 3, 5)];
  EXPECT_EQ(count.size(), 10u);
  for (const auto& [subset, c] : count) {
    EXPECT_GT(c, 100);
    EXPECT_LT(c, 300);
  }
  // Every position is picked (each with probability n/P = 3/5 per draw).
  std::map<int, int> per_position;
  for (const auto& [subset, c] : count)
    for (int p : subset) per_position[p] += c;
  for (int p = 0; p < 5; ++p) EXPECT_NEAR(per_position[p], 1200, 120) << p;
}

// The option is declared once (randomized_option) by every scheme whose positions are
// indices, and by no other.
TEST(RandomizedPositions, DeclaredByTheIndexSchemesOnly) {
  const std::set<std::string> index_schemes = {"sinusoidal", "learned", "rope", "xpos",
                                               "alibi", "t5", "kerple", "fire",
                                               "sandwich", "shaw", "transformer_xl", "relative"};
  for (const auto& [name, entry] : EncoderRegistry::instance().entries()) {
    const auto it = std::find_if(entry.options.begin(), entry.options.end(),
                                 [](const OptionSpec& s) { return s.name == "randomized"; });
    // docs/extending.md's walk-through toy is an index scheme too (compiled into the tests).
    const bool walkthrough = entry.source_file.find("walkthrough/") != std::string::npos;
    EXPECT_EQ(it != entry.options.end(), index_schemes.count(name) > 0 || walkthrough) << name;
    if (it != entry.options.end()) {
      EXPECT_EQ(it->type, OptionSpec::Type::Section);
      ASSERT_EQ(it->fields.size(), 1u);
      EXPECT_EQ(it->fields[0].name, "max_position");
    }
  }
  for (const std::string& name : index_schemes)
    EXPECT_EQ(build(name, name == "learned" ? "max_length: 300, randomized: {max_position: 300}"
                                            : "randomized: {max_position: 300}")
                  ->randomized_max_position(),
              300)
        << name;
  EXPECT_EQ(build("rope", "")->randomized_max_position(), 0);
}

TEST(RandomizedPositions, OptionErrorsNameTheKey) {
  auto message = [](const std::string& name, const std::string& extra) -> std::string {
    try {
      build(name, extra);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message("none", "randomized: {max_position: 8}").find("encoder.randomized"), std::string::npos);
  EXPECT_NE(message("cope", "randomized: {max_position: 8}").find("unknown key"), std::string::npos);
  EXPECT_NE(message("rope", "randomized: {max_position: 0}").find("encoder.randomized.max_position"),
            std::string::npos);
  EXPECT_NE(message("rope", "randomized: {max_position: 8, extra: 1}").find("encoder.randomized.extra"),
            std::string::npos);
  EXPECT_NE(message("rope", "randomized: 8").find("mapping"), std::string::npos);
  EXPECT_NE(message("rope", "randomized: {}").find("required"), std::string::npos);
  EXPECT_EQ(message("rope", "randomized: null"), "");  // null: off

  // Lengths: T <= max_position, checked with every training and evaluation length.
  auto rope = build("rope", "randomized: {max_position: 16}");
  EXPECT_NO_THROW(rope->check_positions(16));
  try {
    rope->check_positions(17);
    ADD_FAILURE() << "length 17 > max_position 16 accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.randomized.max_position"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(build("rope", "")->check_positions(100000));
  // learned: a row per position up to max_position - 1.
  auto learned = build("learned", "max_length: 32, randomized: {max_position: 64}");
  try {
    learned->check_length(8);
    ADD_FAILURE() << "max_length 32 < max_position 64 accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.max_length"), std::string::npos) << e.what();
  }
}

TEST(RandomizedPositions, SetPositionsValidatesAndVersions) {
  auto e = build("alibi", "");
  EXPECT_TRUE(e->identity_positions());
  const auto v0 = e->positions_version();
  const int identity[4] = {0, 1, 2, 3};
  e->set_positions(identity, 4);  // 0..T-1 given explicitly is the identity
  EXPECT_TRUE(e->identity_positions());
  EXPECT_EQ(e->positions_version(), v0);
  const int p[4] = {3, 4, 9, 20};
  e->set_positions(p, 4);
  EXPECT_FALSE(e->identity_positions());
  EXPECT_EQ(e->position(2), 9);
  EXPECT_EQ(e->position_span(4), 18);
  const auto v1 = e->positions_version();
  EXPECT_NE(v1, v0);
  e->set_positions(p, 4);  // the same positions again: caches stay valid
  EXPECT_EQ(e->positions_version(), v1);
  e->set_positions(nullptr, 4);
  EXPECT_TRUE(e->identity_positions());
  EXPECT_NE(e->positions_version(), v1);
  const int unsorted[3] = {1, 5, 5};
  EXPECT_THROW(e->set_positions(unsorted, 3), std::invalid_argument);
  const int negative[2] = {-1, 2};
  EXPECT_THROW(e->set_positions(negative, 2), std::invalid_argument);
}

// The model hands the positions to the encoder at every forward, and a forward without them
// is back at 0..T-1 with the same numbers as before any randomized forward.
TEST(RandomizedPositions, ModelForwardHandsPositionsToTheEncoder) {
  TransformerConfig c;
  c.vocab_size = 7;
  c.layers = 1;
  c.d_model = 16;
  c.heads = 2;
  c.d_ff = 16;
  YAML::Node node = YAML::Load("{name: rope, randomized: {max_position: 64}}");
  const PluginSpec spec{"rope", ConfigNode(node, "encoder", std::make_shared<KeyOrigins>(), "t.yaml")};
  Transformer model(c, EncoderRegistry::instance().build(spec, Transformer::model_dims(c)));
  Rng init(3);
  model.params().initialize(init);
  const std::vector<std::int32_t> ids = {1, 2, 3, 4, 5, 6};
  const Real* a = model.forward(ids.data(), 1, 6);
  const std::vector<Real> plain(a, a + 6 * 7);
  const int p[6] = {5, 9, 10, 30, 31, 60};
  const Real* b = model.forward(ids.data(), 1, 6, p);
  EXPECT_EQ(model.encoder().position(3), 30);
  EXPECT_NE(std::vector<Real>(b, b + 6 * 7), plain);
  const Real* again = model.forward(ids.data(), 1, 6);
  EXPECT_TRUE(model.encoder().identity_positions());
  EXPECT_EQ(std::vector<Real>(again, again + 6 * 7), plain);
  // Shifting every position by the same amount leaves RoPE's logits unchanged (relative).
  const int shifted[6] = {15, 19, 20, 40, 41, 70};
  const Real* s1 = model.forward(ids.data(), 1, 6, p);
  const std::vector<Real> at_p(s1, s1 + 6 * 7);
  const Real* s2 = model.forward(ids.data(), 1, 6, shifted);
  for (int i = 0; i < 6 * 7; ++i) EXPECT_NEAR(s2[i], at_p[i], 1e-4) << i;
}

}  // namespace
}  // namespace poslab
