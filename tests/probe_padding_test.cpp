// The hidden and attention probes on batches whose examples differ in length (counting:
// programs of one statement count take different numbers of tokens, the rest is PAD).
// Synthetic activations are built on a real counting batch: real positions carry the
// position signal, PAD positions something large and unrelated. The probes' statistics
// must equal a hand computation over real tokens only, and differ from the old one that
// averaged over every position.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "io/config.h"
#include "probes/probe.h"
#include "tasks/task.h"

namespace poslab {
namespace {

std::unique_ptr<Probe> make_probe(const std::string& name, const std::string& yaml = "{}") {
  YAML::Node node = YAML::Load(yaml);
  node["name"] = name;
  return ProbeRegistry::instance().build(
      PluginSpec{name, ConfigNode(node, "probes." + name, std::make_shared<KeyOrigins>(), "test.yaml")});
}

const NamedArray& array(const ProbeResult& r, const std::string& name) {
  for (const auto& a : r.arrays)
    if (a.name == name) return a;
  ADD_FAILURE() << "no array " << name;
  static const NamedArray none;
  return none;
}

// A counting batch of B programs of 40 statements; lengths[b] = real input positions
// (counted here from the PAD id 0, independently of the run loop).
struct CountingBatch {
  Batch batch;
  std::vector<int> lengths;
};
CountingBatch counting_batch(int B) {
  auto task = TaskRegistry::instance().build(PluginSpec{
      "counting", ConfigNode(YAML::Load("{variables: 3, length: 40}"), "task",
                             std::make_shared<KeyOrigins>(), "test.yaml")});
  Rng rng(5);
  CountingBatch c{task->make_batch(rng, Split::Eval, B, 40, 40), {}};
  for (int b = 0; b < B; ++b) {
    int n = 0;
    for (int t = 0; t < c.batch.seq_len; ++t) n += c.batch.inputs[std::size_t(b) * c.batch.seq_len + t] != 0;
    c.lengths.push_back(n);
  }
  return c;
}

// h[b, t] = sinusoid(t) + 0.1·E[token] on real positions; on PADs 5·N(0, 1) noise, with
// no position in it (states on padding mean nothing, and the model never scores them).
ModelActivations activations(const CountingBatch& c, int d) {
  const int B = c.batch.batch_size, T = c.batch.seq_len;
  Rng rng(9);
  Eigen::MatrixXd E(32, d);
  for (int r = 0; r < E.rows(); ++r)
    for (int k = 0; k < d; ++k) E(r, k) = rng.normal();
  ModelActivations a;
  a.examples = B;
  a.length = T;
  a.heads = 1;
  a.lengths = c.lengths;
  Eigen::MatrixXd H(Eigen::Index(B) * T, d);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      const int token = c.batch.inputs[std::size_t(b) * T + t];
      if (token == 0) {
        for (int k = 0; k < d; ++k) H(Eigen::Index(b) * T + t, k) = 5.0 * rng.normal();
        continue;
      }
      for (int i = 0; i < d / 2; ++i) {
        const double angle = t / std::pow(10000.0, 2.0 * i / d);
        H(Eigen::Index(b) * T + t, 2 * i) = std::sin(angle);
        H(Eigen::Index(b) * T + t, 2 * i + 1) = std::cos(angle);
      }
      H.row(Eigen::Index(b) * T + t) += 0.1 * E.row(token);
    }
  a.hidden = {H, 2.0 * H};
  return a;
}

// M [rows, d]: row t = mean of h[b, t] over the examples with real position t (or over
// every example when real_only is false: the old computation).
Eigen::MatrixXd hand_means(const ModelActivations& a, int rows, bool real_only) {
  Eigen::MatrixXd M = Eigen::MatrixXd::Zero(rows, a.hidden[0].cols());
  for (int t = 0; t < rows; ++t) {
    int n = 0;
    for (int b = 0; b < a.examples; ++b)
      if (!real_only || t < a.lengths[b]) {
        M.row(t) += a.hidden[0].row(Eigen::Index(b) * a.length + t);
        ++n;
      }
    M.row(t) /= n;
  }
  return M;
}

TEST(ProbePadding, CountingProgramsDifferInLength) {
  const CountingBatch c = counting_batch(16);
  const auto [lo, hi] = std::minmax_element(c.lengths.begin(), c.lengths.end());
  EXPECT_GE(*hi - *lo, 4) << "the test needs examples of clearly different lengths";
}

TEST(ProbePadding, HiddenMeansUseRealPositionsOnly) {
  const CountingBatch c = counting_batch(16);
  ProbeInput in;
  in.activations = activations(c, 16);
  const ModelActivations& a = *in.activations;
  // T': positions that at least half (8) of the 16 examples reach = the 8th longest length.
  std::vector<int> sorted = c.lengths;
  std::sort(sorted.rbegin(), sorted.rend());
  const int T_probed = sorted[7];
  ASSERT_LT(T_probed, a.length);

  const auto probe = make_probe("hidden");
  ASSERT_TRUE(probe->applies(in));
  const ProbeResult r = probe->run(in);
  EXPECT_EQ(r.scalars.at("probed_length"), T_probed);
  EXPECT_EQ(r.scalars.at("length"), a.length);

  const Eigen::MatrixXd M = hand_means(a, T_probed, true);
  const double locality = similarity_probe(M, {}).locality;
  const double mae = absolute_position_probe(M, AbsoluteOptions{}).mae;
  EXPECT_NEAR(array(r, "locality").data[0], locality, 1e-9);
  EXPECT_NEAR(array(r, "mae").data[0], mae, 1e-9);
  // Real tokens carry the sinusoid almost alone: position is readable.
  EXPECT_LT(mae, 1.0);

  // The old computation (every example at every position, all T rows) differs: its rows
  // beyond the real lengths are mostly PAD noise, where position is not readable.
  const Eigen::MatrixXd M_old = hand_means(a, a.length, false);
  const double mae_old = absolute_position_probe(M_old, AbsoluteOptions{}).mae;
  EXPECT_GT(mae_old, mae + 2.0);
  // ... and is what the probe gives without lengths (every position taken as real).
  ModelActivations unmasked = a;
  unmasked.lengths.clear();
  ProbeInput in_old;
  in_old.activations = unmasked;
  const ProbeResult old = probe->run(in_old);
  EXPECT_EQ(old.scalars.at("probed_length"), a.length);
  EXPECT_NEAR(array(old, "locality").data[0], similarity_probe(M_old, {}).locality, 1e-9);
  EXPECT_NEAR(array(old, "mae").data[0], mae_old, 1e-9);
}

TEST(ProbePadding, HiddenPerExampleFitsSkipPadding) {
  const CountingBatch c = counting_batch(16);
  ProbeInput in;
  in.activations = activations(c, 16);
  const ProbeResult r = make_probe("hidden", "{per_example: true}")->run(in);
  // Real rows carry the sinusoid plus 0.1·token noise: position is readable per example.
  // With the PAD rows in (targets t beyond each example's end, features dominated by
  // 5·E[PAD]) the fit is much worse.
  ModelActivations unmasked = *in.activations;
  unmasked.lengths.clear();
  ProbeInput in_old;
  in_old.activations = unmasked;
  const ProbeResult old = make_probe("hidden", "{per_example: true}")->run(in_old);
  const double masked_mae = array(r, "per_example_mae").data[0];
  const double unmasked_mae = array(old, "per_example_mae").data[0];
  EXPECT_LT(masked_mae, 1.0);
  EXPECT_GT(unmasked_mae, masked_mae + 0.5);
}

TEST(ProbePadding, HiddenRejectsBadCoverage) {
  EXPECT_THROW(make_probe("hidden", "{min_coverage: 0}"), ConfigError);
  EXPECT_THROW(make_probe("hidden", "{min_coverage: 1.5}"), ConfigError);
}

TEST(ProbePadding, AttentionAveragesOverRealQueries) {
  const CountingBatch c = counting_batch(16);
  const int B = c.batch.batch_size, T = c.batch.seq_len;
  ModelActivations a;
  a.examples = B;
  a.length = T;
  a.heads = 1;
  a.causal = true;
  a.lengths = c.lengths;
  // Real query i attends to key max(i − 2, 0); a PAD query to key 0 (distance i).
  std::vector<double> att(std::size_t(B) * T * T, 0.0);
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < T; ++i)
      att[(std::size_t(b) * T + i) * T + (i < c.lengths[b] ? std::max(i - 2, 0) : 0)] = 1.0;
  a.attention = {att};
  ProbeInput in;
  in.activations = a;

  // By hand, over real queries only.
  double distance = 0, first = 0, uniform = 0, queries = 0, later = 0;
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < c.lengths[b]; ++i) {
      distance += std::min(i, 2);
      uniform += i / 2.0;
      queries += 1;
      if (i >= 1) first += i <= 2, later += 1;
    }
  const ProbeResult r = make_probe("attention")->run(in);
  EXPECT_NEAR(r.scalars.at("overall_mean_distance"), distance / queries, 1e-12);
  EXPECT_NEAR(r.scalars.at("overall_first_token_mass"), first / later, 1e-12);
  EXPECT_NEAR(r.scalars.at("mean_distance_uniform"), uniform / queries, 1e-12);
  EXPECT_NEAR(r.scalars.at("overall_entropy"), 0.0, 1e-12);

  // Counting the PAD queries (the old computation) gives a larger distance.
  a.lengths.clear();
  in.activations = a;
  const ProbeResult old = make_probe("attention")->run(in);
  EXPECT_GT(old.scalars.at("overall_mean_distance"), distance / queries + 1.0);
  EXPECT_NEAR(old.scalars.at("mean_distance_uniform"), (T - 1) / 4.0, 1e-12);
}

}  // namespace
}  // namespace poslab
