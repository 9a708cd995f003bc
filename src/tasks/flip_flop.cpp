// flip_flop — remember the last written bit across many distracting instructions.
//
// From Liu et al. 2023, "Exposing Attention Glitches with Flip-Flop Language Modeling".
// A flip-flop string is a sequence of instruction/bit pairs:
//   w b   write bit b to memory,
//   r b   read: b must equal the most recently written bit,
//   i b   ignore: b is random noise.
// The first instruction is always a write and (here) the last always a read, so every
// example has a scored bit. In between, each instruction is `i` with probability
// p_ignore and `w` or `r` with probability (1 - p_ignore) / 2 each. Bits after w and i
// are uniform; the bit after r is determined. Only the bits after r are scored, so the
// model must attend to the latest `w` however far back it is — sparse (p_ignore = 0.98)
// and dense (p_ignore = 0.1) evaluation via `eval_p_ignore` reproduces the paper's
// out-of-distribution tests.
//
// Sequence (causal, next-token), length n = 4 instructions:
//   full sequence  w 1 i 0 w 0 r 0
//   inputs         w 1 i 0 w 0 r
//   targets        1 i 0 w 0 r 0
//   loss mask      0 0 0 0 0 0 1            (only the bit after r is scored)
// Length unit: n, the number of instruction/bit pairs (>= 2). Model sequence length:
// 2n - 1 (the last bit is only a target).
// Tokens: 0 PAD, 1 "w", 2 "r", 3 "i", 4 "0", 5 "1".
#include "tasks/sequence_util.h"

namespace poslab {
namespace {

constexpr std::int32_t kWrite = 1;
constexpr std::int32_t kRead = 2;
constexpr std::int32_t kIgnore = 3;
constexpr std::int32_t kZero = 4;  // bit b is the token kZero + b

class FlipFlopTask : public SequenceTask {
 public:
  explicit FlipFlopTask(const Options& o)
      : SequenceTask(o, 2),
        p_ignore_(o.get_float("p_ignore")),
        // A negative eval_p_ignore (the default) means "the training density".
        eval_p_ignore_(o.get_float("eval_p_ignore") < 0 ? p_ignore_
                                                        : o.get_float("eval_p_ignore")) {}

  int vocab_size() const override { return 6; }
  ModelKind kind() const override { return ModelKind::Causal; }
  bool has_exact_match() const override { return true; }
  int sequence_length(int n) const override { return 2 * n - 1; }

  std::string token_name(int id) const override {
    static const char* const names[] = {"<pad>", "w", "r", "i", "0", "1"};
    return id >= 0 && id < 6 ? names[id] : "<?>";
  }

 protected:
  Example make_example(Rng& rng, Split split, int n) const override {
    const double p_ignore = split == Split::Eval ? eval_p_ignore_ : p_ignore_;
    std::vector<std::int32_t> tokens;
    std::vector<std::uint8_t> scored;
    int memory = 0;
    for (int k = 0; k < n; ++k) {
      std::int32_t instruction;
      if (k == 0) {
        instruction = kWrite;
      } else if (k == n - 1) {
        instruction = kRead;
      } else {
        const double u = rng.uniform();
        instruction = u < p_ignore ? kIgnore : u < p_ignore + (1 - p_ignore) / 2 ? kWrite : kRead;
      }
      int bit;
      if (instruction == kRead) {
        bit = memory;
      } else {
        bit = rng.uniform_int(0, 1);
        if (instruction == kWrite) memory = bit;
      }
      tokens.push_back(instruction);
      scored.push_back(0);
      tokens.push_back(kZero + bit);
      scored.push_back(instruction == kRead ? 1 : 0);
    }
    return shift_for_next_token(tokens, scored);
  }

 private:
  double p_ignore_;
  double eval_p_ignore_;
};

POSLAB_REGISTER_TASK(
    FlipFlopTask, "flip_flop",
    "recall the last written bit at every read (Liu et al. 2023, flip-flop language)",
    (with_length_options(
        32, 2, "instruction/bit pairs",
        {{"p_ignore", OptionSpec::Type::Float, "0.8",
          "probability of an ignore instruction (training, and eval unless eval_p_ignore)", 0.0,
          1.0},
         {"eval_p_ignore", OptionSpec::Type::Float, "-1",
          "p_ignore for the evaluation split (e.g. 0.98 sparse, 0.1 dense); -1 = p_ignore", -1.0,
          1.0}})))
POSLAB_TASK_TEST_SETTINGS(FlipFlopTask, "flip_flop", "{length: 10, min_length: 2}", true, "{p_ignore: 0.5, min_length: 4, length: 8}")

}  // namespace
}  // namespace poslab
