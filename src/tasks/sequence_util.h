#pragma once
// Shared pieces of every sequence task, so that each task file only says what its
// sequences look like:
//   - the PAD convention (id 0 in every task),
//   - the causal shift (one place that turns a token sequence into inputs/targets),
//   - the common `length` / `min_length` options,
//   - SequenceTask, a base class that draws a length per example and pads the batch.
#include <cstdint>
#include <string>
#include <vector>

#include "core/options.h"
#include "tasks/task.h"

namespace poslab {

// Every task reserves id 0 for padding. Where an example is shorter than the batch's
// sequence length, inputs and targets are PAD and the loss mask is 0.
inline constexpr std::int32_t kPad = 0;

// One example, aligned as the model sees it: at position t the model reads inputs[t] and
// is scored on predicting targets[t] where mask[t] is 1. It may be shorter than the batch
// (SequenceTask pads it).
struct Example {
  std::vector<std::int32_t> inputs;
  std::vector<std::int32_t> targets;
  std::vector<std::uint8_t> mask;
};

// The causal (next-token) shift. A full sequence s[0..N] becomes N positions with
// inputs s[0..N-1] and targets s[1..N]: position t predicts s[t+1]. The prediction of
// s[k] is scored where scored[k] is 1 (scored[0] is ignored: nothing predicts s[0]).
// Example: s = [3 4 SEP 3 4], scored = [0 0 0 1 1]
//   -> inputs [3 4 SEP 3], targets [4 SEP 3 4], mask [0 0 1 1].
Example shift_for_next_token(const std::vector<std::int32_t>& tokens,
                             const std::vector<std::uint8_t>& scored);

// The common answer-only layout: the prompt, then the answer; only the answer tokens are
// scored (each predicted from everything before it).
Example prompt_then_answer(const std::vector<std::int32_t>& prompt,
                           const std::vector<std::int32_t>& answer);

// The options every task shares, followed by the task's own:
//   length      the longest training length, in the task's unit (`unit` in the help text),
//               at most kMaxTaskLength, so that sequence_length(length) fits an int
//   min_length  the shortest training length; 0 (the default) means "same as length"
// `shortest` is the smallest length the task can make (e.g. 2 for flip_flop).
std::vector<OptionSpec> with_length_options(int default_length, int shortest,
                                            const std::string& unit,
                                            std::vector<OptionSpec> task_options = {});

// Base class of every task here: reads the length options, draws each example's length
// uniformly from [min_length, max_length], and pads every example to
// sequence_length(max_length). A task implements make_example and sequence_length.
class SequenceTask : public Task {
 public:
  // Validates min_length <= length (ConfigError on the min_length key otherwise).
  SequenceTask(const Options& options, int shortest);

  int min_train_length() const override { return min_length_; }
  int max_train_length() const override { return max_length_; }
  Batch make_batch(Rng& rng, Split split, int batch_size, int min_length,
                   int max_length) const final;

 protected:
  // One example of task length `length` (>= shortest); it must fit sequence_length(length).
  virtual Example make_example(Rng& rng, Split split, int length) const = 0;

 private:
  int shortest_;
  int min_length_;
  int max_length_;
};

// The string-transduction family (copy, reverse, sort): n random symbols, SEP, then the
// answer computed from those symbols; only the answer is scored. Tokens: 0 PAD, 1 SEP,
// 2..vocab+1 the symbols (rendered "0".."vocab-1"). Model sequence length 2n. Each task
// says only how its answer follows from the symbols.
class SymbolTransductionTask : public SequenceTask {
 public:
  static constexpr std::int32_t kSep = 1;
  static constexpr std::int32_t kFirstSymbol = 2;

  explicit SymbolTransductionTask(const Options& o)
      : SequenceTask(o, 1), symbols_(o.get_int("vocab")) {}

  int vocab_size() const override { return kFirstSymbol + symbols_; }
  ModelKind kind() const override { return ModelKind::Causal; }
  bool has_exact_match() const override { return true; }
  int sequence_length(int n) const override { return 2 * n; }
  std::string token_name(int id) const override;

 protected:
  // The answer for the symbols (ids >= kFirstSymbol) that precede the separator.
  virtual std::vector<std::int32_t> answer_for(const std::vector<std::int32_t>& symbols) const = 0;
  Example make_example(Rng& rng, Split split, int n) const override;

 private:
  int symbols_;
};

// The `vocab` option every transduction task declares, after the length options.
std::vector<OptionSpec> transduction_options(const std::string& length_unit);

}  // namespace poslab
