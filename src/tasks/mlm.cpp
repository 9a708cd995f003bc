// mlm — masked language modelling (BERT-style) on characters of a text file.
//
// Devlin et al. 2019, "BERT", at the character level: the bidirectional counterpart of
// `text`, for comparing positional schemes in encoders (where NoPE has no positional
// signal at all, unlike in a causal model).
//
// Sequence (bidirectional, aligned — no shift): a window of n consecutive characters.
// Each position is selected independently with probability mask_rate (at least one per
// example). A selected position's input becomes MASK with probability 0.8, a uniformly
// random character with probability 0.1, and stays unchanged with probability 0.1.
// Targets are the original characters everywhere; only selected positions are scored.
//   text window    t h e ␣ c a t             (n = 7)
//   selected           ^       ^
//   inputs         t h <mask> ␣ c a t        (the `t` at the end was kept unchanged)
//   targets        t h e ␣ c a t
//   loss mask      0 0 1 0 0 0 1
// Length unit: n, the window length in characters. Model sequence length: n.
// Vocabulary and held-out split as in `text` (see tasks/corpus.h).
// Tokens: 0 PAD, 1 UNK, 2 MASK, 3.. the distinct training characters.
#include "tasks/corpus.h"
#include "tasks/sequence_util.h"

namespace poslab {
namespace {

constexpr std::int32_t kUnknown = 1;
constexpr std::int32_t kMask = 2;
constexpr std::int32_t kFirstChar = 3;

// BERT's split of the selected positions.
constexpr double kReplaceWithMask = 0.8;
constexpr double kReplaceWithRandom = 0.1;  // the remaining 0.1 stay unchanged

class MlmTask : public SequenceTask {
 public:
  explicit MlmTask(const Options& o)
      : SequenceTask(o, 1), corpus_(o), mask_rate_(o.get_float("mask_rate")) {
    corpus_.require(max_train_length());
  }

  // Every window, training or held-out, must fit in its part of the corpus.
  void check_length(int n) const override { corpus_.require(n); }
  int vocab_size() const override { return kFirstChar + corpus_.alphabet_size(); }
  ModelKind kind() const override { return ModelKind::Bidirectional; }
  bool has_exact_match() const override { return false; }
  int sequence_length(int n) const override { return n; }

  std::string token_name(int id) const override {
    if (id == kPad) return "<pad>";
    if (id == kUnknown) return "<unk>";
    if (id == kMask) return "<mask>";
    return corpus_.render(id - kFirstChar);
  }

 protected:
  Example make_example(Rng& rng, Split split, int n) const override {
    Example e;
    for (int c : corpus_.window(rng, split, n))
      e.targets.push_back(c < 0 ? kUnknown : kFirstChar + c);
    e.inputs = e.targets;
    e.mask.assign(n, 0);
    int selected = 0;
    for (int t = 0; t < n; ++t) {
      e.mask[t] = rng.bernoulli(mask_rate_) ? 1 : 0;
      selected += e.mask[t];
    }
    if (selected == 0) e.mask[rng.uniform_int(0, n - 1)] = 1;  // something to score, always

    for (int t = 0; t < n; ++t) {
      if (!e.mask[t]) continue;
      const double u = rng.uniform();
      if (u < kReplaceWithMask)
        e.inputs[t] = kMask;
      else if (u < kReplaceWithMask + kReplaceWithRandom)
        e.inputs[t] = kFirstChar + rng.uniform_int(0, corpus_.alphabet_size() - 1);
    }
    return e;
  }

 private:
  CharCorpus corpus_;
  double mask_rate_;
};

std::vector<OptionSpec> mlm_options() {
  std::vector<OptionSpec> specs = CharCorpus::option_specs();
  specs.push_back({"mask_rate", OptionSpec::Type::Float, "0.15",
                   "probability that a position is selected for prediction (>= 1 per example)", 0.0,
                   1.0});
  return specs;
}

POSLAB_REGISTER_TASK(MlmTask, "mlm", "BERT-style masked character prediction on a UTF-8 text file",
                     (with_length_options(128, 1, "characters per window", mlm_options())))
POSLAB_TASK_TEST_SETTINGS(MlmTask, "mlm", "{length: 32, min_length: 8, path: '{corpus}'}", true,
                          "{path: '{corpus}', length: 16, mask_rate: 0.3}", "{steps: 1000, lr: 0.01}")

}  // namespace
}  // namespace poslab
