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
// Speed: every pair's features lie in the row space of P twice over, so with d > L we fit
// on P·V (V an orthonormal basis of P's row space, [d, L]) instead of P: an exact
// reduction of the L2 problem from 2d to 2L features (same argument as in fit_logistic).
#include <algorithm>
#include <cstdint>
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
  for (std::int64_t c : sample_pairs(L, opt.pairs, opt.seed)) {
    int i, j;
    decode_pair(c, L, &i, &j);
    result.first.push_back(i);
    result.second.push_back(j);
  }
  const int N = int(result.first.size());
  if (N < opt.folds || opt.folds < 2)
    throw std::invalid_argument("relative_position: " + std::to_string(N) +
                                " pairs cannot be split into " + std::to_string(opt.folds) +
                                " folds");

  // Q [L, r]: P in coordinates of its row space (exact for the L2 fit; see the header).
  const Eigen::MatrixXd Q = P.cols() > P.rows() ? Eigen::MatrixXd(P * row_space_basis(P)) : P;
  const Eigen::Index r = Q.cols();

  Rng fold_rng = Rng::derive(opt.seed, "probe.relative_position.folds");
  result.fold = kfold_assignment(N, opt.folds, fold_rng);
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
  double train_error_sum = 0.0;
  for (int f = 0; f < opt.folds; ++f) {
    std::vector<int> train, test;
    for (int p = 0; p < N; ++p) (result.fold[p] == f ? test : train).push_back(p);
    const Eigen::VectorXd y_train = labels(train);
    const LogisticModel model = fit_logistic(features(train), y_train, lopt);
    result.converged = result.converged && model.converged;

    const Eigen::VectorXd train_decision = model.decision(features(train));
    int wrong = 0;
    for (Eigen::Index t = 0; t < y_train.size(); ++t)
      wrong += (train_decision(t) > 0) != (y_train(t) > 0.5);
    train_error_sum += double(wrong) / double(train.size());

    const Eigen::VectorXd test_decision = model.decision(features(test));
    for (std::size_t t = 0; t < test.size(); ++t) result.decision(test[t]) = test_decision(t);
  }

  int wrong = 0;
  for (int p = 0; p < N; ++p)
    wrong += (result.decision(p) > 0) != (result.second[p] > result.first[p]);
  result.error_rate = double(wrong) / N;
  result.train_error_rate = train_error_sum / opt.folds;
  return result;
}

ProbeResult RelativeResult::to_probe_result() const {
  ProbeResult out;
  out.scalars["error_rate"] = error_rate;
  out.scalars["train_error_rate"] = train_error_rate;
  out.scalars["n_pairs"] = double(first.size());
  out.scalars["converged"] = converged ? 1.0 : 0.0;
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
    }))
POSLAB_PROBE_KNOWN_ANSWERS(RelativePositionProbe, "relative_position",
                           {KnownInput::SinusoidMatrix, "error_rate", 0.0, 0.05},
                           {KnownInput::RandomMatrix, "error_rate", 0.15, 0.6})

}  // namespace
}  // namespace poslab
