// summation — the sum of n digits modulo 10 (Kazemnejad et al. 2023, "Summation";
// scratchpad off).
//
// Follows the authors' generator (McGill-NLP/length-generalization,
// scripts/dataset_builders/make_sum_dataset.py, and the s2s_sum instance processor with
// configs/data/s2s_sum.jsonnet's modulo_factor 10): n values uniform in 1..9, the answer
// their sum modulo 10, one digit ("Compute: 3 + 9 + 4 . The answer is 6 ."). The prompt's
// words and the "+" between single-digit values are dropped: one token per value.
//
// Sequence (causal, next-token), values 3 9 4 (n = 3):
//   full sequence  3 9 4 = 6
//   inputs         3 9 4 =
//   targets        9 4 = 6
//   loss mask      0 0 0 1                  (only the answer digit is scored)
// Length unit: n, the number of values. Model sequence length: n + 1.
// Tokens: 0 PAD, 1..10 the digits "0".."9", 11 "=".
#include "tasks/sequence_util.h"

namespace poslab {
namespace {

constexpr std::int32_t kDigit0 = 1;
constexpr std::int32_t kEquals = 11;

class SummationTask : public SequenceTask {
 public:
  explicit SummationTask(const Options& o) : SequenceTask(o, 1), modulo_(o.get_int("modulo")) {}

  int vocab_size() const override { return 12; }
  ModelKind kind() const override { return ModelKind::Causal; }
  bool has_exact_match() const override { return true; }
  int sequence_length(int n) const override { return n + 1; }

  std::string token_name(int id) const override {
    if (id >= kDigit0 && id < kDigit0 + 10) return std::to_string(id - kDigit0);
    if (id == kEquals) return "=";
    return id == kPad ? "<pad>" : "<?>";
  }

 protected:
  Example make_example(Rng& rng, Split, int n) const override {
    std::vector<std::int32_t> prompt;
    long long sum = 0;
    for (int i = 0; i < n; ++i) {
      const int v = rng.uniform_int(1, 9);
      sum += v;
      prompt.push_back(kDigit0 + v);
    }
    prompt.push_back(kEquals);
    return prompt_then_answer(prompt, {kDigit0 + static_cast<std::int32_t>(sum % modulo_)});
  }

 private:
  int modulo_;
};

POSLAB_REGISTER_TASK(SummationTask, "summation",
                     "sum of n digits 1..9 modulo 10, one answer digit (Kazemnejad et al. 2023)",
                     (with_length_options(8, 1, "values to sum",
                                          {{"modulo", OptionSpec::Type::Int, "10",
                                            "the answer is the sum modulo this (one digit)", 2, 10}})))
// Learning: one value, whose answer is itself; sums of two digits modulo 10 (81 cases) are
// not learned by the tiny model in 200 steps.
POSLAB_TASK_TEST_SETTINGS(SummationTask, "summation", "{length: 8, min_length: 3}", true,
                          "{length: 1, min_length: 1}")

}  // namespace
}  // namespace poslab
