// Tests of the probes that read a trained model's data (hidden, attention, extrapolation)
// on synthetic ModelActivations / EvalTable built here, and of `poslab probe` end to end.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli_util.h"
#include "core/rng.h"
#include "io/config.h"
#include "io/h5file.h"
#include "probe_matrices.h"
#include "probes/probe.h"

namespace poslab {
namespace {

// A probe from the registry, with options given as YAML text (as in an experiment file).
std::unique_ptr<Probe> make_probe(const std::string& name, const std::string& yaml = "{}") {
  YAML::Node node = YAML::Load(yaml);
  node["name"] = name;
  const PluginSpec spec{name, ConfigNode(node, "probes." + name, std::make_shared<KeyOrigins>(), "test.yaml")};
  return ProbeRegistry::instance().build(spec);
}

const NamedArray& array(const ProbeResult& r, const std::string& name) {
  for (const auto& a : r.arrays)
    if (a.name == name) return a;
  ADD_FAILURE() << "no array " << name;
  static const NamedArray none;
  return none;
}

// ---- hidden --------------------------------------------------------------------------

// Three "layers" of [B*T, d] hidden states: 0 = sinusoid + small noise per example,
// 1 = pure noise, 2 = the sinusoid scaled (a linear map keeps position readable).
ModelActivations synthetic_hidden(int B, int T, int d) {
  const Eigen::MatrixXd P = sinusoidal_matrix(T, d);
  Rng rng(7);
  ModelActivations a;
  a.examples = B;
  a.length = T;
  a.heads = 1;
  for (int l = 0; l < 3; ++l) {
    Eigen::MatrixXd H(B * T, d);
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < T; ++t)
        for (int c = 0; c < d; ++c) {
          const double noise = rng.normal();
          H(b * T + t, c) = l == 1 ? noise : (l == 0 ? 1.0 : 3.0) * P(t, c) + 0.01 * noise;
        }
    a.hidden.push_back(std::move(H));
  }
  return a;
}

TEST(HiddenProbe, SinusoidLayerIsReadNoiseLayerIsNot) {
  ProbeInput in;
  in.activations = synthetic_hidden(/*B=*/8, /*T=*/32, /*d=*/64);
  const auto probe = make_probe("hidden", "{per_example: true}");
  ASSERT_TRUE(probe->applies(in));
  const ProbeResult r = probe->run(in);

  const auto& mae = array(r, "mae").data;
  ASSERT_EQ(mae.size(), 3u);
  EXPECT_LT(mae[0], 0.1) << "sinusoid + noise (mean over examples)";
  EXPECT_LT(mae[2], 0.1);
  EXPECT_GT(mae[1], 4.0) << "pure noise: near chance";
  EXPECT_DOUBLE_EQ(r.scalars.at("baseline_mae"), 8.0);  // mean |16 − t| over t = 0..31
  EXPECT_GT(mae[1], 0.5 * r.scalars.at("baseline_mae"));
  EXPECT_DOUBLE_EQ(r.scalars.at("embedding_mae"), mae[0]);
  EXPECT_DOUBLE_EQ(r.scalars.at("final_mae"), mae[2]);
  EXPECT_EQ(r.scalars.at("layers"), 2);
  EXPECT_EQ(r.scalars.at("best_layer_mae"), std::min(mae[0], mae[2]));
  EXPECT_GT(array(r, "r2").data[0], 0.99);
  EXPECT_LT(array(r, "relative_error_rate").data[0], 0.05);
  EXPECT_GT(array(r, "locality").data[0], array(r, "locality").data[1]);

  // Each example's own rows, folds grouped by example: the sinusoid is still read
  // (noise 0.01), pure noise is not.
  const auto& ex = array(r, "per_example_mae").data;
  ASSERT_EQ(ex.size(), 3u);
  EXPECT_LT(ex[0], 0.1);
  EXPECT_GT(ex[1], 4.0);
  const auto& ex_rel = array(r, "per_example_relative_error_rate").data;
  EXPECT_LT(ex_rel[0], 0.05);
  EXPECT_GT(ex_rel[1], 0.3) << "order of two noise vectors is not decodable on unseen examples";
  std::cout << "hidden: mae " << mae[0] << " " << mae[1] << " " << mae[2] << "; per-example "
            << ex[0] << " " << ex[1] << " " << ex[2] << "; relative " << array(r, "relative_error_rate").data[1]
            << " / per-example " << ex_rel[1] << "\n";
}

TEST(HiddenProbe, AppliesOnlyToActivationsAndChecksOptions) {
  const auto probe = make_probe("hidden");
  ProbeInput matrix_only;
  matrix_only.position_matrix = sinusoidal_matrix(16, 8);
  EXPECT_FALSE(probe->applies(matrix_only));
  ProbeInput few_examples;
  few_examples.activations = synthetic_hidden(/*B=*/3, /*T=*/16, /*d=*/8);
  EXPECT_TRUE(probe->applies(few_examples)) << "mean-over-examples needs T >= folds only";
  EXPECT_FALSE(make_probe("hidden", "{per_example: true}")->applies(few_examples))
      << "folds grouped by example need at least `folds` examples";
  EXPECT_THROW(make_probe("hidden", "{l2: 0}"), ConfigError);
  EXPECT_THROW(make_probe("hidden", "{per_example: maybe}"), ConfigError);
}

// ---- attention -----------------------------------------------------------------------

// Attention [B, H, T, T] of one layer from a function of (head, query, key).
template <class F>
std::vector<double> attention_layer(int B, int H, int T, F alpha) {
  std::vector<double> a(std::size_t(B) * H * T * T);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < T; ++i)
        for (int j = 0; j < T; ++j) a[((std::size_t(b) * H + h) * T + i) * T + j] = alpha(h, i, j);
  return a;
}

TEST(AttentionProbe, HandMadeMapsGiveKnownStatistics) {
  const int B = 2, H = 2, T = 10;
  ModelActivations a;
  a.examples = B;
  a.length = T;
  a.heads = H;
  a.causal = true;
  // Layer 0: head 0 on the diagonal, head 1 uniform over keys 0..i (causal).
  a.attention.push_back(attention_layer(B, H, T, [](int h, int i, int j) {
    if (h == 0) return i == j ? 1.0 : 0.0;
    return j <= i ? 1.0 / (i + 1) : 0.0;
  }));
  // Layer 1: head 0 everything on token 0, head 1 on the previous token (0 for i = 0).
  a.attention.push_back(attention_layer(B, H, T, [](int h, int i, int j) {
    if (h == 0) return j == 0 ? 1.0 : 0.0;
    return j == std::max(i - 1, 0) ? 1.0 : 0.0;
  }));
  ProbeInput in;
  in.activations = a;
  const auto probe = make_probe("attention", "{max_map_length: 4}");
  ASSERT_TRUE(probe->applies(in));
  const ProbeResult r = probe->run(in);

  const auto& dist = array(r, "mean_distance").data;  // [L, H]
  const auto& ent = array(r, "entropy").data;
  const auto& first = array(r, "first_token_mass").data;
  ASSERT_EQ(array(r, "mean_distance").shape, (std::vector<std::size_t>{2, 2}));
  double uniform_entropy = 0.0, uniform_first = 0.0;
  for (int i = 0; i < T; ++i) uniform_entropy += std::log(i + 1.0) / T;
  for (int i = 1; i < T; ++i) uniform_first += 1.0 / (i + 1) / (T - 1);

  EXPECT_DOUBLE_EQ(dist[0], 0.0);  // diagonal
  EXPECT_DOUBLE_EQ(ent[0], 0.0);
  EXPECT_DOUBLE_EQ(first[0], 0.0);
  EXPECT_NEAR(dist[1], (T - 1) / 4.0, 1e-12);  // uniform causal: mean over i of i/2
  EXPECT_NEAR(ent[1], uniform_entropy, 1e-12);  // mean over i of log(i + 1)
  EXPECT_NEAR(first[1], uniform_first, 1e-12);
  EXPECT_NEAR(dist[2], (T - 1) / 2.0, 1e-12);  // all on token 0: mean of i
  EXPECT_DOUBLE_EQ(ent[2], 0.0);
  EXPECT_DOUBLE_EQ(first[2], 1.0);
  EXPECT_NEAR(dist[3], (T - 1.0) / T, 1e-12);  // previous token: 1 except query 0
  EXPECT_NEAR(first[3], 1.0 / (T - 1), 1e-12);  // only query 1 looks at token 0

  EXPECT_NEAR(r.scalars.at("mean_distance_uniform"), (T - 1) / 4.0, 1e-12);
  EXPECT_NEAR(r.scalars.at("entropy_uniform"), uniform_entropy, 1e-12);
  EXPECT_NEAR(r.scalars.at("first_token_mass_uniform"), uniform_first, 1e-12);
  EXPECT_NEAR(r.scalars.at("overall_mean_distance"), (dist[0] + dist[1] + dist[2] + dist[3]) / 4, 1e-12);
  EXPECT_NEAR(r.scalars.at("distance_ratio"),
              r.scalars.at("overall_mean_distance") / r.scalars.at("mean_distance_uniform"), 1e-12);

  const NamedArray& map = array(r, "example_map");
  ASSERT_EQ(map.shape, (std::vector<std::size_t>{2, 2, 4, 4}));  // T capped at 4
  EXPECT_DOUBLE_EQ(map.data[(0 * 2 + 1) * 16 + 3 * 4 + 2], 0.25);  // layer 0, head 1, (3, 2)
  EXPECT_DOUBLE_EQ(map.data[(1 * 2 + 0) * 16 + 2 * 4 + 0], 1.0);   // layer 1, head 0, (2, 0)
}

TEST(AttentionProbe, UniformBidirectionalReference) {
  const int T = 7;
  ModelActivations a;
  a.examples = 1;
  a.length = T;
  a.heads = 1;
  a.causal = false;
  a.attention.push_back(attention_layer(1, 1, T, [](int, int, int) { return 1.0 / 7; }));
  ProbeInput in;
  in.activations = a;
  const ProbeResult r = make_probe("attention")->run(in);
  EXPECT_NEAR(r.scalars.at("overall_mean_distance"), (T * T - 1.0) / (3.0 * T), 1e-12);
  EXPECT_NEAR(r.scalars.at("mean_distance_uniform"), (T * T - 1.0) / (3.0 * T), 1e-12);
  EXPECT_NEAR(r.scalars.at("overall_entropy"), std::log(7.0), 1e-12);
  EXPECT_NEAR(r.scalars.at("entropy_ratio"), 1.0, 1e-12);
  EXPECT_NEAR(r.scalars.at("overall_first_token_mass"), 1.0 / 7, 1e-12);
  EXPECT_EQ(array(r, "example_map").shape, (std::vector<std::size_t>{1, 1, 7, 7}));

  ProbeInput wrong_size = in;
  wrong_size.activations->attention[0].pop_back();
  EXPECT_FALSE(make_probe("attention")->applies(wrong_size));
}

// ---- extrapolation -------------------------------------------------------------------

TEST(ExtrapolationProbe, RatiosFromAHandMadeTable) {
  EvalTable t;
  t.length = {8, 32, 16};  // not sorted: the probe must not assume order
  t.sequence_length = {17, 65, 33};
  t.loss = {0.1, 2.0, 0.3};
  t.token_accuracy = {1.0, 0.45, 0.9};
  t.exact_match = {1.0, 0.0, 0.5};
  t.train_length = 16;
  ProbeInput in;
  in.evaluation = t;
  const auto probe = make_probe("extrapolation");
  ASSERT_TRUE(probe->applies(in));
  const ProbeResult r = probe->run(in);
  EXPECT_EQ(r.scalars.at("train_length"), 16);
  EXPECT_EQ(r.scalars.at("longest_length"), 32);
  EXPECT_DOUBLE_EQ(r.scalars.at("accuracy_at_train_length"), 0.9);
  EXPECT_DOUBLE_EQ(r.scalars.at("accuracy_at_longest"), 0.45);
  EXPECT_DOUBLE_EQ(r.scalars.at("extrapolation_ratio"), 0.5);
  EXPECT_DOUBLE_EQ(r.scalars.at("exact_match_at_train_length"), 0.5);
  EXPECT_DOUBLE_EQ(r.scalars.at("loss_at_longest"), 2.0);
  EXPECT_EQ(array(r, "token_accuracy").data, t.token_accuracy);
  EXPECT_EQ(array(r, "length").data, t.length);

  // Training length not evaluated: the longest length below it stands in.
  t.train_length = 20;
  in.evaluation = t;
  EXPECT_DOUBLE_EQ(probe->run(in).scalars.at("accuracy_at_train_length"), 0.9);

  // NaN-safe: zero accuracy at training, nothing beyond training, no length at or below.
  t.train_length = 16;
  t.token_accuracy = {1.0, 0.45, 0.0};
  in.evaluation = t;
  EXPECT_TRUE(std::isnan(probe->run(in).scalars.at("extrapolation_ratio")));
  t.train_length = 32;
  in.evaluation = t;
  EXPECT_TRUE(std::isnan(probe->run(in).scalars.at("extrapolation_ratio"))) << "nothing beyond training";
  t.train_length = 4;
  in.evaluation = t;
  const ProbeResult below = probe->run(in);
  EXPECT_TRUE(std::isnan(below.scalars.at("accuracy_at_train_length")));
  EXPECT_TRUE(std::isnan(below.scalars.at("extrapolation_ratio")));

  EXPECT_FALSE(probe->applies(ProbeInput{}));
}

// ---- poslab probe --------------------------------------------------------------------

using testing::data_path;
using testing::fresh_dir;
using testing::run_poslab;

int lines(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')); }

TEST(ProbeCli, Gpt2SliceWritesProbeGroups) {
  const auto dir = fresh_dir("probe_cli");
  const std::string out = (dir / "gpt2.h5").string();
  const auto r = run_poslab("probe " + data_path("gpt2_wpe_first64.npy") + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("absolute_position"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("locality"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(out + ".tmp"));
  H5Reader f(out);
  EXPECT_EQ(f.attr_double("/", "schema_version"), 1);
  EXPECT_TRUE(f.has_attr("/", "poslab_version"));
  EXPECT_NE(f.attr_string("/", "matrix_source").find("gpt2_wpe_first64.npy"), std::string::npos);
  EXPECT_EQ(f.members("/probes"), (std::vector<std::string>{"absolute_position", "properties", "relative_position", "similarity"}))
      << "by default, every probe that applies to a bare matrix";
  const double mae = f.attr_double("/probes/absolute_position", "mae");
  EXPECT_LT(mae, 1.0);
  EXPECT_EQ(f.read("/probes/absolute_position/mae"), std::vector<double>{mae}) << "scalar dataset too";
  EXPECT_EQ(f.shape("/probes/similarity/cosine"), (std::vector<std::size_t>{64, 64}));
  EXPECT_TRUE(f.has_attr("/probes/similarity/cosine", "description"));
}

TEST(ProbeCli, ListedProbesAndOptions) {
  const auto dir = fresh_dir("probe_cli_set");
  const std::string out = (dir / "p.h5").string();
  const auto r = run_poslab("probe " + data_path("gpt2_wpe_first64.npy") +
                            " --probes similarity,absolute_position --set absolute_position.folds=4 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  H5Reader f(out);
  EXPECT_EQ(f.members("/probes"), (std::vector<std::string>{"absolute_position", "similarity"}));
  EXPECT_EQ(f.read("/probes/absolute_position/fold").size(), 64u);
  double max_fold = 0;
  for (double v : f.read("/probes/absolute_position/fold")) max_fold = std::max(max_fold, v);
  EXPECT_EQ(max_fold, 3) << "--set folds=4";
}

TEST(ProbeCli, BadInputIsOneLineAndExitTwo) {
  const auto dir = fresh_dir("probe_cli_bad");
  const std::string out = (dir / "x.h5").string();
  const std::string gpt2 = data_path("gpt2_wpe_first64.npy");
  struct Case {
    std::string args, expect;
  };
  for (const Case& c : std::vector<Case>{
           {"probe " + (dir / "missing.npy").string() + " --out " + out, "missing.npy"},
           {"probe " + gpt2 + " --probes nonsense --out " + out, "unknown probe 'nonsense'"},
           {"probe " + gpt2 + " --probes hidden --out " + out, "'hidden' does not apply"},
           {"probe " + gpt2 + " --set absolute_position.bogus=1 --out " + out, "absolute_position.bogus"},
           {"probe " + gpt2 + " --set absolute_position.folds=x --out " + out, "absolute_position.folds"},
           {"probe " + gpt2 + " --set folds=3 --out " + out, "expected probe.option=value"},
           {"probe " + gpt2 + " --probes similarity --set absolute_position.folds=3 --out " + out, "not among --probes"},
           {"probe", "MATRIX"},
       }) {
    const auto r = run_poslab(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.err;
    EXPECT_EQ(lines(r.err), 1) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_FALSE(std::filesystem::exists(out)) << c.args;
    EXPECT_FALSE(std::filesystem::exists(out + ".tmp")) << c.args;
  }
}

}  // namespace
}  // namespace poslab
