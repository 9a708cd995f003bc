// extrapolation — does the model still work on sequences longer than it was trained on?
//
// Question: how much of its accuracy does a trained model keep beyond its training length
//           (the length-generalisation question that motivates most position schemes)?
// Method:   none of its own: it reads the evaluator's table (EvalTable: one entry per
//           evaluated task length) and summarises it. Lengths are in the task's own unit
//           (e.g. the number of items to copy); sequence_length is the model's T.
// Metrics:  arrays length, sequence_length, loss, token_accuracy, exact_match (as
//           evaluated, in the evaluator's order). Scalars:
//             train_length              the longest training length (task unit);
//             accuracy_at_train_length  token accuracy at the evaluated length equal to
//                                       train_length, or else at the longest evaluated
//                                       length below it (NaN if none);
//             accuracy_at_longest       token accuracy at the longest evaluated length;
//             longest_length            that length;
//             extrapolation_ratio       accuracy_at_longest / accuracy_at_train_length,
//                                       defined only when longest_length > train_length
//                                       and accuracy_at_train_length > 0 (else NaN);
//           and loss_at_/exact_match_at_ train_length and longest likewise (exact_match is
//           NaN for tasks without it).
// Reading:  extrapolation_ratio 1: no loss of accuracy at the longest length; near 0: the
//           model fails there. It is a ratio of token accuracies, so compare it with the
//           task's chance accuracy (e.g. 1/vocabulary for copy): a ratio equal to
//           chance/accuracy_at_train_length means complete failure. NaN means it was not
//           measured (no evaluated length beyond training, or no accuracy at training).
#include <cmath>
#include <limits>
#include <string>

#include "probes/probe.h"

namespace poslab {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double at(const std::vector<double>& v, int index) {
  return index >= 0 && index < int(v.size()) ? v[index] : kNaN;
}

class ExtrapolationProbe : public Probe {
 public:
  explicit ExtrapolationProbe(const Options&) {}

  bool applies(const ProbeInput& in) const override {
    return in.evaluation && !in.evaluation->length.empty();
  }

  ProbeResult run(const ProbeInput& in) const override {
    const EvalTable& e = *in.evaluation;
    const int n = int(e.length.size());
    // The entry at the training length (else the longest evaluated length below it), and
    // the longest evaluated entry; the evaluator's order is not assumed sorted.
    int train = -1, longest = -1;
    for (int k = 0; k < n; ++k) {
      const double len = e.length[k];
      if (len <= e.train_length && (train < 0 || len > e.length[train])) train = k;
      if (longest < 0 || len > e.length[longest]) longest = k;
    }

    ProbeResult out;
    out.scalars["train_length"] = e.train_length;
    out.scalars["longest_length"] = at(e.length, longest);
    out.scalars["accuracy_at_train_length"] = at(e.token_accuracy, train);
    out.scalars["accuracy_at_longest"] = at(e.token_accuracy, longest);
    out.scalars["loss_at_train_length"] = at(e.loss, train);
    out.scalars["loss_at_longest"] = at(e.loss, longest);
    out.scalars["exact_match_at_train_length"] = at(e.exact_match, train);
    out.scalars["exact_match_at_longest"] = at(e.exact_match, longest);
    const double base = at(e.token_accuracy, train), far = at(e.token_accuracy, longest);
    const bool measured = longest >= 0 && e.length[longest] > e.train_length;
    out.scalars["extrapolation_ratio"] =
        measured && base > 0 && std::isfinite(base) && std::isfinite(far) ? far / base : kNaN;

    const auto series = [&](const char* name, const std::vector<double>& v, const char* what) {
      out.arrays.push_back({name, v, {v.size()}, std::string("[lengths] ") + what});
    };
    series("length", e.length, "evaluated task length (the task's own unit)");
    series("sequence_length", e.sequence_length, "model sequence length T at that task length");
    series("loss", e.loss, "nats per scored token");
    series("token_accuracy", e.token_accuracy, "fraction of scored tokens right");
    series("exact_match", e.exact_match, "fraction of examples with every scored token right (NaN if the task has none)");
    return out;
  }
};

POSLAB_REGISTER_PROBE(ExtrapolationProbe, "extrapolation",
                      "loss and accuracies per evaluation length; accuracy kept beyond the training length",
                      (std::vector<OptionSpec>{}))
POSLAB_PROBE_KNOWN_ANSWERS(ExtrapolationProbe, "extrapolation",
                           {KnownInput::FlatEvaluation, "extrapolation_ratio", 0.999, 1.001},
                           {KnownInput::CollapsingEvaluation, "extrapolation_ratio", 0.11, 0.112},
                           {KnownInput::CollapsingEvaluation, "loss_at_longest", 3.0, 3.0})

}  // namespace
}  // namespace poslab
