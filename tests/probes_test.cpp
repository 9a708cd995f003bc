// Tests of the probes' linear algebra (src/probes/linalg.h) and of the matrix probes
// (absolute_position, relative_position, similarity) against known answers.
//
// With POSLAB_PROBE_DUMP=<dir> set, ProbesDump.WritesInputsAndResults writes the matrices,
// folds, pairs and results for scripts/compare_probes_sklearn.py, which refits them with
// scikit-learn (see that script).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/rng.h"
#include "io/config.h"
#include "io/npy.h"
#include "probes/linalg.h"
#include "probe_matrices.h"
#include "probes/probe.h"

namespace poslab {
namespace {

namespace fs = std::filesystem;

// The first 64 rows of GPT-2 small's wpe, in the source tree (tests/data/SOURCES.md);
// POSLAB_GPT2_WPE overrides it.
std::string find_gpt2_slice() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("POSLAB_GPT2_WPE")) candidates.push_back(env);
  candidates.push_back(std::string(POSLAB_SOURCE_DIR) + "/tests/data/gpt2_wpe_first64.npy");
  for (const auto& c : candidates)
    if (fs::exists(c)) return c;
  return "";
}

Eigen::MatrixXd load_gpt2_slice() {
  const std::string file = find_gpt2_slice();
  if (file.empty()) return {};
  const NpyArray a = read_npy(file);
  if (a.shape.size() != 2) return {};
  Eigen::MatrixXd P(a.shape[0], a.shape[1]);
  for (std::size_t r = 0; r < a.shape[0]; ++r)
    for (std::size_t c = 0; c < a.shape[1]; ++c) P(r, c) = a.data[r * a.shape[1] + c];
  return P;
}

// ---- K-fold --------------------------------------------------------------------------

TEST(ProbesKFold, EveryRowInExactlyOneFoldWithBalancedSizes) {
  for (int n : {5, 10, 17, 512}) {
    for (int K : {2, 3, 5}) {
      if (K > n) continue;
      Rng rng(42);
      const std::vector<int> fold = kfold_assignment(n, K, rng);
      ASSERT_EQ(int(fold.size()), n);  // one id per row: each row in exactly one fold
      std::vector<int> sizes(K, 0);
      for (int f : fold) {
        ASSERT_GE(f, 0);
        ASSERT_LT(f, K);
        ++sizes[f];
      }
      for (int f = 0; f < K; ++f)  // sklearn's sizes: the first n % K folds get one more
        EXPECT_EQ(sizes[f], n / K + (f < n % K ? 1 : 0)) << "n=" << n << " K=" << K;
    }
  }
}

TEST(ProbesKFold, DeterministicForASeedAndShuffled) {
  Rng a(7), b(7), c(8);
  const auto fa = kfold_assignment(100, 5, a), fb = kfold_assignment(100, 5, b),
             fc = kfold_assignment(100, 5, c);
  EXPECT_EQ(fa, fb);
  EXPECT_NE(fa, fc);
  // Shuffled: rows 0..19 are not simply fold 0.
  EXPECT_FALSE(std::all_of(fa.begin(), fa.begin() + 20, [](int f) { return f == 0; }));
}

TEST(ProbesKFold, RejectsTooFewRows) {
  Rng rng(0);
  EXPECT_THROW(kfold_assignment(3, 5, rng), std::invalid_argument);
  EXPECT_THROW(kfold_assignment(10, 1, rng), std::invalid_argument);
}

// ---- Least squares -------------------------------------------------------------------

TEST(ProbesLeastSquares, RecoversAnExactAffineMap) {
  const Eigen::MatrixXd X = gaussian_matrix(50, 5, 1);
  Eigen::VectorXd w(5);
  w << 1.0, -2.0, 0.5, 3.0, 0.0;
  const Eigen::VectorXd y = (X * w).array() + 7.0;
  const LinearModel m = fit_least_squares(X, y);
  EXPECT_LT((m.w - w).norm(), 1e-10);
  EXPECT_NEAR(m.b, 7.0, 1e-10);
  EXPECT_EQ(m.rank, 5);
}

TEST(ProbesLeastSquares, MinimumNormWhenFeaturesOutnumberRows) {
  const Eigen::MatrixXd X = gaussian_matrix(10, 30, 2);
  const Eigen::VectorXd y = gaussian_matrix(10, 1, 3).col(0);
  const LinearModel m = fit_least_squares(X, y);
  // Interpolates the training rows...
  EXPECT_LT((m.predict(X) - y).norm(), 1e-10);
  // ...and equals the pseudo-inverse solution of the centred problem (an SVD, computed
  // independently), i.e. has no component in the null space.
  const Eigen::MatrixXd Xc = X.rowwise() - X.colwise().mean();
  const Eigen::VectorXd yc = y.array() - y.mean();
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(Xc, Eigen::ComputeThinU | Eigen::ComputeThinV);
  Eigen::VectorXd w_ref = Eigen::VectorXd::Zero(30);
  for (int i = 0; i < svd.singularValues().size(); ++i) {
    const double s = svd.singularValues()(i);
    if (s > 1e-10 * svd.singularValues()(0))
      w_ref += svd.matrixV().col(i) * (svd.matrixU().col(i).dot(yc) / s);
  }
  EXPECT_LT((m.w - w_ref).norm(), 1e-10 * w_ref.norm());
  EXPECT_EQ(m.rank, 9);  // centring removes one dimension
}

TEST(ProbesLeastSquares, RidgePrimalAndDualMatchTheClosedForm) {
  for (auto [n, d] : {std::pair{40, 8}, std::pair{8, 40}}) {  // primal, then dual path
    const Eigen::MatrixXd X = gaussian_matrix(n, d, 4);
    const Eigen::VectorXd y = gaussian_matrix(n, 1, 5).col(0);
    const double lambda = 0.3;
    const LinearModel m = fit_least_squares(X, y, lambda);
    const Eigen::RowVectorXd xm = X.colwise().mean();
    const Eigen::MatrixXd Xc = X.rowwise() - xm;
    const Eigen::VectorXd yc = y.array() - y.mean();
    const Eigen::MatrixXd A =
        Xc.transpose() * Xc + lambda * Eigen::MatrixXd::Identity(d, d);
    const Eigen::VectorXd w_ref = A.fullPivLu().solve(Xc.transpose() * yc);
    EXPECT_LT((m.w - w_ref).norm(), 1e-10 * w_ref.norm()) << "n=" << n << " d=" << d;
    EXPECT_NEAR(m.b, y.mean() - xm.dot(w_ref), 1e-10);
  }
}

// ---- Logistic regression ---------------------------------------------------------------

// The gradient of J (linalg.h) at (w, b), written out again: zero at the optimum.
Eigen::VectorXd logistic_gradient(const Eigen::MatrixXd& X, const Eigen::VectorXd& y,
                                  const LogisticModel& m, double l2) {
  const Eigen::VectorXd z = m.decision(X);
  Eigen::VectorXd r(z.size());
  for (Eigen::Index i = 0; i < z.size(); ++i) r(i) = 1.0 / (1.0 + std::exp(-z(i))) - y(i);
  Eigen::VectorXd g(X.cols() + 1);
  g.head(X.cols()) = X.transpose() * r / double(X.rows()) + l2 * m.w;
  g(X.cols()) = r.mean();
  return g;
}

TEST(ProbesLogistic, SeparatesASeparableSetPerfectlyAndStaysFinite) {
  // Two clusters on either side of x0 + x1 = 1, with a clear margin.
  Rng rng(11);
  const int n = 60;
  Eigen::MatrixXd X(n, 2);
  Eigen::VectorXd y(n);
  for (int i = 0; i < n; ++i) {
    y(i) = i % 2;
    const double side = y(i) > 0 ? 1.0 : -1.0;
    X(i, 0) = 0.5 + side * (0.5 + rng.uniform()) + 0.3 * rng.normal();
    X(i, 1) = 0.5 + side * (0.5 + rng.uniform()) - 0.3 * rng.normal();
  }
  LogisticOptions opt;
  opt.l2 = 1e-6;
  const LogisticModel m = fit_logistic(X, y, opt);
  EXPECT_TRUE(m.converged) << m.iterations << " iterations";
  EXPECT_TRUE(m.w.allFinite() && std::isfinite(m.b));
  const Eigen::VectorXd z = m.decision(X);
  for (int i = 0; i < n; ++i) EXPECT_EQ(z(i) > 0, y(i) > 0.5) << "row " << i;
  EXPECT_LT(m.w.norm(), 1e3);  // λ > 0 keeps the weights bounded
  EXPECT_LT(logistic_gradient(X, y, m, opt.l2).lpNorm<Eigen::Infinity>(), 1e-9);
}

TEST(ProbesLogistic, WideProblemIsSolvedExactlyInTheRowSpace) {
  // d > n with random labels: separable, and exercises the row-space reduction.
  const int n = 30, d = 200;
  const Eigen::MatrixXd X = gaussian_matrix(n, d, 12);
  Eigen::VectorXd y(n);
  Rng rng(13);
  for (int i = 0; i < n; ++i) y(i) = rng.bernoulli(0.5) ? 1.0 : 0.0;
  LogisticOptions opt;
  opt.l2 = 1e-2;
  const LogisticModel m = fit_logistic(X, y, opt);
  EXPECT_TRUE(m.converged);
  // Optimal in all d dimensions, not only in the reduced ones.
  EXPECT_LT(logistic_gradient(X, y, m, opt.l2).lpNorm<Eigen::Infinity>(), 1e-9);
  const Eigen::VectorXd z = m.decision(X);
  for (int i = 0; i < n; ++i) EXPECT_EQ(z(i) > 0, y(i) > 0.5);
}

// ---- absolute_position -------------------------------------------------------------------

TEST(ProbesAbsolute, SinusoidalPositionsAreRecoveredExactly) {
  const Eigen::MatrixXd P = sinusoidal_matrix(512, 768);
  const AbsoluteResult r = absolute_position_probe(P, {});
  std::cout << "[ sinusoidal 512x768 ] absolute mae = " << r.mae << ", r2 = " << r.r2 << "\n";
  EXPECT_LT(r.mae, 0.005);  // 0.00 to two decimals
  EXPECT_GT(r.r2, 0.9999);
  EXPECT_EQ(r.positions.size(), 512u);
}

// Chance level. Rows are i.i.d. N(0, I_d), L = 512, d = 768, K = 5, so each training fold
// has n ≈ L(K−1)/K = 409.6 rows and d > n: the minimum-norm fit interpolates them. For a
// held-out row x (independent of the training rows) the prediction is
//     ŷ = ȳ + (x − x̄)·w,   w = Xcᵀ(XcXcᵀ)⁺yc,
// and given the training data (x − x̄)·w ~ N(0, (1 + 1/n)‖w‖²). XcXcᵀ on the (n−1)-dim
// centred subspace is Wishart with d degrees of freedom, E[inverse] = I/(d − n), so
// ‖w‖² ≈ ‖yc‖²/(d − n) = n·s²/(d − n), with s² = (L² − 1)/12 the variance of uniform
// positions 0..L−1. Hence the held-out error is (ȳ − k) + ε, ε ~ N(0, τ²),
// τ² = (n + 1)s²/(d − n) (τ ≈ 158 here), and
//     E[MAE] ≈ (1/L) Σ_k E|k − ȳ + ε|,   E|t + ε| = τ[2φ(t/τ) + (t/τ)(2Φ(t/τ) − 1)],
// ≈ 175 for these sizes (rounding changes it by far less than the tolerance). Predicting
// the mean alone (the d → ∞ limit) would give L/4 = 128; the extra is the interpolation
// noise. R² ≈ −τ²/s² = −(n + 1)/(d − n) ≈ −1.15. Over seeds, scikit-learn gives MAE
// 172..182 and R² −1.08..−1.34, so we allow ±8% and ±0.3.
TEST(ProbesAbsolute, RandomRowsGiveTheDerivedChanceLevel) {
  const int L = 512, d = 768, K = 5;
  const Eigen::MatrixXd P = gaussian_matrix(L, d, 2020);
  const AbsoluteResult r = absolute_position_probe(P, {});

  const double n = double(L) * (K - 1) / K, s2 = (double(L) * L - 1) / 12.0;
  const double tau = std::sqrt((n + 1) * s2 / (d - n)), mean_k = (L - 1) / 2.0;
  double expected_mae = 0.0;
  for (int k = 0; k < L; ++k) {
    const double t = (k - mean_k) / tau;
    const double phi = std::exp(-0.5 * t * t) / std::sqrt(2 * M_PI);
    const double Phi = 0.5 * std::erfc(-t / std::sqrt(2.0));
    expected_mae += tau * (2 * phi + t * (2 * Phi - 1)) / L;
  }
  const double expected_r2 = -(n + 1) / (d - n);
  std::cout << "[ random 512x768 ] absolute mae = " << r.mae << " (derived " << expected_mae
            << ", mean-only L/4 = " << L / 4 << "), r2 = " << r.r2 << " (derived "
            << expected_r2 << ")\n";
  EXPECT_NEAR(r.mae, expected_mae, 0.08 * expected_mae);
  EXPECT_NEAR(r.r2, expected_r2, 0.3);
}

TEST(ProbesAbsolute, SubsampleAndRidge) {
  const Eigen::MatrixXd P = sinusoidal_matrix(200, 64);
  AbsoluteOptions opt;
  opt.max_positions = 50;
  opt.seed = 3;
  const AbsoluteResult r = absolute_position_probe(P, opt);
  ASSERT_EQ(r.positions.size(), 50u);
  EXPECT_TRUE(std::is_sorted(r.positions.begin(), r.positions.end()));
  EXPECT_EQ(std::set<int>(r.positions.begin(), r.positions.end()).size(), 50u);
  EXPECT_GT(r.positions.back(), 100);  // a spread-out subset, not the first 50
  opt.ridge = 1e-6;
  const AbsoluteResult rr = absolute_position_probe(P, opt);
  EXPECT_EQ(rr.positions, r.positions);  // same subset and folds for the same seed
  EXPECT_EQ(rr.fold, r.fold);
  EXPECT_LT(rr.mae, 2.0);
  EXPECT_THROW(absolute_position_probe(P.topRows(3), {}), std::invalid_argument);
}

// ---- relative_position -------------------------------------------------------------------

TEST(ProbesRelative, SinusoidalOrderIsLinearlyDecodable) {
  const Eigen::MatrixXd P = sinusoidal_matrix(128, 64);
  const RelativeResult r = relative_position_probe(P, {});
  std::cout << "[ sinusoidal 128x64 ] relative error = " << r.error_rate
            << ", train error = " << r.train_error_rate << "\n";
  EXPECT_EQ(r.first.size(), 2000u);
  EXPECT_TRUE(r.converged);
  EXPECT_LT(r.error_rate, 0.02);
  EXPECT_LE(r.train_error_rate, r.error_rate + 1e-12);
}

TEST(ProbesRelative, PairsAreDistinctOrderedAndDeterministic) {
  const Eigen::MatrixXd P = gaussian_matrix(30, 8, 5);
  RelativeOptions opt;
  opt.pairs = 500;  // more than half of the 870 ordered pairs: the dense sampler
  const RelativeResult a = relative_position_probe(P, opt), b = relative_position_probe(P, opt);
  EXPECT_EQ(a.first, b.first);
  EXPECT_EQ(a.second, b.second);
  EXPECT_EQ(a.fold, b.fold);
  std::set<std::pair<int, int>> seen;
  for (std::size_t p = 0; p < a.first.size(); ++p) {
    EXPECT_NE(a.first[p], a.second[p]);
    EXPECT_TRUE(seen.insert({a.first[p], a.second[p]}).second) << "repeated pair";
  }
  opt.pairs = 5000;  // more than exist: all of them
  EXPECT_EQ(relative_position_probe(P, opt).first.size(), 870u);
}

TEST(ProbesRelative, RandomVectorsAreAtChanceOnlyWhenTheyCannotBeMemorised) {
  RelativeOptions opt;
  opt.pairs = 800;
  // Few dimensions for many positions: no linear score orders them well, so near chance
  // (0.5; the standard error for 800 pairs is 0.018, and the best of 16 random directions
  // correlates a little with position, which pulls the error slightly below 0.5).
  const double narrow = relative_position_probe(gaussian_matrix(512, 16, 6), opt).error_rate;
  EXPECT_NEAR(narrow, 0.5, 0.08);
  // d ≥ L: random vectors are linearly independent, so w can give each position any score,
  // including its index, learnt from the training pairs (held-out pairs reuse the same
  // positions). Far below 0.5 although the vectors carry no order at all.
  const double wide = relative_position_probe(gaussian_matrix(64, 128, 6), opt).error_rate;
  std::cout << "[ random ] relative error 512x16 = " << narrow << ", 64x128 = " << wide << "\n";
  EXPECT_LT(wide, 0.25);
}

// ---- similarity -----------------------------------------------------------------------

TEST(ProbesSimilarity, SinusoidalCosineDependsOnlyOnDistance) {
  // Each row has norm √(d/2), so cos(i, j) = (2/d) Σ_m cos((i − j)·ω_m), ω_m = n^(−2m/d).
  const int L = 64, d = 32;
  const SimilarityResult r = similarity_probe(sinusoidal_matrix(L, d), {});
  const auto expected = [&](int delta) {
    double s = 0.0;
    for (int m = 0; m < d / 2; ++m) s += std::cos(delta / std::pow(10000.0, 2.0 * m / d));
    return 2.0 * s / d;
  };
  for (int i = 0; i < L; i += 7)
    for (int j = 0; j < L; j += 5) EXPECT_NEAR(r.cosine(i, j), expected(std::abs(i - j)), 1e-12);
  double mean_far = 0.0;
  for (int delta = 0; delta < L; ++delta) {
    EXPECT_NEAR(r.mean_by_distance(delta), expected(delta), 1e-12);
    if (delta >= 1) mean_far += expected(delta) / (L - 1);
  }
  EXPECT_NEAR(r.locality, expected(1) - mean_far, 1e-12);
  EXPECT_GT(r.locality, 0.1);
}

TEST(ProbesSimilarity, RandomRowsHaveNoLocalityAndCapWorks) {
  SimilarityOptions opt;
  opt.max_positions = 100;
  const SimilarityResult r = similarity_probe(gaussian_matrix(300, 512, 9), opt);
  EXPECT_EQ(r.cosine.rows(), 100);
  EXPECT_EQ(r.mean_by_distance.size(), 100);
  EXPECT_NEAR(r.mean_by_distance(0), 1.0, 1e-12);
  EXPECT_NEAR(r.locality, 0.0, 0.02);  // cosines of random vectors are ±1/√512 ≈ ±0.044
}

// ---- GPT-2's learned positions -------------------------------------------------------------

TEST(ProbesGpt2, LearnedPositionsOfTheFirst64Tokens) {
  const Eigen::MatrixXd P = load_gpt2_slice();
  ASSERT_GT(P.size(), 0) << "tests/data/gpt2_wpe_first64.npy is part of the source tree; not found";
  ASSERT_EQ(P.rows(), 64);
  ASSERT_EQ(P.cols(), 768);
  const AbsoluteResult a = absolute_position_probe(P, {});
  const RelativeResult rel = relative_position_probe(P, {});
  const SimilarityResult s = similarity_probe(P, {});
  std::cout << "[ gpt2 wpe 64x768 ] absolute mae = " << a.mae << ", r2 = " << a.r2
            << "; relative error = " << rel.error_rate << " (train " << rel.train_error_rate
            << "); locality = " << s.locality << "\n";
  // Far better than chance (≈ 16 for L = 64) — GPT-2 learned to encode position.
  EXPECT_TRUE(std::isfinite(a.mae));
  EXPECT_LT(a.mae, 3.0);
  EXPECT_GT(a.r2, 0.9);
  // With d = 768 ≥ L = 64 a low relative error is expected even of random vectors (see
  // RandomVectorsAreAtChanceOnlyWhenTheyCannotBeMemorised); this only checks it runs well.
  EXPECT_TRUE(rel.converged);
  EXPECT_LT(rel.error_rate, 0.1);
  EXPECT_GT(s.locality, 0.0);
}

// ---- The registry -----------------------------------------------------------------------

ConfigNode yaml_node(const std::string& text) {
  return ConfigNode(YAML::Load(text), "probes.0", std::make_shared<KeyOrigins>(), "test.yaml");
}

TEST(ProbesRegistry, MatrixProbesAreRegisteredAndRunThroughTheInterface) {
  const auto names = ProbeRegistry::instance().names();
  for (const char* name : {"absolute_position", "relative_position", "similarity"})
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;

  const auto probe = ProbeRegistry::instance().build(
      {"absolute_position", yaml_node("{name: absolute_position, folds: 4, seed: 2}")});
  ProbeInput none;
  EXPECT_FALSE(probe->applies(none));  // no matrix: model-only inputs are skipped

  ProbeInput input;
  input.position_matrix = sinusoidal_matrix(40, 32);
  input.matrix_source = "test";
  ASSERT_TRUE(probe->applies(input));
  const ProbeResult via_registry = probe->run(input);
  AbsoluteOptions opt;
  opt.folds = 4;
  opt.seed = 2;
  const AbsoluteResult direct = absolute_position_probe(*input.position_matrix, opt);
  EXPECT_EQ(via_registry.scalars.at("mae"), direct.mae);
  EXPECT_EQ(via_registry.scalars.at("r2"), direct.r2);
  // Scalar names and array names never collide (both become datasets in one group).
  for (const char* name : {"absolute_position", "relative_position", "similarity"}) {
    const auto p = ProbeRegistry::instance().build({name, yaml_node("{name: x}")});
    const ProbeResult res = p->run(input);
    for (const auto& a : res.arrays) {
      EXPECT_EQ(res.scalars.count(a.name), 0u) << name << ": " << a.name;
      std::size_t size = 1;
      for (auto s : a.shape) size *= s;
      EXPECT_EQ(size, a.data.size()) << name << ": " << a.name;
    }
  }
}

TEST(ProbesRegistry, InconsistentOptionsAreConfigErrors) {
  auto& reg = ProbeRegistry::instance();
  EXPECT_THROW(reg.build({"absolute_position", yaml_node("{name: a, max_positions: 3}")}),
               ConfigError);
  EXPECT_THROW(reg.build({"relative_position", yaml_node("{name: r, l2: 0}")}), ConfigError);
  EXPECT_THROW(reg.build({"relative_position", yaml_node("{name: r, pairs: 3}")}), ConfigError);
  EXPECT_THROW(reg.build({"absolute_position", yaml_node("{name: a, folds: 1}")}), ConfigError);
}

// ---- Dump for scripts/compare_probes_sklearn.py ---------------------------------------------

void write_json_scalars(const std::string& path, const std::map<std::string, double>& values) {
  std::ofstream out(path);
  out.precision(17);
  out << "{";
  bool first = true;
  for (const auto& [key, value] : values) {
    out << (first ? "" : ", ") << "\"" << key << "\": ";
    if (std::isfinite(value)) out << value; else out << "null";
    first = false;
  }
  out << "}\n";
}

void dump_result(const fs::path& dir, const ProbeResult& result,
                 std::map<std::string, double> options) {
  fs::create_directories(dir);
  for (const auto& a : result.arrays) write_npy((dir / (a.name + ".npy")).string(), a.data, a.shape);
  write_json_scalars((dir / "scalars.json").string(), result.scalars);
  write_json_scalars((dir / "options.json").string(), options);
}

// Layout: <dir>/<matrix>/matrix.npy, <dir>/<matrix>/<probe>/<array>.npy,
// <dir>/<matrix>/<probe>/scalars.json and options.json.
TEST(ProbesDump, WritesInputsAndResults) {
  const char* env = std::getenv("POSLAB_PROBE_DUMP");
  if (!env || !*env) GTEST_SKIP() << "set POSLAB_PROBE_DUMP=<dir> to write the comparison dump";
  std::vector<std::pair<std::string, Eigen::MatrixXd>> matrices = {
      {"sinusoidal", sinusoidal_matrix(512, 768)}};
  const Eigen::MatrixXd gpt2 = load_gpt2_slice();
  if (gpt2.size() > 0) matrices.push_back({"gpt2_wpe_first64", gpt2});
  for (const auto& [name, P] : matrices) {
    const fs::path dir = fs::path(env) / name;
    fs::create_directories(dir);
    const NamedArray m = matrix_array("matrix", P, "[L, d]");
    write_npy((dir / "matrix.npy").string(), m.data, m.shape);

    const AbsoluteOptions aopt;
    dump_result(dir / "absolute_position", absolute_position_probe(P, aopt).to_probe_result(),
                {{"folds", aopt.folds}, {"seed", double(aopt.seed)}, {"ridge", aopt.ridge},
                 {"max_positions", aopt.max_positions}});
    const RelativeOptions ropt;
    dump_result(dir / "relative_position", relative_position_probe(P, ropt).to_probe_result(),
                {{"pairs", ropt.pairs}, {"folds", ropt.folds}, {"seed", double(ropt.seed)},
                 {"l2", ropt.l2}});
    RelativeOptions wang_chen;  // Wang & Chen's protocol (relative.py): refitted as they ran it
    wang_chen.protocol = RelativeProtocol::WangChen;
    dump_result(dir / "relative_position_wang_chen",
                relative_position_probe(P, wang_chen).to_probe_result(),
                {{"folds", wang_chen.folds}, {"seed", double(wang_chen.seed)}});
    std::cout << "[ dump ] wrote " << dir << "\n";
  }
}

}  // namespace
}  // namespace poslab
