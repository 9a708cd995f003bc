// reverse — write a random string backwards after a separator.
//
// A companion of copy (used in the same studies, e.g. Kazemnejad et al. 2023, "The Impact
// of Positional Encoding on Length Generalization in Transformers"): the i-th answer
// token sits at a different distance from its source for every i, so a fixed relative
// offset does not solve it; the model must pair positions around the separator.
//
// Sequence (causal, next-token): n random symbols, SEP, the same symbols reversed.
//   full sequence  7 2 9 SEP 9 2 7          (n = 3)
//   inputs         7 2 9 SEP 9 2
//   targets        2 9 SEP 9 2 7
//   loss mask      0 0 0   1 1 1            (only the reversed symbols are scored)
// Length unit: n, the number of symbols. Model sequence length: 2n.
// Tokens: 0 PAD, 1 SEP, 2..vocab+1 the symbols (rendered as "0".."vocab-1").
#include <algorithm>

#include "tasks/sequence_util.h"

namespace poslab {
namespace {

constexpr std::int32_t kSep = 1;
constexpr std::int32_t kFirstSymbol = 2;

class ReverseTask : public SequenceTask {
 public:
  explicit ReverseTask(const Options& o) : SequenceTask(o, 1), symbols_(o.get_int("vocab")) {}

  int vocab_size() const override { return kFirstSymbol + symbols_; }
  ModelKind kind() const override { return ModelKind::Causal; }
  bool has_exact_match() const override { return true; }
  int sequence_length(int n) const override { return 2 * n; }

  std::string token_name(int id) const override {
    if (id == kPad) return "<pad>";
    if (id == kSep) return "<sep>";
    return std::to_string(id - kFirstSymbol);
  }

 protected:
  Example make_example(Rng& rng, Split, int n) const override {
    std::vector<std::int32_t> prompt;
    for (int i = 0; i < n; ++i) prompt.push_back(kFirstSymbol + rng.uniform_int(0, symbols_ - 1));
    std::vector<std::int32_t> answer(prompt.rbegin(), prompt.rend());
    prompt.push_back(kSep);
    return prompt_then_answer(prompt, answer);
  }

 private:
  int symbols_;
};

POSLAB_REGISTER_TASK(ReverseTask, "reverse", "write n random symbols in reverse after a separator",
                     (with_length_options(16, 1, "symbols to reverse",
                                          {{"vocab", OptionSpec::Type::Int, "16",
                                            "number of distinct symbols", 2, 1000}})))

}  // namespace
}  // namespace poslab
