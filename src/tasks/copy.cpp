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

class CopyTask : public SymbolTransductionTask {
 public:
  using SymbolTransductionTask::SymbolTransductionTask;

 protected:
  std::vector<std::int32_t> answer_for(const std::vector<std::int32_t>& symbols) const override {
    return symbols;
  }
};

POSLAB_REGISTER_TASK(CopyTask, "copy", "repeat n random symbols after a separator (answer-only loss)", transduction_options("symbols to copy"))
POSLAB_TASK_TEST_SETTINGS(CopyTask, "copy", "{length: 8, min_length: 3, vocab: 10}", true, "{vocab: 4, min_length: 2, length: 4}")

}  // namespace
}  // namespace poslab
