// relative_position with protocol: wang_chen — the protocol of Wang & Chen's released
// relative.py (MiuLab/PE-Study): L pairs from all L² ordered pairs (i = j included),
// scikit-learn's unshuffled StratifiedKFold, C = 1, error = mean of the fold errors.
// The refit with scikit-learn itself is scripts/compare_probes_sklearn.py on the dump of
// ProbesDump.WritesInputsAndResults (tests/probes_test.cpp).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/rng.h"
#include "io/config.h"
#include "probes/linalg.h"
#include "probe_matrices.h"
#include "probes/probe.h"

namespace poslab {
namespace {

std::unique_ptr<Probe> make_probe(const std::string& yaml) {
  YAML::Node node = YAML::Load(yaml);
  node["name"] = "relative_position";
  return ProbeRegistry::instance().build(PluginSpec{
      "relative_position", ConfigNode(node, "probes.relative_position",
                                      std::make_shared<KeyOrigins>(), "test.yaml")});
}

TEST(StratifiedKFold, EqualsScikitLearn) {
  // Expected folds printed by scikit-learn 1.2.1:
  //   for k, (_, test) in enumerate(StratifiedKFold(K).split(np.zeros(len(y)), y)): f[test] = k
  const std::vector<int> y = {0, 0, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0};
  EXPECT_EQ(stratified_kfold_unshuffled(y, 5),
            (std::vector<int>{0, 0, 0, 1, 0, 1, 1, 1, 2, 2, 3, 4, 2, 4, 3, 3, 4}));
  std::vector<int> flipped;  // the first label seen is now 1: classes go by appearance
  for (int v : y) flipped.push_back(1 - v);
  EXPECT_EQ(stratified_kfold_unshuffled(flipped, 3),
            (std::vector<int>{0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 1, 2, 2, 2, 2}));
  EXPECT_THROW(stratified_kfold_unshuffled({0, 1, 0}, 5), std::invalid_argument);
  EXPECT_THROW(stratified_kfold_unshuffled({0, 2, 0}, 2), std::invalid_argument);
}

TEST(RelativeWangChen, PairsFoldsPenaltyAndErrorAsTheAuthors) {
  const int L = 48;
  const Eigen::MatrixXd P = sinusoidal_matrix(L, 16);
  RelativeOptions opt;
  opt.protocol = RelativeProtocol::WangChen;
  opt.seed = 3;
  const RelativeResult r = relative_position_probe(P, opt);
  EXPECT_TRUE(r.wang_chen);

  // As many pairs as positions, distinct, from the L² grid.
  ASSERT_EQ(r.first.size(), std::size_t(L));
  std::set<std::pair<int, int>> distinct;
  std::vector<int> label;
  for (int p = 0; p < L; ++p) {
    ASSERT_GE(r.first[p], 0);
    ASSERT_LT(r.second[p], L);
    distinct.insert({r.first[p], r.second[p]});
    label.push_back(r.second[p] > r.first[p] ? 1 : 0);
  }
  EXPECT_EQ(distinct.size(), std::size_t(L));
  // Folds: scikit-learn's unshuffled stratified K-fold over the pairs in order.
  EXPECT_EQ(r.fold, stratified_kfold_unshuffled(label, 5));

  // Each fold refitted here with C = 1, i.e. λ = 1/n_train; error = mean of fold errors.
  double error_sum = 0.0;
  for (int f = 0; f < 5; ++f) {
    std::vector<int> train, test;
    for (int p = 0; p < L; ++p) (r.fold[p] == f ? test : train).push_back(p);
    const auto features = [&](const std::vector<int>& rows) {
      Eigen::MatrixXd X(rows.size(), 2 * P.cols());
      for (std::size_t t = 0; t < rows.size(); ++t)
        X.row(t) << P.row(r.first[rows[t]]), P.row(r.second[rows[t]]);
      return X;
    };
    Eigen::VectorXd y(train.size());
    for (std::size_t t = 0; t < train.size(); ++t) y(t) = label[train[t]];
    LogisticOptions lopt;
    lopt.l2 = 1.0 / double(train.size());
    const LogisticModel m = fit_logistic(features(train), y, lopt);
    const Eigen::VectorXd d = m.decision(features(test));
    int wrong = 0;
    for (std::size_t t = 0; t < test.size(); ++t) {
      EXPECT_NEAR(r.decision(test[t]), d(t), 1e-6 * (1 + std::abs(d(t))));
      wrong += (d(t) > 0) != (label[test[t]] == 1);
    }
    error_sum += double(wrong) / double(test.size());
  }
  EXPECT_NEAR(r.error_rate, error_sum / 5, 1e-12);

  // The decisions pin the penalty: poslab's default λ = 1e-3 on fold 0 gives other ones.
  std::vector<int> train0, test0;
  for (int p = 0; p < L; ++p) (r.fold[p] == 0 ? test0 : train0).push_back(p);
  Eigen::MatrixXd X(train0.size(), 2 * P.cols()), Xt(test0.size(), 2 * P.cols());
  Eigen::VectorXd y0(train0.size());
  for (std::size_t t = 0; t < train0.size(); ++t) {
    X.row(t) << P.row(r.first[train0[t]]), P.row(r.second[train0[t]]);
    y0(t) = label[train0[t]];
  }
  for (std::size_t t = 0; t < test0.size(); ++t) Xt.row(t) << P.row(r.first[test0[t]]), P.row(r.second[test0[t]]);
  const Eigen::VectorXd other = fit_logistic(X, y0, LogisticOptions{}).decision(Xt);
  double gap = 0.0;
  for (std::size_t t = 0; t < test0.size(); ++t) gap = std::max(gap, std::abs(other(t) - r.decision(test0[t])));
  EXPECT_GT(gap, 0.1);
}

TEST(RelativeWangChen, DiagonalPairsAreNegatives) {
  // With L = 12, 12 pairs out of 144: over seeds some pair has i = j (label 0: j > i is
  // false).
  const Eigen::MatrixXd P = sinusoidal_matrix(12, 8);
  RelativeOptions opt;
  opt.protocol = RelativeProtocol::WangChen;
  bool seen_diagonal = false;
  for (std::uint64_t seed = 0; seed < 40 && !seen_diagonal; ++seed) {
    opt.seed = seed;
    const RelativeResult r = relative_position_probe(P, opt);
    for (std::size_t p = 0; p < r.first.size(); ++p) seen_diagonal |= r.first[p] == r.second[p];
  }
  EXPECT_TRUE(seen_diagonal) << "pairs i = j belong to the authors' grid of L² pairs";
}

TEST(RelativeWangChen, OptionsAndConfigErrors) {
  const auto probe = make_probe("{protocol: wang_chen}");
  ProbeInput in;
  in.position_matrix = sinusoidal_matrix(40, 16);
  ASSERT_TRUE(probe->applies(in));
  const ProbeResult r = probe->run(in);
  EXPECT_EQ(r.scalars.at("wang_chen"), 1.0);
  EXPECT_EQ(r.scalars.at("n_pairs"), 40.0);
  const auto error = [](const std::string& yaml) -> std::string {
    try {
      make_probe(yaml);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error("{protocol: wang_chen, pairs: 100}").find("relative_position.pairs"), std::string::npos);
  EXPECT_NE(error("{protocol: wang_chen, l2: 0.01}").find("relative_position.l2"), std::string::npos);
  EXPECT_NE(error("{protocol: sklearn}").find("relative_position.protocol"), std::string::npos);
  // Too few positions for the folds: the probe does not apply.
  in.position_matrix = sinusoidal_matrix(4, 8);
  EXPECT_FALSE(probe->applies(in));
}

}  // namespace
}  // namespace poslab
