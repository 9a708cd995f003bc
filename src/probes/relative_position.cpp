// relative_position — the relative position probe of Wang & Chen (2020), "What do position
// embeddings learn? An empirical study of pre-trained language model positional encoding".
//
// Question: do two positions' vectors tell, by a linear rule, which position comes first?
// Method:   sample `pairs` ordered pairs (i, j), i ≠ j, uniformly without replacement (all
//           L(L−1) pairs if fewer than requested); features [P_i ; P_j] (2d), label 1 when
//           j > i. L2-regularised logistic regression with an unpenalised intercept,
//           minimising mean log-loss + (l2/2)‖w‖² (fit_logistic in linalg.h; equal to
//           scikit-learn's C = 1/(n_train·l2)). Features are used as they are (no
//           standardisation), so l2 is relative to the scale of P. Seeded K-fold
//           cross-validation over pairs.
// Metrics:  error_rate — out-of-fold fraction of pairs misclassified; train_error_rate —
//           the mean over folds of the error on that fold's training pairs. converged —
//           1 if every fold's fit met its gradient tolerance.
// Reading:  0.5 is chance and 0 means order is linearly decodable from the two vectors.
//           Caveat: held-out pairs are new combinations of positions that also occur in
//           training pairs, so the classifier can learn a score per position. When d is
//           large against L (d ≥ L: the vectors are linearly independent), even random
//           vectors reach a low error this way (tests: random 64x128 -> about 0.1). Judge
//           an error rate against random vectors of the same L and d; a low train error
//           with a high held-out error means the classifier memorised pairs.
// Arrays:   pairs [N, 2] (i, j), fold [N], decision [N] (out-of-fold w·x + b), so that the
//           identical pairs and folds can be refitted elsewhere.
//
// protocol: wang_chen — the protocol of the authors' released script (MiuLab/PE-Study,
//           relative.py; facts read there): as many pairs as positions (N = L; they cut P
//           to its first 512 rows), drawn without replacement from all L² ordered pairs
//           INCLUDING i = j (label 0: "j > i" is false); scikit-learn's
//           LogisticRegression with its defaults (L2, C = 1, intercept unpenalised, lbfgs,
//           max_iter 1000), i.e. per fold mean log-loss + (1/(2·C·n_train))‖w‖²; and
//           cross_val_score(cv = 5), i.e. scikit-learn's StratifiedKFold WITHOUT shuffling
//           over the pairs in the order drawn, the error being the mean of the five fold
//           error rates. Their permutation is unseeded; ours comes from `seed`. `pairs`
//           and `l2` are not used. We fit to our tolerance where lbfgs stops at its own
//           (tol 1e-4): decisions can differ slightly, labels almost never
//           (scripts/compare_probes_sklearn.py checks it).
//           At 512 × 768 this gives the sinusoid about twice poslab's default error: far
//           fewer pairs (512 against 2000) and a much stronger penalty (λ ≈ 1/410 against
//           1e-3).
//
// Speed: every pair's features lie in the row space of P twice over, so with d > L we fit
// on P·V (V an orthonormal basis of P's row space, [d, L]) instead of P: an exact
// reduction of the L2 problem from 2d to 2L features (same argument as in fit_logistic).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_set>

#include "core/rng.h"
#include "probes/linalg.h"
#include "probes/probe.h"

namespace poslab {
namespace {

// Ordered pair number c ∈ [0, L(L−1)) <-> (i, j), i ≠ j: i = c / (L−1), and j runs over
// 0..L−1 skipping i.
void decode_pair(std::int64_t c, int L, int* i, int* j) {
  *i = int(c / (L - 1));
  const int r = int(c % (L - 1));
  *j = r < *i ? r : r + 1;
}

std::vector<std::int64_t> sample_pairs(int L, int wanted, std::uint64_t seed) {
  const std::int64_t total = std::int64_t(L) * (L - 1);
  std::vector<std::int64_t> codes;
  if (wanted >= total) {  // every pair, in order
    codes.resize(total);
    for (std::int64_t c = 0; c < total; ++c) codes[c] = c;
    return codes;
  }
  Rng rng = Rng::derive(seed, "probe.relative_position.pairs");
  const auto below = [&](std::int64_t bound) {
    return std::int64_t(rng.next_u64() % std::uint64_t(bound));
  };
  if (2 * std::int64_t(wanted) <= total) {  // sparse: draw and reject repeats
    std::unordered_set<std::int64_t> seen;
    while (std::int64_t(codes.size()) < wanted) {
      const std::int64_t c = below(total);
      if (seen.insert(c).second) codes.push_back(c);
    }
  } else {  // dense: the first `wanted` entries of a partial Fisher–Yates shuffle
    std::vector<std::int64_t> all(total);
    for (std::int64_t c = 0; c < total; ++c) all[c] = c;
    for (std::int64_t t = 0; t < wanted; ++t) std::swap(all[t], all[t + below(total - t)]);
    codes.assign(all.begin(), all.begin() + wanted);
  }
  return codes;
}

std::vector<double> as_doubles(const std::vector<int>& v) { return {v.begin(), v.end()}; }

// Wang & Chen: N = L distinct codes c ∈ [0, L²) in the order drawn, (i, j) = (c / L, c % L).
std::vector<std::int64_t> sample_grid_pairs(int L, std::uint64_t seed) {
  const std::int64_t total = std::int64_t(L) * L;
  Rng rng = Rng::derive(seed, "probe.relative_position.wang_chen.pairs");
  std::unordered_set<std::int64_t> seen;
  std::vector<std::int64_t> codes;
  while (std::int64_t(codes.size()) < L) {  // L of L² (≥ 2L for L ≥ 2): rejection is cheap
    const std::int64_t c = std::int64_t(rng.next_u64() % std::uint64_t(total));
    if (seen.insert(c).second) codes.push_back(c);
  }
  return codes;
}


}  // namespace

RelativeResult relative_position_probe(const Eigen::MatrixXd& input, const RelativeOptions& options) {
  // Decisions w·x + b are unchanged when P is scaled by s = 2^e and l2 by s^-2 (w scales by
  // 1/s), so a badly scaled P is fitted at scale 1 with its equivalent penalty; if that
  // penalty underflows or overflows, the fit P asks for cannot be computed (see linalg.h).
  const int e = rescale_exponent(input);
  const Eigen::MatrixXd rescaled = e == 0 ? Eigen::MatrixXd() : scale_by_power_of_two(input, e);
  const Eigen::MatrixXd& P = e == 0 ? input : rescaled;
  RelativeOptions opt = options;
  opt.l2 = rescaled_penalty("relative_position", "l2", options.l2, input, e);
  const int L = int(P.rows());
  if (L < 2) throw std::invalid_argument("relative_position: need at least 2 positions");
  RelativeResult result;
  const bool wang_chen = opt.protocol == RelativeProtocol::WangChen;
  result.wang_chen = wang_chen;
  if (wang_chen) {
    for (std::int64_t c : sample_grid_pairs(L, opt.seed)) {
      result.first.push_back(int(c / L));
      result.second.push_back(int(c % L));
    }
  } else {
    for (std::int64_t c : sample_pairs(L, opt.pairs, opt.seed)) {
      int i, j;
      decode_pair(c, L, &i, &j);
      result.first.push_back(i);
      result.second.push_back(j);
    }
  }
  const int N = int(result.first.size());
  if (N < opt.folds || opt.folds < 2)
    throw std::invalid_argument("relative_position: " + std::to_string(N) +
                                " pairs cannot be split into " + std::to_string(opt.folds) +
                                " folds");

  // Q [L, r]: P in coordinates of its row space (exact for the L2 fit; see the header).
  const Eigen::MatrixXd Q = P.cols() > P.rows() ? Eigen::MatrixXd(P * row_space_basis(P)) : P;
  const Eigen::Index r = Q.cols();

  if (wang_chen) {
    std::vector<int> label(N);
    for (int p = 0; p < N; ++p) label[p] = result.second[p] > result.first[p] ? 1 : 0;
    result.fold = stratified_kfold_unshuffled(label, opt.folds);
  } else {
    Rng fold_rng = Rng::derive(opt.seed, "probe.relative_position.folds");
    result.fold = kfold_assignment(N, opt.folds, fold_rng);
  }
  result.decision.resize(N);

  const auto features = [&](const std::vector<int>& rows) {
    Eigen::MatrixXd X(rows.size(), 2 * r);
    for (std::size_t t = 0; t < rows.size(); ++t) {
      X.row(t).head(r) = Q.row(result.first[rows[t]]);
      X.row(t).tail(r) = Q.row(result.second[rows[t]]);
    }
    return X;
  };
  const auto labels = [&](const std::vector<int>& rows) {
    Eigen::VectorXd y(rows.size());
    for (std::size_t t = 0; t < rows.size(); ++t)
      y(t) = result.second[rows[t]] > result.first[rows[t]] ? 1.0 : 0.0;
    return y;
  };

  LogisticOptions lopt;
  lopt.l2 = opt.l2;
  double train_error_sum = 0.0, test_error_sum = 0.0;
  for (int f = 0; f < opt.folds; ++f) {
    std::vector<int> train, test;
    for (int p = 0; p < N; ++p) (result.fold[p] == f ? test : train).push_back(p);
    // scikit-learn's C = 1: C·Σ log-loss + ½‖w‖² = n_train·C·(mean log-loss + λ/2‖w‖²)
    // with λ = 1/(C·n_train), rewritten for the rescaled P like l2 above.
    if (wang_chen)
      lopt.l2 = rescaled_penalty("relative_position", "C", 1.0 / double(train.size()), input, e);
    const Eigen::VectorXd y_train = labels(train);
    const LogisticModel model = fit_logistic(features(train), y_train, lopt);
    result.converged = result.converged && model.converged;

    const Eigen::VectorXd train_decision = model.decision(features(train));
    int wrong = 0;
    for (Eigen::Index t = 0; t < y_train.size(); ++t)
      wrong += (train_decision(t) > 0) != (y_train(t) > 0.5);
    train_error_sum += double(wrong) / double(train.size());

    const Eigen::VectorXd test_decision = model.decision(features(test));
    int test_wrong = 0;
    for (std::size_t t = 0; t < test.size(); ++t) {
      result.decision(test[t]) = test_decision(t);
      test_wrong += (test_decision(t) > 0) != (result.second[test[t]] > result.first[test[t]]);
    }
    test_error_sum += test.empty() ? 0.0 : double(test_wrong) / double(test.size());
  }

  int wrong = 0;
  for (int p = 0; p < N; ++p)
    wrong += (result.decision(p) > 0) != (result.second[p] > result.first[p]);
  // cross_val_score averages the folds' error rates; poslab pools the pairs.
  result.error_rate = wang_chen ? test_error_sum / opt.folds : double(wrong) / N;
  result.train_error_rate = train_error_sum / opt.folds;
  return result;
}

ProbeResult RelativeResult::to_probe_result() const {
  ProbeResult out;
  out.scalars["error_rate"] = error_rate;
  out.scalars["train_error_rate"] = train_error_rate;
  out.scalars["n_pairs"] = double(first.size());
  out.scalars["converged"] = converged ? 1.0 : 0.0;
  out.scalars["wang_chen"] = wang_chen ? 1.0 : 0.0;
  NamedArray pairs{"pairs", {}, {first.size(), 2},
                   "[N, 2] sampled ordered pairs (i, j) of positions; label is j > i"};
  for (std::size_t p = 0; p < first.size(); ++p) {
    pairs.data.push_back(first[p]);
    pairs.data.push_back(second[p]);
  }
  out.arrays.push_back(std::move(pairs));
  out.arrays.push_back({"fold", as_doubles(fold), {fold.size()},
                        "[N] cross-validation fold id (0..K-1) of each pair"});
  out.arrays.push_back({"decision",
                        std::vector<double>(decision.data(), decision.data() + decision.size()),
                        {std::size_t(decision.size())},
                        "[N] out-of-fold decision value w.x + b of each pair (> 0 predicts j > i)"});
  return out;
}

namespace {

class RelativePositionProbe : public Probe {
 public:
  explicit RelativePositionProbe(const Options& o) {
    opt_.pairs = o.get_int("pairs");
    opt_.folds = o.get_int("folds");
    opt_.seed = std::uint64_t(o.get_int("seed"));
    opt_.l2 = o.get_float("l2");
    if (o.get_string("protocol") == "wang_chen") {
      opt_.protocol = RelativeProtocol::WangChen;
      for (const char* unused : {"pairs", "l2"})
        if (o.node(unused).yaml().IsDefined())
          o.node(unused).fail("not used by protocol wang_chen (it takes as many pairs as "
                              "positions and scikit-learn's C = 1); remove it or use protocol "
                              "poslab");
    }
    if (!(opt_.l2 > 0))
      o.node("l2").fail("expected a number > 0 (it keeps separable pairs finite), got " +
                        std::to_string(opt_.l2));
    if (opt_.pairs < opt_.folds)
      o.node("pairs").fail("expected at least folds (" + std::to_string(opt_.folds) +
                           "), got " + std::to_string(opt_.pairs));
  }

  bool applies(const ProbeInput& in) const override {
    if (!in.position_matrix) return false;
    const std::int64_t L = in.position_matrix->rows();
    if (opt_.protocol == RelativeProtocol::WangChen) return L >= 2 && L >= opt_.folds;
    return L >= 2 && std::min<std::int64_t>(opt_.pairs, L * (L - 1)) >= opt_.folds;
  }

  ProbeResult run(const ProbeInput& in) const override {
    return relative_position_probe(*in.position_matrix, opt_).to_probe_result();
  }

 private:
  RelativeOptions opt_;
};

using T = OptionSpec::Type;
POSLAB_REGISTER_PROBE(
    RelativePositionProbe, "relative_position",
    "Wang & Chen 2020: logistic regression on [P_i; P_j] for j > i; K-fold error rate",
    (std::vector<OptionSpec>{
        {"pairs", T::Int, "2000", "ordered pairs (i, j) to sample, without replacement", 2},
        {"folds", T::Int, "5", "cross-validation folds", 2},
        {"seed", T::Int, "0", "seed for the pairs and the folds", 0},
        {"l2", T::Float, "0.001", "L2 penalty: minimise mean log-loss + (l2/2)|w|^2 (> 0)", 0},
        {"protocol", T::String, "poslab",
         "poslab: `pairs` pairs i != j, seeded folds, penalty l2; wang_chen: Wang & Chen's "
         "relative.py (L pairs from all L^2 incl. i = j, unshuffled stratified folds, "
         "scikit-learn's C = 1, mean of fold errors)",
         -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(),
         {"poslab", "wang_chen"}},
    }))
POSLAB_PROBE_KNOWN_ANSWERS(RelativePositionProbe, "relative_position",
                           {KnownInput::SinusoidMatrix, "error_rate", 0.0, 0.05},
                           {KnownInput::RandomMatrix, "error_rate", 0.15, 0.6})

}  // namespace
}  // namespace poslab
