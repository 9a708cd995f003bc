// counting — run a tiny program of resets and increments, then print one variable.
//
// From Golovneva et al. 2024, "Contextual Position Encoding: Learning to Count What's
// Important" (the counting task). The answer is the number of increments of the printed
// variable since its last reset — a count over *statements of one kind*, with many `pass`
// statements in between, which token-index positions represent poorly.
//
// Program: first every variable is initialised (`a = 0 ; b = 0 ; ...`, in order, as the
// paper's programs begin), then n statements, each drawn independently:
//   `x = 0 ;`  weight 1     reset
//   `pass ;`   weight 50    no-op
//   `x ++ ;`   weight 7     increment, saturating at 10 (10 ++ stays 10)
// with the variable x uniform over the `variables` variables. Then `print x` for a
// uniformly chosen x, and the answer: x's value, one of the tokens 0..10.
//
// Sequence (causal, next-token), 1 variable, n = 3 statements:
//   full sequence  a = 0 ; a ++ ; pass ; a ++ ; print a 2
//   the last position (input `a` after print) has target 2; only it is scored.
// Length unit: n, the number of statements after the initialisation. Statements take 2 to
// 4 tokens, so the model sequence length is the upper bound 4·variables + 4n + 2; shorter
// programs are padded (mask 0).
// Tokens: 0 PAD, 1..11 the numbers 0..10 (the `0` of `x = 0` is the number 0),
// 12 "=", 13 "++", 14 "pass", 15 ";", 16 "print", 17.. the variables "a", "b", ...
#include <algorithm>

#include "tasks/sequence_util.h"

namespace poslab {
namespace {

constexpr int kMaxValue = 10;
constexpr std::int32_t kNumber0 = 1;  // the number v is the token kNumber0 + v
constexpr std::int32_t kAssign = 12;
constexpr std::int32_t kIncrement = 13;
constexpr std::int32_t kPass = 14;
constexpr std::int32_t kEnd = 15;
constexpr std::int32_t kPrint = 16;
constexpr std::int32_t kFirstVariable = 17;

// Statement weights from the paper: reset 1, pass 50, increment 7 (out of 58).
constexpr int kResetWeight = 1;
constexpr int kPassWeight = 50;
constexpr int kIncrementWeight = 7;

class CountingTask : public SequenceTask {
 public:
  explicit CountingTask(const Options& o)
      : SequenceTask(o, 1), variables_(o.get_int("variables")) {}

  int vocab_size() const override { return kFirstVariable + variables_; }
  ModelKind kind() const override { return ModelKind::Causal; }
  bool has_exact_match() const override { return true; }
  // init 4 per variable + at most 4 per statement + `print x answer` = 3, minus the shift.
  int sequence_length(int n) const override { return 4 * variables_ + 4 * n + 2; }

  std::string token_name(int id) const override {
    static const char* const words[] = {"=", "++", "pass", ";", "print"};
    if (id == kPad) return "<pad>";
    if (id >= kNumber0 && id <= kNumber0 + kMaxValue) return std::to_string(id - kNumber0);
    if (id >= kAssign && id <= kPrint) return words[id - kAssign];
    if (id >= kFirstVariable && id < vocab_size())
      return std::string(1, static_cast<char>('a' + id - kFirstVariable));
    return "<?>";
  }

 protected:
  Example make_example(Rng& rng, Split, int n) const override {
    std::vector<std::int32_t> tokens;
    std::vector<int> value(variables_, 0);
    for (int v = 0; v < variables_; ++v)
      tokens.insert(tokens.end(), {kFirstVariable + v, kAssign, kNumber0, kEnd});

    for (int s = 0; s < n; ++s) {
      const int draw = rng.uniform_int(0, kResetWeight + kPassWeight + kIncrementWeight - 1);
      if (draw >= kResetWeight && draw < kResetWeight + kPassWeight) {
        tokens.insert(tokens.end(), {kPass, kEnd});
        continue;
      }
      const int v = rng.uniform_int(0, variables_ - 1);
      if (draw < kResetWeight) {
        value[v] = 0;
        tokens.insert(tokens.end(), {kFirstVariable + v, kAssign, kNumber0, kEnd});
      } else {
        value[v] = std::min(value[v] + 1, kMaxValue);
        tokens.insert(tokens.end(), {kFirstVariable + v, kIncrement, kEnd});
      }
    }

    const int asked = rng.uniform_int(0, variables_ - 1);
    tokens.insert(tokens.end(), {kPrint, kFirstVariable + asked, kNumber0 + value[asked]});
    std::vector<std::uint8_t> scored(tokens.size(), 0);
    scored.back() = 1;
    return shift_for_next_token(tokens, scored);
  }

 private:
  int variables_;
};

POSLAB_REGISTER_TASK(
    CountingTask, "counting",
    "print a variable after a program of resets, increments and passes (CoPE paper)",
    (with_length_options(32, 1, "statements after the initialisation",
                         {{"variables", OptionSpec::Type::Int, "1",
                           "number of variables (a, b, ...)", 1, 26}})))
POSLAB_TASK_TEST_SETTINGS(CountingTask, "counting", "{length: 10, min_length: 2, variables: 3}", false,
                          "{variables: 1, min_length: 2, length: 6}")

}  // namespace
}  // namespace poslab
