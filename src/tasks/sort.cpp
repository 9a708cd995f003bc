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

class SortTask : public SymbolTransductionTask {
 public:
  using SymbolTransductionTask::SymbolTransductionTask;

 protected:
  std::vector<std::int32_t> answer_for(const std::vector<std::int32_t>& symbols) const override {
    std::vector<std::int32_t> sorted = symbols;
    std::sort(sorted.begin(), sorted.end());
    return sorted;
  }
};

POSLAB_REGISTER_TASK(SortTask, "sort", "write n random symbols in ascending order after a separator", transduction_options("symbols to sort"))
POSLAB_TASK_TEST_SETTINGS(SortTask, "sort", "{length: 8, min_length: 3, vocab: 5}", true, "{vocab: 4, min_length: 2, length: 4}")

}  // namespace
}  // namespace poslab
