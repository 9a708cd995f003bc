// copy — repeat a random string after a separator.
//
// The classic length-generalisation probe (e.g. Graves et al. 2014, "Neural Turing
// Machines"; Kazemnejad et al. 2023 use it to compare positional encodings): a model that
// copies by "attend to the token n positions back" extrapolates only if its positional
// scheme represents that offset beyond the training lengths.
//
// Sequence (causal, next-token): n random symbols, SEP, the same n symbols.
//   full sequence  7 2 9 SEP 7 2 9          (n = 3)
//   inputs         7 2 9 SEP 7 2
//   targets        2 9 SEP 7 2 9
//   loss mask      0 0 0   1 1 1            (only the copied symbols are scored)
// Length unit: n, the number of symbols to copy. Model sequence length: 2n.
// Tokens: 0 PAD, 1 SEP, 2..vocab+1 the symbols (rendered as "0".."vocab-1").
#include "tasks/sequence_util.h"

namespace poslab {
namespace {

constexpr std::int32_t kSep = 1;
constexpr std::int32_t kFirstSymbol = 2;

class CopyTask : public SequenceTask {
 public:
  explicit CopyTask(const Options& o) : SequenceTask(o, 1), symbols_(o.get_int("vocab")) {}

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
    std::vector<std::int32_t> answer;
    for (int i = 0; i < n; ++i) answer.push_back(kFirstSymbol + rng.uniform_int(0, symbols_ - 1));
    std::vector<std::int32_t> prompt = answer;
    prompt.push_back(kSep);
    return prompt_then_answer(prompt, answer);
  }

 private:
  int symbols_;
};

POSLAB_REGISTER_TASK(CopyTask, "copy",
                     "repeat n random symbols after a separator (answer-only loss)",
                     (with_length_options(16, 1, "symbols to copy",
                                          {{"vocab", OptionSpec::Type::Int, "16",
                                            "number of distinct symbols", 2, 1000}})))

}  // namespace
}  // namespace poslab
