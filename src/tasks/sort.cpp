// sort — write the symbols of a random string in ascending order after a separator.
//
// A standard algorithmic length-generalisation task (e.g. Zhou et al. 2024, "What
// Algorithms can Transformers Learn?"). Unlike copy, the answer order does not follow the
// input positions, so the model must find "the next smallest symbol not yet written" by
// content; position mostly helps to keep count of repeated symbols.
//
// Sequence (causal, next-token): n random symbols (repeats allowed), SEP, the sorted
// multiset.
//   full sequence  7 2 9 2 SEP 2 2 7 9      (n = 4)
//   inputs         7 2 9 2 SEP 2 2 7
//   targets        2 9 2 SEP 2 2 7 9
//   loss mask      0 0 0 0   1 1 1 1        (only the sorted symbols are scored)
// Length unit: n, the number of symbols. Model sequence length: 2n.
// Tokens: 0 PAD, 1 SEP, 2..vocab+1 the symbols "0".."vocab-1" (sorted by this order).
#include <algorithm>

#include "tasks/sequence_util.h"

namespace poslab {
namespace {

constexpr std::int32_t kSep = 1;
constexpr std::int32_t kFirstSymbol = 2;

class SortTask : public SequenceTask {
 public:
  explicit SortTask(const Options& o) : SequenceTask(o, 1), symbols_(o.get_int("vocab")) {}

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
    std::vector<std::int32_t> answer = prompt;
    std::sort(answer.begin(), answer.end());
    prompt.push_back(kSep);
    return prompt_then_answer(prompt, answer);
  }

 private:
  int symbols_;
};

POSLAB_REGISTER_TASK(SortTask, "sort",
                     "write n random symbols in ascending order after a separator",
                     (with_length_options(16, 1, "symbols to sort",
                                          {{"vocab", OptionSpec::Type::Int, "16",
                                            "number of distinct symbols", 2, 1000}})))

}  // namespace
}  // namespace poslab
