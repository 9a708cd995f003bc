// counting — run a tiny program of resets, increments and passes, then print one variable.
//
// From Golovneva et al. 2024, "Contextual Position Encoding: Learning to Count What's
// Important" (the counting task). The answer is the value of the printed variable: the
// number of increments since its last reset — a count over *statements of one kind*, with
// many `pass` statements in between, which token-index positions represent poorly.
//
// variant: authors (default) — the rules of the authors' generator (facebookresearch/RAM,
// projects/cope/scripts/count_data_gen.py; facts read there, restated here):
//   - no initialisation: the program starts with the first drawn statement;
//   - each statement draws its kind with weights  reset `x = 0 ;` 1,  `pass;` 50,
//     `x ++;` 7;  a reset picks x uniformly among all `variables` variables; an increment
//     picks x uniformly among the variables already set; an increment that is impossible
//     (no variable set yet, or x already at the cap 10) is rejected and the statement's
//     kind is drawn again (the authors give up after 100 tries; we never do — each try
//     succeeds with probability >= 50/58, so 100 failures do not happen in practice);
//   - `print x` picks x uniformly among the variables set; a program with no variable set
//     is rejected whole and redrawn *with a new number of statements* (so the number of
//     statements n is NOT uniform over [min_length, length]: an accepted program of n
//     statements has weight 1 − (50/51)^n, the chance that one of its statements is a
//     reset);
//   - the authors draw n uniformly from 3..512 (`--max-steps 512`) and 1, 3 or 5 variables;
//     here n comes from [min_length, length] (the authors' setting: {min_length: 3,
//     length: 512});
//   - tokens are the authors' whitespace words: `pass;` and `++;` are single tokens, `=`,
//     `0`, `;`, `print`, the variable letters, and the answer 0..10 as one token (the `0`
//     of a reset is the number 0, as in the authors' vocabulary built from the words).
//   - block_size: the authors' collator keeps the LAST block_size tokens of program +
//     question + answer (`--block-size 512`), so long programs lose their beginning and
//     the model reads block_size − 1 tokens; 0 (default) keeps every token.
// variant: poslab_v1 — poslab's first generator, kept to reproduce earlier results: every
//   variable is initialised first (`a = 0 ; b = 0 ; ...`), then n statements drawn
//   independently (reset 1 / pass 50 / increment 7, x uniform over all variables, an
//   increment at 10 saturates), `pass ;` and `x ++ ;` end with a separate `;` token,
//   and `print x` asks a uniform variable.
//
// Sequence (causal, next-token), authors' variant, 1 variable, n = 4 statements:
//   full sequence  pass; a = 0 ; a ++; pass; print a 1
//   the last position (input `a` after print) has target 1; only it is scored.
// Length unit: n, the number of statements (poslab_v1: after the initialisation).
// Statements take 1 to 4 tokens (poslab_v1: 2 to 4), so the model sequence length is the
// upper bound 4n + 2 (poslab_v1: 4·variables + 4n + 2), at most block_size − 1; shorter
// programs are padded (mask 0).
// Tokens: 0 PAD, 1..11 the numbers 0..10, 12 "=", 13 "++;" (poslab_v1 "++"), 14 "pass;"
// (poslab_v1 "pass"), 15 ";", 16 "print", 17.. the variables "a", "b", ...
#include <algorithm>
#include <limits>
#include <optional>
#include <stdexcept>

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

// Statement weights from the paper and the authors' code: reset 1, pass 50, increment 7.
constexpr int kResetWeight = 1;
constexpr int kPassWeight = 50;
constexpr int kIncrementWeight = 7;
constexpr int kTotalWeight = kResetWeight + kPassWeight + kIncrementWeight;

class CountingTask : public Task {
 public:
  explicit CountingTask(const Options& o)
      : variables_(o.get_int("variables")),
        authors_(o.get_string("variant") == "authors"),
        block_size_(o.get_int("block_size")),
        max_length_(o.get_int("length")) {
    const int min_length = o.get_int("min_length");
    min_length_ = min_length == 0 ? max_length_ : min_length;
    if (min_length_ > max_length_)
      o.node("min_length").fail("expected at most length (" + std::to_string(max_length_) +
                                "), got " + std::to_string(min_length_));
    // `print x answer` alone is 3 tokens; a block must hold it and one statement.
    if (block_size_ != 0 && block_size_ < 4)
      o.node("block_size").fail("expected 0 (no truncation) or at least 4, got " +
                                std::to_string(block_size_));
    if (block_size_ != 0 && !authors_)
      o.node("block_size").fail("expected 0 with variant poslab_v1 (truncation is the "
                                "authors' rule), got " + std::to_string(block_size_));
  }

  int vocab_size() const override { return kFirstVariable + variables_; }
  ModelKind kind() const override { return ModelKind::Causal; }
  bool has_exact_match() const override { return true; }
  int min_train_length() const override { return min_length_; }
  int max_train_length() const override { return max_length_; }
  // At most 4 tokens per statement (+ 4 per variable for poslab_v1's initialisation),
  // + `print x answer` = 3, minus the shift; truncated to block_size − 1.
  int sequence_length(int n) const override {
    const long full = 4L * n + 2 + (authors_ ? 0 : 4L * variables_);
    return int(block_size_ > 0 ? std::min<long>(full, block_size_ - 1) : full);
  }

  std::string token_name(int id) const override {
    static const char* const authors_words[] = {"=", "++;", "pass;", ";", "print"};
    static const char* const v1_words[] = {"=", "++", "pass", ";", "print"};
    if (id == kPad) return "<pad>";
    if (id >= kNumber0 && id <= kNumber0 + kMaxValue) return std::to_string(id - kNumber0);
    if (id >= kAssign && id <= kPrint) return (authors_ ? authors_words : v1_words)[id - kAssign];
    if (id >= kFirstVariable && id < vocab_size())
      return std::string(1, static_cast<char>('a' + id - kFirstVariable));
    return "<?>";
  }

  // Each example draws n from [min_length, max_length]; in the authors' variant a
  // rejected program draws n again (their try_generate_sample redraws its step count).
  Batch make_batch(Rng& rng, Split, int batch_size, int min_length,
                   int max_length) const override {
    if (batch_size < 1 || min_length < 1 || min_length > max_length)
      throw std::invalid_argument(
          "make_batch: expected batch_size >= 1 and 1 <= min_length <= max_length, got "
          "batch_size " + std::to_string(batch_size) + ", lengths [" +
          std::to_string(min_length) + ", " + std::to_string(max_length) + "]");
    Batch batch;
    batch.batch_size = batch_size;
    batch.seq_len = sequence_length(max_length);
    const std::size_t T = std::size_t(batch.seq_len);
    batch.inputs.assign(batch_size * T, kPad);
    batch.targets.assign(batch_size * T, kPad);
    batch.loss_mask.assign(batch_size * T, 0);
    for (int b = 0; b < batch_size; ++b) {
      std::optional<std::vector<std::int32_t>> tokens;
      // Ends: an attempt is accepted with probability >= 1/51 (its first statement is a
      // reset), so the expected number of attempts is at most 51.
      while (!tokens) {
        const int n = rng.uniform_int(min_length, max_length);
        tokens = authors_ ? authors_program(rng, n) : v1_program(rng, n);
      }
      if (block_size_ > 0 && tokens->size() > std::size_t(block_size_))
        tokens->erase(tokens->begin(), tokens->end() - block_size_);  // keep the last ones
      std::vector<std::uint8_t> scored(tokens->size(), 0);
      scored.back() = 1;  // the answer
      const Example e = shift_for_next_token(*tokens, scored);
      if (e.inputs.size() > T) throw std::logic_error("counting: program exceeds sequence_length");
      // Right padding: in a causal model the real tokens never see the PAD after them.
      std::copy(e.inputs.begin(), e.inputs.end(), batch.inputs.begin() + b * T);
      std::copy(e.targets.begin(), e.targets.end(), batch.targets.begin() + b * T);
      std::copy(e.mask.begin(), e.mask.end(), batch.loss_mask.begin() + b * T);
    }
    return batch;
  }

 private:
  // The authors' rules (see the header): program + `print x` + answer, or nullopt when no
  // variable was set (the caller redraws n).
  std::optional<std::vector<std::int32_t>> authors_program(Rng& rng, int n) const {
    std::vector<std::int32_t> tokens;
    std::vector<int> value(variables_, -1);  // -1: not set yet
    std::vector<int> set;                    // the variables set so far
    for (int s = 0; s < n; ++s) {
      for (;;) {  // draw the statement's kind until it can be written
        const int draw = rng.uniform_int(0, kTotalWeight - 1);
        if (draw < kResetWeight) {
          const int v = rng.uniform_int(0, variables_ - 1);
          if (value[v] < 0) set.push_back(v);
          value[v] = 0;
          tokens.insert(tokens.end(), {kFirstVariable + v, kAssign, kNumber0, kEnd});
          break;
        }
        if (draw < kResetWeight + kPassWeight) {
          tokens.push_back(kPass);
          break;
        }
        if (set.empty()) continue;  // nothing to increment: redraw the kind
        const int v = set[rng.uniform_int(0, int(set.size()) - 1)];
        if (value[v] + 1 > kMaxValue) continue;  // past the cap: redraw the kind
        ++value[v];
        tokens.insert(tokens.end(), {kFirstVariable + v, kIncrement});
        break;
      }
    }
    if (set.empty()) return std::nullopt;
    const int asked = set[rng.uniform_int(0, int(set.size()) - 1)];
    tokens.insert(tokens.end(), {kPrint, kFirstVariable + asked, kNumber0 + value[asked]});
    return tokens;
  }

  // poslab's first generator (variant poslab_v1), unchanged draw for draw.
  std::vector<std::int32_t> v1_program(Rng& rng, int n) const {
    std::vector<std::int32_t> tokens;
    std::vector<int> value(variables_, 0);
    for (int v = 0; v < variables_; ++v)
      tokens.insert(tokens.end(), {kFirstVariable + v, kAssign, kNumber0, kEnd});
    for (int s = 0; s < n; ++s) {
      const int draw = rng.uniform_int(0, kTotalWeight - 1);
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
    return tokens;
  }

  int variables_;
  bool authors_;
  int block_size_;
  int max_length_;
  int min_length_ = 0;
};

POSLAB_REGISTER_TASK(
    CountingTask, "counting",
    "print a variable after a program of resets, increments and passes (CoPE paper)",
    (with_length_options(
        32, 1, "statements (the authors draw 3..512)",
        {{"variables", OptionSpec::Type::Int, "1", "number of variables (a, b, ...)", 1, 26},
         {"variant", OptionSpec::Type::String, "authors",
          "authors: the rules of the authors' count_data_gen.py (no initialisation, "
          "increments and print only of set variables, rejection at the cap); poslab_v1: "
          "poslab's first generator (all variables initialised, saturating increments)",
          -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(),
          {"authors", "poslab_v1"}},
         {"block_size", OptionSpec::Type::Int, "0",
          "keep only the last block_size tokens of each example, as the authors' collator "
          "(0 = keep all; the authors use 512)", 0, double(kMaxTaskLength)}})))
POSLAB_TASK_TEST_SETTINGS(CountingTask, "counting", "{length: 10, min_length: 2, variables: 3}", false,
                          "{variables: 1, min_length: 2, length: 6}")

}  // namespace
}  // namespace poslab
