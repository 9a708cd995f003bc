// absolute_position — the absolute position probe of Wang & Chen (2020), "What do
// position embeddings learn? An empirical study of pre-trained language model positional
// encoding".
//
// Question: does the vector of position k carry k itself, in a linearly readable form?
// Method:   features = row k of P [L, d], target = k. Ordinary least squares with an
//           intercept (minimum-norm solution when d exceeds the training rows, as for most
//           real matrices), or ridge with option `ridge` > 0 (fit_least_squares in
//           linalg.h). Seeded K-fold cross-validation over positions: every position is
//           predicted exactly once, by the model fit on the other folds.
// Metrics:  mae — mean |round(prediction) − k| over the held-out predictions (the paper's
//           metric; predictions are rounded to the nearest integer but not clipped to
//           [0, L−1]); r2 — out-of-fold R² of the unrounded predictions over all positions.
// Reading:  mae 0 means every position is recovered exactly (the sinusoidal matrix does
//           this). For vectors that say nothing about position, held-out predictions
//           scatter around the training mean: mae near L/4 or worse and r2 ≤ 0 (see the
//           chance-level derivation in tests/probes_test.cpp). Compare mae with L.
// Arrays:   predictions, positions, fold (so the folds can be reproduced elsewhere).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "core/rng.h"
#include "probes/linalg.h"
#include "probes/probe.h"

namespace poslab {
namespace {

// The rows to probe: all of them, or a seeded random subset of max_positions, ascending.
std::vector<int> chosen_positions(int L, const AbsoluteOptions& opt) {
  std::vector<int> rows(L);
  std::iota(rows.begin(), rows.end(), 0);
  if (opt.max_positions <= 0 || opt.max_positions >= L) return rows;
  Rng rng = Rng::derive(opt.seed, "probe.absolute_position.subsample");
  for (int i = 0; i < opt.max_positions; ++i) std::swap(rows[i], rows[rng.uniform_int(i, L - 1)]);
  rows.resize(opt.max_positions);
  std::sort(rows.begin(), rows.end());
  return rows;
}

std::vector<double> as_doubles(const std::vector<int>& v) { return {v.begin(), v.end()}; }

}  // namespace

AbsoluteResult absolute_position_probe(const Eigen::MatrixXd& input, const AbsoluteOptions& options) {
  // Predictions P w + b are unchanged when P is scaled by s = 2^e and the ridge penalty by
  // s^-2 (w scales by 1/s), so a badly scaled P is fitted at scale 1 (see linalg.h).
  const int e = rescale_exponent(input);
  const Eigen::MatrixXd rescaled = e == 0 ? Eigen::MatrixXd() : scale_by_power_of_two(input, e);
  const Eigen::MatrixXd& P = e == 0 ? input : rescaled;
  AbsoluteOptions opt = options;
  opt.ridge = rescaled_penalty("absolute_position", "ridge", options.ridge, input, e);
  AbsoluteResult result;
  result.positions = chosen_positions(int(P.rows()), opt);
  const int m = int(result.positions.size());
  if (m < opt.folds || opt.folds < 2)
    throw std::invalid_argument("absolute_position: " + std::to_string(m) +
                                " positions cannot be split into " +
                                std::to_string(opt.folds) + " folds");

  Rng fold_rng = Rng::derive(opt.seed, "probe.absolute_position.folds");
  result.fold = kfold_assignment(m, opt.folds, fold_rng);
  result.predictions.resize(m);

  for (int f = 0; f < opt.folds; ++f) {
    std::vector<int> train, test;  // indices into result.positions
    for (int r = 0; r < m; ++r) (result.fold[r] == f ? test : train).push_back(r);

    Eigen::MatrixXd X(train.size(), P.cols());
    Eigen::VectorXd y(train.size());
    for (std::size_t t = 0; t < train.size(); ++t) {
      X.row(t) = P.row(result.positions[train[t]]);
      y(t) = result.positions[train[t]];
    }
    const LinearModel model = fit_least_squares(X, y, opt.ridge);
    for (int r : test) {
      const int k = result.positions[r];
      result.predictions(r) = P.row(k).dot(model.w) + model.b;
    }
  }

  double abs_err = 0.0, sq_err = 0.0, sq_dev = 0.0;
  const double mean_k =
      std::accumulate(result.positions.begin(), result.positions.end(), 0.0) / m;
  for (int r = 0; r < m; ++r) {
    const double k = result.positions[r], pred = result.predictions(r);
    abs_err += std::abs(std::round(pred) - k);
    sq_err += (pred - k) * (pred - k);
    sq_dev += (k - mean_k) * (k - mean_k);
  }
  result.mae = abs_err / m;
  result.r2 = 1.0 - sq_err / sq_dev;
  return result;
}

ProbeResult AbsoluteResult::to_probe_result() const {
  ProbeResult out;
  out.scalars["mae"] = mae;
  out.scalars["r2"] = r2;
  out.scalars["n_positions"] = double(positions.size());
  out.arrays.push_back({"predictions",
                        std::vector<double>(predictions.data(), predictions.data() + predictions.size()),
                        {std::size_t(predictions.size())},
                        "[m] out-of-fold predicted position (unrounded) of each probed position"});
  out.arrays.push_back({"positions", as_doubles(positions), {positions.size()},
                        "[m] the positions (rows of the matrix) probed, ascending"});
  out.arrays.push_back({"fold", as_doubles(fold), {fold.size()},
                        "[m] cross-validation fold id (0..K-1) of each probed position"});
  return out;
}

namespace {

class AbsolutePositionProbe : public Probe {
 public:
  explicit AbsolutePositionProbe(const Options& o) {
    opt_.folds = o.get_int("folds");
    opt_.seed = std::uint64_t(o.get_int("seed"));
    opt_.ridge = o.get_float("ridge");
    opt_.max_positions = o.get_int("max_positions");
    if (opt_.max_positions > 0 && opt_.max_positions < opt_.folds)
      o.node("max_positions")
          .fail("expected 0 or at least folds (" + std::to_string(opt_.folds) + "), got " +
                std::to_string(opt_.max_positions));
  }

  bool applies(const ProbeInput& in) const override {
    if (!in.position_matrix) return false;
    const int L = int(in.position_matrix->rows());
    const int m = opt_.max_positions > 0 ? std::min(L, opt_.max_positions) : L;
    return m >= opt_.folds;
  }

  ProbeResult run(const ProbeInput& in) const override {
    return absolute_position_probe(*in.position_matrix, opt_).to_probe_result();
  }

 private:
  AbsoluteOptions opt_;
};

using T = OptionSpec::Type;
POSLAB_REGISTER_PROBE(
    AbsolutePositionProbe, "absolute_position",
    "Wang & Chen 2020: linear regression from a position's vector to its index; K-fold MAE, R^2",
    (std::vector<OptionSpec>{
        {"folds", T::Int, "5", "cross-validation folds", 2},
        {"seed", T::Int, "0", "seed for the folds and the subsample", 0},
        {"ridge", T::Float, "0", "ridge penalty on the centred fit (0 = minimum-norm least squares)", 0},
        {"max_positions", T::Int, "0", "probe a seeded random subset of this many positions (0 = all)", 0},
    }))
POSLAB_PROBE_KNOWN_ANSWERS(AbsolutePositionProbe, "absolute_position",
                           {KnownInput::SinusoidMatrix, "mae", 0.0, 0.5},
                           {KnownInput::RandomMatrix, "mae", 10.0, 64.0})

}  // namespace
}  // namespace poslab
