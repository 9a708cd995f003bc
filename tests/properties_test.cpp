// The `properties` probe (Wang et al., ICLR 2021): known answers — a hand-computed 3 × 1
// case, the sinusoid (translation invariant, symmetric, locally monotone), random vectors
// (none of it) — the monotonicity count against brute force, the attention-level q·k form,
// and the probe end to end: `poslab probe` and a trained run's results file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <iostream>
#include <filesystem>
#include <fstream>
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

// Monotonicity by its definition: every triple (x, n, m), 1 ≤ n < m (≤ max_distance).
double brute_monotonicity(const Eigen::MatrixXd& S, int step, int max_distance) {
  const int L = int(S.rows());
  double ordered = 0, total = 0;
  for (int x = 0; x < L; ++x)
    for (int m = 2; m < L; ++m)
      for (int n = 1; n < m; ++n) {
        const int far = x + step * m, near = x + step * n;
        if (far < 0 || far >= L || (max_distance > 0 && m > max_distance)) continue;
        ++total;
        ordered += S(x, near) > S(x, far);
      }
  return ordered / total;
}

// P = [1; 2; 4; 8] (one column): S(i, j) = 2^(i+j).
//   forward: anchor 0: S(0, 1..3) = 2, 4, 8 (0 of 3 pairs ordered), anchor 1: 8, 16 (0 of
//   1) → 0;  backward: anchor 3: S(3, 2..0) = 32, 16, 8 (3 of 3), anchor 2: 8, 4 (1 of 1)
//   → 1;  pooled 4/8 = 1/2.
//   Off-diagonals δ = ±1 {2, 8, 32} (mean 14, squares 504 each), δ = ±2 {4, 16} (mean 10,
//   squares 72 each): within = 1152; their 10 entries have mean 12.4 and
//   Σ(s − 12.4)² = 2728 − 1537.6 = 1190.4; invariance = 1 − 1152/1190.4 = 1/31.
TEST(PropertiesProbe, HandComputedTinyCase) {
  Eigen::MatrixXd P(4, 1);
  P << 1, 2, 4, 8;
  const PropertiesResult r = properties_probe(P, {});
  EXPECT_EQ(r.positions.monotonicity_forward, 0.0);
  EXPECT_EQ(r.positions.monotonicity_backward, 1.0);
  EXPECT_EQ(r.positions.monotonicity, 0.5);
  EXPECT_NEAR(r.positions.translation_invariance, 1.0 / 31.0, 1e-15);
  EXPECT_EQ(r.positions.asymmetry, 0.0);
  ASSERT_EQ(r.positions.diagonal_mean.size(), 7);
  EXPECT_EQ(r.positions.diagonal_mean(3), 21.25);  // δ = 0: (1 + 4 + 16 + 64) / 4
  EXPECT_EQ(r.positions.diagonal_mean(4), 14.0);   // δ = +1
  EXPECT_EQ(r.positions.diagonal_mean(6), 8.0);    // δ = +3: S(0, 3)
  EXPECT_EQ(r.positions.diagonal_sd(1), 6.0);      // δ = −2: {4, 16}
  EXPECT_TRUE(r.qk.empty());
}

// Σ_m cos((i − j)ω_m) depends on i − j only: S is Toeplitz and symmetric. Near the
// diagonal it falls with distance (the paper's "local monotonicity"); globally the slowest
// frequencies make it wobble, so it is mostly but not entirely monotone.
TEST(PropertiesProbe, SinusoidIsTranslationInvariantSymmetricAndLocallyMonotone) {
  const Eigen::MatrixXd P = sinusoidal_matrix(64, 128);
  const PropertiesResult global = properties_probe(P, {});
  EXPECT_NEAR(global.positions.translation_invariance, 1.0, 1e-12);
  EXPECT_LT(global.positions.asymmetry, 1e-15);
  EXPECT_NEAR(global.positions.monotonicity, 0.9501, 1e-4);  // numpy, brute force: 0.950101
  EXPECT_LT(global.positions.diagonal_sd.maxCoeff(), 1e-12);
  PropertiesOptions local;
  local.max_distance = 8;
  EXPECT_EQ(properties_probe(P, local).positions.monotonicity, 1.0);
  PropertiesOptions cosine;
  cosine.cosine = true;  // every row has norm sqrt(d / 2): the same orderings
  EXPECT_NEAR(properties_probe(P, cosine).positions.monotonicity, global.positions.monotonicity, 1e-3);
}

TEST(PropertiesProbe, RandomVectorsHaveNoneOfTheProperties) {
  const Eigen::MatrixXd P = gaussian_matrix(64, 128, 7);
  const PropertiesResult r = properties_probe(P, {});
  std::cout << "[ random 64x128 ] monotonicity " << r.positions.monotonicity << ", translation invariance "
            << r.positions.translation_invariance << "\n";
  EXPECT_NEAR(r.positions.monotonicity, 0.5, 0.03);
  // The offset explains only chance variance: 2L − 6 groups among L² − L − 2 entries,
  // about (2L − 6)/(L² − L − 2) ≈ 0.03.
  EXPECT_LT(r.positions.translation_invariance, 0.06);
  EXPECT_LT(r.positions.asymmetry, 1e-15);  // a dot product is symmetric by construction
}

TEST(PropertiesProbe, MonotonicityCountEqualsBruteForceWithTies) {
  // Small integers: many ties, which count as not ordered.
  Eigen::MatrixXd S = gaussian_matrix(23, 23, 11).array().round();
  for (int max_distance : {0, 2, 3, 5, 40}) {
    const MatrixProperties r = matrix_properties(S, max_distance);
    EXPECT_DOUBLE_EQ(r.monotonicity_forward, brute_monotonicity(S, +1, max_distance)) << max_distance;
    EXPECT_DOUBLE_EQ(r.monotonicity_backward, brute_monotonicity(S, -1, max_distance)) << max_distance;
  }
  // max_distance 1 leaves no pair (n < m ≤ 1): not measured.
  EXPECT_TRUE(std::isnan(matrix_properties(S, 1).monotonicity));
  EXPECT_THROW(matrix_properties(Eigen::MatrixXd::Zero(2, 2), 0), std::invalid_argument);
}

// Attention level: P = I₃, W_Q = I, W_K strictly upper triangular ones, one head (d_h = 3):
// S = (P W_Qᵀ)(P W_Kᵀ)ᵀ / √3 = W_K / √3; its antisymmetric part has ‖·‖² = 6·(1/2)²/3 = 1/2
// against ‖S‖² = 3/3 = 1, so asymmetry = 1/√2. With W_K = W_Q the form is symmetric.
TEST(PropertiesProbe, QueryKeyFormHandComputed) {
  const Eigen::MatrixXd P = Eigen::MatrixXd::Identity(3, 3);
  QueryKeyMaps qk{Eigen::MatrixXd::Identity(3, 3), Eigen::MatrixXd::Zero(3, 3), 1};
  qk.key << 0, 1, 1, 0, 0, 1, 0, 0, 0;
  const PropertiesResult r = properties_probe(P, {}, &qk);
  ASSERT_EQ(r.qk.size(), 1u);
  EXPECT_NEAR(r.qk[0].asymmetry, std::sqrt(0.5), 1e-15);
  EXPECT_EQ(r.positions.asymmetry, 0.0);

  const Eigen::MatrixXd W = gaussian_matrix(8, 8, 3);
  const QueryKeyMaps same{W, W, 2};
  const Eigen::MatrixXd sin8 = sinusoidal_matrix(16, 8);
  const PropertiesResult s = properties_probe(sin8, {}, &same);
  ASSERT_EQ(s.qk.size(), 2u);
  for (const auto& head : s.qk) EXPECT_LT(head.asymmetry, 1e-15);

  const QueryKeyMaps random{W, gaussian_matrix(8, 8, 4), 2};
  const ProbeResult out = properties_probe(sin8, {}, &random).to_probe_result();
  EXPECT_GT(out.scalars.at("qk_asymmetry"), 0.3);
  EXPECT_EQ(out.scalars.count("qk_monotonicity"), 1u);
  EXPECT_EQ(out.scalars.count("qk_translation_invariance"), 1u);
  const QueryKeyMaps wrong{W, W, 3};  // 8 is not divisible by 3 heads
  EXPECT_THROW(properties_probe(sin8, {}, &wrong), std::invalid_argument);
}

// Scale does not matter: every measure is an ordering or a ratio (and ×2^600 would
// overflow P Pᵀ without the exact rescaling).
TEST(PropertiesProbe, ScaleFree) {
  const Eigen::MatrixXd P = gaussian_matrix(20, 6, 5);
  const PropertiesResult a = properties_probe(P, {});
  const PropertiesResult b = properties_probe(P * std::ldexp(1.0, 600), {});
  EXPECT_EQ(a.positions.monotonicity, b.positions.monotonicity);
  EXPECT_EQ(a.positions.translation_invariance, b.positions.translation_invariance);
}

TEST(PropertiesProbe, RegisteredWithOptionsAndAppliesToThreeRows) {
  const ConfigNode node(YAML::Load("{name: properties, measure: cosine, max_distance: 4}"), "probes.0",
                        std::make_shared<KeyOrigins>(), "test.yaml");
  const auto probe = ProbeRegistry::instance().build({"properties", node});
  ProbeInput input;
  input.position_matrix = Eigen::MatrixXd::Identity(2, 2);
  EXPECT_FALSE(probe->applies(input));
  input.position_matrix = sinusoidal_matrix(20, 16);
  ASSERT_TRUE(probe->applies(input));
  const ProbeResult r = probe->run(input);
  PropertiesOptions opt;
  opt.cosine = true;
  opt.max_distance = 4;
  EXPECT_EQ(r.scalars.at("monotonicity"), properties_probe(*input.position_matrix, opt).positions.monotonicity);
  for (const auto& a : r.arrays) EXPECT_EQ(r.scalars.count(a.name), 0u) << a.name;

  const ConfigNode bad(YAML::Load("{name: properties, measure: euclid}"), "probes.0",
                       std::make_shared<KeyOrigins>(), "test.yaml");
  EXPECT_THROW(ProbeRegistry::instance().build({"properties", bad}), ConfigError);
}

TEST(PropertiesProbe, ProbeCommandOnGpt2) {
  const auto r = testing::run_poslab("probe " + testing::data_path("gpt2_wpe_first64.npy") +
                                     " --probes properties");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("translation_invariance"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("qk_"), std::string::npos) << "a bare matrix has no attention weights";
}

// A trained run with a position matrix also measures the first layer's q·k position term.
TEST(PropertiesProbe, TrainedRunWritesTheQueryKeyForm) {
  const auto dir = testing::fresh_dir("properties_run");
  const std::string yaml = (dir / "exp.yaml").string();
  std::ofstream(yaml) << "name: props\nseed: 3\n"
                         "task: {name: copy, vocab: 6, min_length: 2, length: 4}\n"
                         "model: {layers: 1, d_model: 16, heads: 2, d_ff: 32}\n"
                         "train: {steps: 5, batch_size: 8, lr: 0.003, warmup_steps: 2, log_every: 5}\n"
                         "eval: {lengths: [4], batches: 1, batch_size: 8}\n"
                         "output: {dir: results}\n"
                         "runs:\n  - {name: learned, encoder: {name: learned, max_length: 32}}\n"
                         "probes:\n  - {name: properties}\n";
  const auto r = testing::run_poslab("run " + yaml + " --out " + (dir / "out").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  H5Reader f((dir / "out" / "learned.h5").string());
  for (const char* name : {"monotonicity", "translation_invariance", "asymmetry", "qk_monotonicity",
                           "qk_translation_invariance", "qk_asymmetry"}) {
    EXPECT_TRUE(f.has_attr("/probes/properties", name)) << name;
  }
  EXPECT_EQ(f.shape("/probes/properties/qk_asymmetry_by_head"), (std::vector<std::size_t>{2}));
  // A learned table's q and k maps differ: the attention-level form is not symmetric.
  EXPECT_GT(f.attr_double("/probes/properties", "qk_asymmetry"), 0.01);
}

}  // namespace
}  // namespace poslab
