#include "tasks/sequence_util.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace poslab {

Example shift_for_next_token(const std::vector<std::int32_t>& tokens,
                             const std::vector<std::uint8_t>& scored) {
  if (tokens.size() < 2 || scored.size() != tokens.size())
    throw std::logic_error("shift_for_next_token: need >= 2 tokens and one flag per token");
  Example e;
  e.inputs.assign(tokens.begin(), tokens.end() - 1);
  e.targets.assign(tokens.begin() + 1, tokens.end());
  e.mask.assign(scored.begin() + 1, scored.end());
  return e;
}

Example prompt_then_answer(const std::vector<std::int32_t>& prompt,
                           const std::vector<std::int32_t>& answer) {
  std::vector<std::int32_t> tokens = prompt;
  tokens.insert(tokens.end(), answer.begin(), answer.end());
  std::vector<std::uint8_t> scored(prompt.size(), 0);
  scored.resize(tokens.size(), 1);
  return shift_for_next_token(tokens, scored);
}

std::vector<OptionSpec> with_length_options(int default_length, int shortest,
                                            const std::string& unit,
                                            std::vector<OptionSpec> task_options) {
  std::vector<OptionSpec> specs = {
      {"length", OptionSpec::Type::Int, std::to_string(default_length),
       "longest training length, in " + unit, double(shortest), double(kMaxTaskLength)},
      {"min_length", OptionSpec::Type::Int, "0",
       "shortest training length (each example draws its length uniformly from "
       "[min_length, length]); 0 = same as length",
       0, double(kMaxTaskLength)}};
  for (auto& spec : task_options) specs.push_back(std::move(spec));
  return specs;
}

SequenceTask::SequenceTask(const Options& options, int shortest)
    : shortest_(shortest), max_length_(options.get_int("length")) {
  const int min_length = options.get_int("min_length");
  min_length_ = min_length == 0 ? max_length_ : min_length;
  if (min_length_ > max_length_)
    options.node("min_length")
        .fail("expected at most length (" + std::to_string(max_length_) + "), got " +
              std::to_string(min_length_));
  if (min_length_ < shortest_)
    options.node("min_length")
        .fail("expected 0 or at least " + std::to_string(shortest_) + ", got " +
              std::to_string(min_length_));
}

Batch SequenceTask::make_batch(Rng& rng, Split split, int batch_size, int min_length,
                               int max_length) const {
  if (batch_size < 1 || min_length < shortest_ || min_length > max_length)
    throw std::invalid_argument(
        "make_batch: expected batch_size >= 1 and " + std::to_string(shortest_) +
        " <= min_length <= max_length, got batch_size " + std::to_string(batch_size) +
        ", lengths [" + std::to_string(min_length) + ", " + std::to_string(max_length) + "]");
  Batch batch;
  batch.batch_size = batch_size;
  batch.seq_len = sequence_length(max_length);
  const std::size_t T = static_cast<std::size_t>(batch.seq_len);
  batch.inputs.assign(batch_size * T, kPad);
  batch.targets.assign(batch_size * T, kPad);
  batch.loss_mask.assign(batch_size * T, 0);
  for (int b = 0; b < batch_size; ++b) {
    const int length = rng.uniform_int(min_length, max_length);
    const Example e = make_example(rng, split, length);
    if (e.inputs.size() > T || e.targets.size() != e.inputs.size() ||
        e.mask.size() != e.inputs.size())
      throw std::logic_error("make_example: example does not fit sequence_length");
    // Right padding: in a causal model the real tokens never see the PAD after them.
    std::copy(e.inputs.begin(), e.inputs.end(), batch.inputs.begin() + b * T);
    std::copy(e.targets.begin(), e.targets.end(), batch.targets.begin() + b * T);
    std::copy(e.mask.begin(), e.mask.end(), batch.loss_mask.begin() + b * T);
  }
  return batch;
}

std::string SymbolTransductionTask::token_name(int id) const {
  if (id == kPad) return "<pad>";
  if (id == kSep) return "<sep>";
  return std::to_string(id - kFirstSymbol);
}

Example SymbolTransductionTask::make_example(Rng& rng, Split, int n) const {
  std::vector<std::int32_t> symbols;
  for (int i = 0; i < n; ++i) symbols.push_back(kFirstSymbol + rng.uniform_int(0, symbols_ - 1));
  std::vector<std::int32_t> prompt = symbols;
  prompt.push_back(kSep);
  return prompt_then_answer(prompt, answer_for(symbols));
}

std::vector<OptionSpec> transduction_options(const std::string& length_unit) {
  return with_length_options(16, 1, length_unit,
                             {{"vocab", OptionSpec::Type::Int, "16", "number of distinct symbols", 2, 1000}});
}

}  // namespace poslab
