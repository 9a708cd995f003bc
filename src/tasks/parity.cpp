// parity — is the number of ones in a bit string even? (Kazemnejad et al. 2023, "Parity";
// scratchpad off).
//
// Follows the authors' generator (McGill-NLP/length-generalization,
// scripts/dataset_builders/make_parity_dataset.py, and the s2s_parity instance processor):
// n bits uniform in {0, 1}; the question "Is the number of 1's even in the sequence
// [ 1, 0, 1 ] ?" is answered "Yes" when the count of ones is even, else "No". The prompt's
// words and the commas are dropped: one token per bit, then "?".
//
// Sequence (causal, next-token), bits 1 0 1 (n = 3):
//   full sequence  1 0 1 ? Yes
//   inputs         1 0 1 ?
//   targets        0 1 ? Yes
//   loss mask      0 0 0 1                  (only the answer is scored)
// Length unit: n, the number of bits. Model sequence length: n + 1.
// Tokens: 0 PAD, 1 "0", 2 "1", 3 "?", 4 "Yes", 5 "No".
#include "tasks/sequence_util.h"

namespace poslab {
namespace {

constexpr std::int32_t kBit0 = 1;
constexpr std::int32_t kQuestion = 3;
constexpr std::int32_t kYes = 4;
constexpr std::int32_t kNo = 5;

class ParityTask : public SequenceTask {
 public:
  explicit ParityTask(const Options& o) : SequenceTask(o, 1) {}

  int vocab_size() const override { return 6; }
  ModelKind kind() const override { return ModelKind::Causal; }
  bool has_exact_match() const override { return true; }
  int sequence_length(int n) const override { return n + 1; }

  std::string token_name(int id) const override {
    static const char* const names[] = {"<pad>", "0", "1", "?", "Yes", "No"};
    return id >= 0 && id < 6 ? names[id] : "<?>";
  }

 protected:
  Example make_example(Rng& rng, Split, int n) const override {
    std::vector<std::int32_t> prompt;
    int ones = 0;
    for (int i = 0; i < n; ++i) {
      const int bit = rng.uniform_int(0, 1);
      ones += bit;
      prompt.push_back(kBit0 + bit);
    }
    prompt.push_back(kQuestion);
    return prompt_then_answer(prompt, {ones % 2 == 0 ? kYes : kNo});
  }
};

POSLAB_REGISTER_TASK(ParityTask, "parity",
                     "answer Yes if a bit string has an even number of ones (Kazemnejad et al. 2023)",
                     (with_length_options(8, 1, "bits")))
POSLAB_TASK_TEST_SETTINGS(ParityTask, "parity", "{length: 8, min_length: 3}", true,
                          "{length: 4, min_length: 1}")

}  // namespace
}  // namespace poslab
