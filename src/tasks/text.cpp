// text — character-level language modelling on a text file.
//
// The natural-data counterpart of the synthetic tasks (e.g. Press et al. 2022, "Train
// Short, Test Long", trains at one context length and evaluates perplexity at longer
// ones). Every position is scored, so the loss is the per-character cross-entropy and
// perplexity at each evaluation length shows how the positional scheme extrapolates.
//
// Sequence (causal, next-token): a window of n + 1 consecutive characters from a random
// offset; inputs are the first n, targets the last n (each the next character).
//   text window    "the cat"                 (n = 6)
//   inputs         t h e ␣ c a
//   targets        h e ␣ c a t
//   loss mask      1 1 1 1 1 1               (every position)
// Length unit: n, the context length in characters (Unicode code points). Model sequence
// length: n. Training windows come from the first (1 - eval_fraction) of the file, the
// evaluation split from the held-out end (see tasks/corpus.h).
// Tokens: 0 PAD, 1 UNK (a held-out character never seen in training), 2.. the distinct
// training characters in code-point order.
#include "tasks/corpus.h"
#include "tasks/sequence_util.h"

namespace poslab {
namespace {

constexpr std::int32_t kUnknown = 1;
constexpr std::int32_t kFirstChar = 2;

class TextTask : public SequenceTask {
 public:
  explicit TextTask(const Options& o) : SequenceTask(o, 1), corpus_(o) {
    corpus_.require(max_train_length() + 1);
  }

  // Every window, training or held-out, must fit in its part of the corpus.
  void check_length(int n) const override { corpus_.require(n + 1); }
  int vocab_size() const override { return kFirstChar + corpus_.alphabet_size(); }
  ModelKind kind() const override { return ModelKind::Causal; }
  bool has_exact_match() const override { return false; }
  int sequence_length(int n) const override { return n; }

  std::string token_name(int id) const override {
    if (id == kPad) return "<pad>";
    if (id == kUnknown) return "<unk>";
    return corpus_.render(id - kFirstChar);
  }

 protected:
  Example make_example(Rng& rng, Split split, int n) const override {
    const std::vector<int> chars = corpus_.window(rng, split, n + 1);
    std::vector<std::int32_t> tokens;
    for (int c : chars) tokens.push_back(c < 0 ? kUnknown : kFirstChar + c);
    return shift_for_next_token(tokens, std::vector<std::uint8_t>(tokens.size(), 1));
  }

 private:
  CharCorpus corpus_;
};

POSLAB_REGISTER_TASK(TextTask, "text",
                     "character-level next-character prediction on a UTF-8 text file",
                     (with_length_options(128, 1, "characters of context",
                                          CharCorpus::option_specs())))
POSLAB_TASK_TEST_SETTINGS(TextTask, "text", "{length: 32, min_length: 8, path: '{corpus}'}", true,
                          "{path: '{corpus}', length: 16}")

}  // namespace
}  // namespace poslab
