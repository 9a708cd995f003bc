// hidden — the Wang & Chen (2020) position probes on every layer's hidden states.
//
// Question: where in the network, and how linearly, is position represented? The matrix
//           probes only see schemes that HAVE position vectors (learned, sinusoidal); this
//           one sees every scheme, including those that put position into attention only
//           (RoPE, ALiBi, T5, CoPE) or nowhere (NoPE, where a causal model can still infer
//           position, e.g. by counting through attention).
// Method:   ModelActivations::hidden[l] is the residual stream entering layer l, [B*T, d]
//           (row b*T + t), l = 0 the embedding output and l = layers the final stream.
//           For each l, the hidden states are averaged over the examples per position,
//           giving a "position matrix" M_l [T', d] (row t = mean over the examples b that
//           reach t of h[b, t]; T' and padding: caveat (4)); on it
//           run absolute_position_probe and relative_position_probe (the plain functions
//           in probe.h, same options and defaults as the matrix probes), plus the
//           similarity probe's locality.
//           With per_example: true, the probes are also fitted on the individual rows:
//             absolute — features h[b, t] [d], target t, every real row (t < lengths[b]);
//             relative — sampled triples (b, i, j), i ≠ j, features [h[b,i] ; h[b,j]] [2d],
//                        label j > i (both vectors from the same example).
//           Folds are GROUPED BY EXAMPLE (a seeded K-fold over the B examples; every row of
//           an example lies in the same fold), so a held-out row comes from an example the
//           fit never saw. Ungrouped folds would leak: the other positions of the same
//           example share its content, and the fit could key on that content.
// Metrics:  per layer (arrays [layers+1]): mae, r2 (absolute probe on M_l),
//           relative_error_rate (relative probe on M_l), locality (similarity of M_l's rows
//           by distance); per_example_mae, per_example_r2, per_example_relative_error_rate
//           when per_example is on.
//           Scalars: layers, examples, length (T), probed_length (T'); embedding_mae (layer 0), final_mae
//           (layer `layers`), best_layer (argmin of mae; the lowest layer on ties) and
//           best_layer_mae; embedding_/final_relative_error_rate; baseline_mae (the MAE of
//           always predicting the middle position of T': the "knows nothing" reference,
//           ≈ T'/4);
//           relative_converged (1 if every logistic fit met its tolerance, as in
//           relative_position); with per_example also per_example_embedding_mae,
//           per_example_final_mae, per_example_best_layer, per_example_best_layer_mae,
//           per_example_relative_converged.
//           Cost: per_example fits 2·folds models per layer on B·T rows and `pairs` pairs
//           of 2d features; it is off by default.
// Reading:  mae against baseline_mae: near 0 means position is linearly readable from the
//           layer's mean state; at or above baseline_mae means it is not (held-out
//           predictions of an uninformative fit scatter around the mean, and when d is
//           not far above the training rows the interpolation adds noise, so chance is
//           ABOVE baseline_mae: tests: noise T=32, d=64 -> 13.4 against 8; see the
//           derivation in tests/probes_test.cpp). relative_error_rate: 0.5 is chance. A falling mae across
//           layers shows a model building a position signal it was not given (NoPE,
//           relative schemes); a rising one, a model discarding it.
// Caveats:  (1) The mean over examples keeps whatever is constant across examples at a
//           position — including the task's layout: if a separator always sits at
//           position n, even layer 0 of NoPE "knows" positions near n. Compare against
//           a layout-free task or against per_example. (2) With B examples the mean keeps
//           token noise of size 1/√B; averaging helps the probe, per_example does not.
//           (3) T is the training sequence length and is usually small against d, where
//           the relative probe is weak evidence (see relative_position.cpp): compare
//           layers and schemes rather than reading one number alone.
//           (4) Padding. The probed batch is made at the training length, but examples of
//           one task length can still differ in tokens (counting: a statement takes 1 to 4
//           tokens), and the model also runs on the PAD positions after each example. Only
//           real positions enter (ModelActivations::lengths): row t of M_l is the mean over
//           the examples whose length exceeds t, and M_l keeps the positions that at least
//           min_coverage of the examples reach (a prefix, since padding is on the right):
//           probed_length T' ≤ T. per_example fits use every real row and pairs of real
//           positions of one example. With equal lengths nothing changes (T' = T).
#include <algorithm>
#include <cmath>
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

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct HiddenOptions {
  AbsoluteOptions absolute;
  RelativeOptions relative;
  bool per_example = false;
  double min_coverage = 0.5;
};

// T': the positions t that at least min_coverage·B examples reach (lengths[b] > t). Real
// positions form a prefix of each example, so these form a prefix 0..T'−1.
int probed_length(const ModelActivations& a, double min_coverage) {
  const double need = std::max(1.0, std::ceil(min_coverage * a.examples - 1e-9));
  int T_probed = 0;
  for (int t = 0; t < a.length; ++t) {
    int reach = 0;
    for (int b = 0; b < a.examples; ++b) reach += a.length_of(b) > t;
    if (reach < need) break;
    T_probed = t + 1;
  }
  return T_probed;
}

// M [T', d]: row t = mean over the examples b with lengths[b] > t of hidden row b*T + t
// (PAD positions never enter).
Eigen::MatrixXd position_means(const Eigen::MatrixXd& H, const ModelActivations& a, int T_probed) {
  const int T = a.length;
  Eigen::MatrixXd M = Eigen::MatrixXd::Zero(T_probed, H.cols());
  std::vector<int> count(T_probed, 0);
  for (int b = 0; b < a.examples; ++b) {
    const int n = std::min(a.length_of(b), T_probed);
    M.topRows(n) += H.middleRows(Eigen::Index(b) * T, n);
    for (int t = 0; t < n; ++t) ++count[t];
  }
  for (int t = 0; t < T_probed; ++t) M.row(t) /= double(count[t]);  // count ≥ 1 by T'
  return M;
}

// Fold id of each example (seeded K-fold over examples), shared by both per-example fits.
std::vector<int> example_folds(int B, const HiddenOptions& opt) {
  Rng rng = Rng::derive(opt.absolute.seed, "probe.hidden.per_example.folds");
  return kfold_assignment(B, opt.absolute.folds, rng);
}

struct PerExampleAbsolute {
  double mae = kNaN, r2 = kNaN;
};

// Absolute probe on the real rows of H (row b*T + t, t < lengths[b]), folds grouped by
// example.
PerExampleAbsolute per_example_absolute(const Eigen::MatrixXd& H, const ModelActivations& a,
                                        const std::vector<int>& fold, int folds, double ridge) {
  const int B = a.examples, T = a.length;
  Eigen::VectorXd prediction = Eigen::VectorXd::Zero(Eigen::Index(B) * T);
  for (int f = 0; f < folds; ++f) {
    std::vector<int> train_examples, test_examples;
    for (int b = 0; b < B; ++b) (fold[b] == f ? test_examples : train_examples).push_back(b);
    Eigen::Index rows = 0;
    for (int b : train_examples) rows += a.length_of(b);
    if (rows == 0 || test_examples.empty()) continue;
    Eigen::MatrixXd X(rows, H.cols());
    Eigen::VectorXd y(rows);
    Eigen::Index r = 0;
    for (int b : train_examples) {
      const int n = a.length_of(b);
      X.middleRows(r, n) = H.middleRows(Eigen::Index(b) * T, n);
      for (int t = 0; t < n; ++t) y(r + t) = t;
      r += n;
    }
    const LinearModel model = fit_least_squares(X, y, ridge);
    for (int b : test_examples)
      prediction.segment(Eigen::Index(b) * T, a.length_of(b)) =
          model.predict(H.middleRows(Eigen::Index(b) * T, a.length_of(b)));
  }
  PerExampleAbsolute out;
  double abs_err = 0.0, sq_err = 0.0, sq_dev = 0.0, sum_t = 0.0, rows = 0.0;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < a.length_of(b); ++t) sum_t += t, rows += 1;
  const double mean_t = sum_t / rows;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < a.length_of(b); ++t) {
      const double p = prediction(Eigen::Index(b) * T + t);
      abs_err += std::abs(std::round(p) - t);
      sq_err += (p - t) * (p - t);
      sq_dev += (t - mean_t) * (t - mean_t);
    }
  out.mae = abs_err / rows;
  out.r2 = 1.0 - sq_err / sq_dev;
  return out;
}

// Relative probe on triples (b, i, j) of one example's own vectors (i ≠ j both real,
// < n_b = lengths[b]), folds grouped by example. Triples are sampled without replacement
// among the Σ_b n_b(n_b − 1) possible (all if fewer). Returns the out-of-fold error rate;
// *converged is cleared if a fold's fit did not converge.
double per_example_relative(const Eigen::MatrixXd& H, const ModelActivations& a,
                            const std::vector<int>& fold, const RelativeOptions& opt,
                            bool* converged) {
  const int B = a.examples, T = a.length;
  // offset[b]: the first code of example b; code = offset[b] + i·(n_b−1) + r, j = r
  // (skipping i).
  std::vector<std::int64_t> offset(B + 1, 0);
  for (int b = 0; b < B; ++b) {
    const std::int64_t n = a.length_of(b);
    offset[b + 1] = offset[b] + n * std::max<std::int64_t>(n - 1, 0);
  }
  const std::int64_t total = offset[B];
  std::vector<std::int64_t> codes;
  if (opt.pairs >= total) {
    codes.resize(total);
    for (std::int64_t c = 0; c < total; ++c) codes[c] = c;
  } else {
    Rng rng = Rng::derive(opt.seed, "probe.hidden.per_example.pairs");
    std::unordered_set<std::int64_t> seen;
    // Rejection sampling: fine while pairs is small against total; otherwise a partial
    // shuffle of all codes.
    if (2 * std::int64_t(opt.pairs) <= total) {
      while (std::int64_t(codes.size()) < opt.pairs) {
        const std::int64_t c = std::int64_t(rng.next_u64() % std::uint64_t(total));
        if (seen.insert(c).second) codes.push_back(c);
      }
    } else {
      std::vector<std::int64_t> all(total);
      for (std::int64_t c = 0; c < total; ++c) all[c] = c;
      for (std::int64_t t = 0; t < opt.pairs; ++t)
        std::swap(all[t], all[t + std::int64_t(rng.next_u64() % std::uint64_t(total - t))]);
      codes.assign(all.begin(), all.begin() + opt.pairs);
    }
  }
  const std::size_t N = codes.size();
  std::vector<int> ex(N), first(N), second(N);
  for (std::size_t p = 0; p < N; ++p) {
    ex[p] = int(std::upper_bound(offset.begin(), offset.end(), codes[p]) - offset.begin()) - 1;
    const std::int64_t within = codes[p] - offset[ex[p]];
    const int n = a.length_of(ex[p]);
    first[p] = int(within / (n - 1));
    const int r = int(within % (n - 1));
    second[p] = r < first[p] ? r : r + 1;
  }
  const Eigen::Index d = H.cols();
  const auto build = [&](const std::vector<std::size_t>& rows, Eigen::MatrixXd& X, Eigen::VectorXd& y) {
    X.resize(Eigen::Index(rows.size()), 2 * d);
    y.resize(Eigen::Index(rows.size()));
    for (std::size_t k = 0; k < rows.size(); ++k) {
      const std::size_t p = rows[k];
      X.row(k).head(d) = H.row(Eigen::Index(ex[p]) * T + first[p]);
      X.row(k).tail(d) = H.row(Eigen::Index(ex[p]) * T + second[p]);
      y(k) = second[p] > first[p] ? 1.0 : 0.0;
    }
  };
  LogisticOptions lopt;
  lopt.l2 = opt.l2;
  int wrong = 0, scored = 0;
  for (int f = 0; f < opt.folds; ++f) {
    std::vector<std::size_t> train, test;
    for (std::size_t p = 0; p < N; ++p) (fold[ex[p]] == f ? test : train).push_back(p);
    if (train.empty() || test.empty()) continue;  // few pairs: a fold may hold none
    Eigen::MatrixXd X;
    Eigen::VectorXd y;
    build(train, X, y);
    const LogisticModel model = fit_logistic(X, y, lopt);
    *converged = *converged && model.converged;
    build(test, X, y);
    const Eigen::VectorXd decision = model.decision(X);
    for (Eigen::Index k = 0; k < decision.size(); ++k) wrong += (decision(k) > 0) != (y(k) > 0.5);
    scored += int(test.size());
  }
  return scored > 0 ? double(wrong) / scored : kNaN;
}

// Index of the smallest finite value (the first on ties), or −1 if none is finite.
int argmin(const std::vector<double>& v) {
  int best = -1;
  for (int i = 0; i < int(v.size()); ++i)
    if (std::isfinite(v[i]) && (best < 0 || v[i] < v[best])) best = i;
  return best;
}

NamedArray layer_array(const std::string& name, const std::vector<double>& v,
                       const std::string& description) {
  return {name, v, {v.size()}, description};
}

class HiddenProbe : public Probe {
 public:
  explicit HiddenProbe(const Options& o) {
    opt_.absolute.folds = opt_.relative.folds = o.get_int("folds");
    opt_.absolute.seed = opt_.relative.seed = std::uint64_t(o.get_int("seed"));
    opt_.absolute.ridge = o.get_float("ridge");
    opt_.relative.pairs = o.get_int("pairs");
    opt_.relative.l2 = o.get_float("l2");
    opt_.per_example = o.get_bool("per_example");
    opt_.min_coverage = o.get_float("min_coverage");
    if (!(opt_.min_coverage > 0 && opt_.min_coverage <= 1))
      o.node("min_coverage").fail("expected a fraction in (0, 1], got " +
                                  std::to_string(opt_.min_coverage));
    if (!(opt_.relative.l2 > 0))
      o.node("l2").fail("expected a number > 0 (it keeps separable pairs finite), got " +
                        std::to_string(opt_.relative.l2));
    if (opt_.relative.pairs < opt_.relative.folds)
      o.node("pairs").fail("expected at least folds (" + std::to_string(opt_.relative.folds) +
                           "), got " + std::to_string(opt_.relative.pairs));
  }

  bool applies(const ProbeInput& in) const override {
    if (!in.activations || in.activations->hidden.empty()) return false;
    const ModelActivations& a = *in.activations;
    const int folds = opt_.absolute.folds;
    if (a.examples < 1 || a.length < 1) return false;
    if (!a.lengths.empty()) {
      if (a.lengths.size() != std::size_t(a.examples)) return false;
      for (int n : a.lengths)
        if (n < 0 || n > a.length) return false;
    }
    if (probed_length(a, opt_.min_coverage) < folds) return false;  // T' rows into K folds
    for (const auto& H : a.hidden)
      if (H.rows() != std::int64_t(a.examples) * a.length || H.cols() < 1) return false;
    return !opt_.per_example || a.examples >= folds;  // grouped folds need K examples
  }

  ProbeResult run(const ProbeInput& in) const override {
    const ModelActivations& a = *in.activations;
    const int B = a.examples, T = a.length, layers = int(a.hidden.size()) - 1;
    const int T_probed = probed_length(a, opt_.min_coverage);
    std::vector<double> mae, r2, rel, locality, ex_mae, ex_r2, ex_rel;
    bool rel_converged = true, ex_rel_converged = true;
    const std::vector<int> fold = opt_.per_example ? example_folds(B, opt_) : std::vector<int>{};
    for (const Eigen::MatrixXd& H : a.hidden) {
      if (H.rows() != std::int64_t(B) * T)
        throw std::invalid_argument("hidden: a layer's hidden states are not [B*T, d]");
      const Eigen::MatrixXd M = position_means(H, a, T_probed);  // [T', d]
      const AbsoluteResult abs = absolute_position_probe(M, opt_.absolute);
      mae.push_back(abs.mae);
      r2.push_back(abs.r2);
      const RelativeResult relative = relative_position_probe(M, opt_.relative);
      rel.push_back(relative.error_rate);
      rel_converged = rel_converged && relative.converged;
      locality.push_back(similarity_probe(M, {}).locality);
      if (opt_.per_example) {
        const PerExampleAbsolute e =
            per_example_absolute(H, a, fold, opt_.absolute.folds, opt_.absolute.ridge);
        ex_mae.push_back(e.mae);
        ex_r2.push_back(e.r2);
        ex_rel.push_back(per_example_relative(H, a, fold, opt_.relative, &ex_rel_converged));
      }
    }

    ProbeResult out;
    out.scalars["layers"] = layers;
    out.scalars["examples"] = B;
    out.scalars["length"] = T;
    out.scalars["probed_length"] = T_probed;
    double baseline = 0.0;  // always predicting round((T'−1)/2)
    for (int t = 0; t < T_probed; ++t) baseline += std::abs(std::round((T_probed - 1) / 2.0) - t);
    out.scalars["baseline_mae"] = baseline / T_probed;
    out.scalars["embedding_mae"] = mae.front();
    out.scalars["final_mae"] = mae.back();
    out.scalars["embedding_relative_error_rate"] = rel.front();
    out.scalars["final_relative_error_rate"] = rel.back();
    out.scalars["relative_converged"] = rel_converged ? 1.0 : 0.0;
    const int best = argmin(mae);
    out.scalars["best_layer"] = best;
    out.scalars["best_layer_mae"] = best >= 0 ? mae[best] : kNaN;

    const std::string per_layer = "[layers+1] per layer l (0 = embedding output, layers = final stream), ";
    out.arrays.push_back(layer_array("mae", mae, per_layer + "absolute probe MAE on the mean hidden state per position"));
    out.arrays.push_back(layer_array("r2", r2, per_layer + "absolute probe out-of-fold R^2 on the mean hidden state per position"));
    out.arrays.push_back(layer_array("relative_error_rate", rel, per_layer + "relative probe error rate on the mean hidden state per position (0.5 = chance)"));
    out.arrays.push_back(layer_array("locality", locality, per_layer + "similarity locality of the mean hidden states per position"));
    if (opt_.per_example) {
      out.scalars["per_example_embedding_mae"] = ex_mae.front();
      out.scalars["per_example_final_mae"] = ex_mae.back();
      const int ex_best = argmin(ex_mae);
      out.scalars["per_example_best_layer"] = ex_best;
      out.scalars["per_example_best_layer_mae"] = ex_best >= 0 ? ex_mae[ex_best] : kNaN;
      out.scalars["per_example_relative_converged"] = ex_rel_converged ? 1.0 : 0.0;
      const std::string grouped = ", on each example's own hidden vectors, folds grouped by example";
      out.arrays.push_back(layer_array("per_example_mae", ex_mae, per_layer + "absolute probe MAE" + grouped));
      out.arrays.push_back(layer_array("per_example_r2", ex_r2, per_layer + "absolute probe out-of-fold R^2" + grouped));
      out.arrays.push_back(layer_array("per_example_relative_error_rate", ex_rel, per_layer + "relative probe error rate" + grouped));
    }
    return out;
  }

 private:
  HiddenOptions opt_;
};

using Type = OptionSpec::Type;
POSLAB_REGISTER_PROBE(
    HiddenProbe, "hidden",
    "absolute/relative position probes on each layer's hidden states (mean over examples per position)",
    (std::vector<OptionSpec>{
        {"folds", Type::Int, "5", "cross-validation folds", 2},
        {"seed", Type::Int, "0", "seed for the folds and the pairs", 0},
        {"ridge", Type::Float, "0", "ridge penalty of the absolute probe (0 = minimum-norm least squares)", 0},
        {"pairs", Type::Int, "2000", "ordered pairs (i, j) for the relative probe", 2},
        {"l2", Type::Float, "0.001", "L2 penalty of the relative probe's logistic regression (> 0)", 0},
        {"per_example", Type::Bool, "false", "also fit on each example's own rows (folds grouped by example)"},
        {"min_coverage", Type::Float, "0.5",
         "probe the positions that at least this fraction of the examples reach (padding excluded)", 0, 1},
    }))
POSLAB_PROBE_KNOWN_ANSWERS(HiddenProbe, "hidden",
                           {KnownInput::PositionalActivations, "embedding_mae", 0.0, 1.0},
                           {KnownInput::PositionalActivations, "final_relative_error_rate", 0.0, 0.05},
                           {KnownInput::PositionlessActivations, "embedding_mae", 8.0, 32.0},
                           {KnownInput::PositionlessActivations, "final_relative_error_rate", 0.15, 0.6})

}  // namespace
}  // namespace poslab
