// Every registered probe on canned inputs with known answers (declared next to each
// probe's registration with POSLAB_PROBE_KNOWN_ANSWERS, src/probes/probe.h): a new probe is
// tested without editing this file, and a probe without known answers fails here.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/rng.h"
#include "io/config.h"
#include "probe_matrices.h"
#include "probes/probe.h"

namespace poslab {
namespace {

Eigen::MatrixXd noise(int rows, int cols, Rng& rng, double scale) {
  Eigen::MatrixXd M(rows, cols);
  for (Eigen::Index i = 0; i < M.size(); ++i) M.data()[i] = scale * rng.normal();
  return M;
}

// Attention [B, H, T, T] (causal): every query on the previous token (the first on
// itself), or uniform over the keys it may see.
std::vector<double> attention(int B, int H, int T, bool previous_token) {
  std::vector<double> a(std::size_t(B) * H * T * T, 0.0);
  for (int bh = 0; bh < B * H; ++bh)
    for (int i = 0; i < T; ++i) {
      double* row = a.data() + (std::size_t(bh) * T + i) * T;
      if (previous_token) {
        row[i == 0 ? 0 : i - 1] = 1.0;
      } else {
        for (int j = 0; j <= i; ++j) row[j] = 1.0 / (i + 1);
      }
    }
  return a;
}

ModelActivations activations(bool positional) {
  const int B = 8, T = 32, d = 16, H = 2, layers = 2;
  Rng rng(positional ? 3 : 4);
  ModelActivations a;
  a.examples = B;
  a.length = T;
  a.heads = H;
  a.causal = true;
  a.loss_mask.assign(std::size_t(B) * T, 1);
  const Eigen::MatrixXd P = sinusoidal_matrix(T, d);
  for (int l = 0; l <= layers; ++l) {
    Eigen::MatrixXd hidden = noise(B * T, d, rng, positional ? 0.05 : 1.0);
    if (positional)
      for (int b = 0; b < B; ++b) hidden.middleRows(b * T, T) += P;
    a.hidden.push_back(hidden);
  }
  for (int l = 0; l < layers; ++l) a.attention.push_back(attention(B, H, T, positional));
  return a;
}

EvalTable evaluation(bool collapsing) {
  EvalTable e;
  e.train_length = 16;
  e.length = {16, 32, 64};
  e.sequence_length = {34, 66, 130};
  e.loss = collapsing ? std::vector<double>{0.3, 1.5, 3.0} : std::vector<double>{0.3, 0.3, 0.3};
  e.token_accuracy = collapsing ? std::vector<double>{0.9, 0.4, 0.1} : std::vector<double>{0.9, 0.9, 0.9};
  e.exact_match = collapsing ? std::vector<double>{0.8, 0.1, 0.0} : std::vector<double>{0.8, 0.8, 0.8};
  return e;
}

ProbeInput canned(KnownInput which) {
  ProbeInput in;
  in.matrix_source = "test";
  Rng rng(7);
  switch (which) {
    case KnownInput::SinusoidMatrix: in.position_matrix = sinusoidal_matrix(64, 32); break;
    case KnownInput::RandomMatrix: in.position_matrix = noise(64, 32, rng, 1.0); break;
    case KnownInput::PositionalActivations: in.activations = activations(true); break;
    case KnownInput::PositionlessActivations: in.activations = activations(false); break;
    case KnownInput::FlatEvaluation: in.evaluation = evaluation(false); break;
    case KnownInput::CollapsingEvaluation: in.evaluation = evaluation(true); break;
  }
  return in;
}

std::unique_ptr<Probe> build_default(const std::string& name) {
  YAML::Node node;
  node["name"] = name;
  return ProbeRegistry::instance().build(
      PluginSpec{name, ConfigNode(node, "probes.0", std::make_shared<KeyOrigins>(), "test.yaml")});
}

class EveryProbe : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryProbe, GivesItsKnownAnswers) {
  const auto& registry = ProbeKnownAnswerRegistry::instance();
  const auto it = registry.find(GetParam());
  ASSERT_NE(it, registry.end()) << "probe '" << GetParam()
                                << "' declares no POSLAB_PROBE_KNOWN_ANSWERS next to its "
                                   "registration (src/probes/probe.h, docs/extending.md)";
  std::set<KnownInput> inputs;
  for (const ProbeKnownAnswer& k : it->second) inputs.insert(k.input);
  EXPECT_GE(inputs.size(), 2u) << GetParam() << ": known answers on at least two different inputs";
  const auto probe = build_default(GetParam());
  for (const ProbeKnownAnswer& k : it->second) {
    const ProbeInput in = canned(k.input);
    ASSERT_TRUE(probe->applies(in)) << GetParam() << " on input " << int(k.input);
    const ProbeResult r = probe->run(in);
    const auto value = r.scalars.find(k.metric);
    ASSERT_NE(value, r.scalars.end()) << GetParam() << " has no scalar " << k.metric;
    EXPECT_GE(value->second, k.low) << GetParam() << "." << k.metric << " on input " << int(k.input);
    EXPECT_LE(value->second, k.high) << GetParam() << "." << k.metric << " on input " << int(k.input);
  }
}

INSTANTIATE_TEST_SUITE_P(Registered, EveryProbe,
                         ::testing::ValuesIn(ProbeRegistry::instance().names()),
                         [](const auto& info) { return info.param; });

// Prints every scalar of every probe on every canned input that it applies to, for
// choosing a new probe's known answers: --gtest_also_run_disabled_tests
// --gtest_filter=*DISABLED_PrintScalars*.
TEST(EveryProbe, DISABLED_PrintScalars) {
  for (const auto& name : ProbeRegistry::instance().names()) {
    const auto probe = build_default(name);
    for (int i = 0; i <= int(KnownInput::CollapsingEvaluation); ++i) {
      const ProbeInput in = canned(KnownInput(i));
      if (!probe->applies(in)) continue;
      for (const auto& [metric, value] : probe->run(in).scalars)
        std::printf("%s input %d %s = %.6g\n", name.c_str(), i, metric.c_str(), value);
    }
  }
}

}  // namespace
}  // namespace poslab
