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

class ReverseTask : public SymbolTransductionTask {
 public:
  using SymbolTransductionTask::SymbolTransductionTask;

 protected:
  std::vector<std::int32_t> answer_for(const std::vector<std::int32_t>& symbols) const override {
    return {symbols.rbegin(), symbols.rend()};
  }
};

POSLAB_REGISTER_TASK(ReverseTask, "reverse", "write n random symbols in reverse after a separator", transduction_options("symbols to reverse"))
POSLAB_TASK_TEST_SETTINGS(ReverseTask, "reverse", "{length: 8, min_length: 3, vocab: 10}", true, "{vocab: 4, min_length: 2, length: 4}")

}  // namespace
}  // namespace poslab
