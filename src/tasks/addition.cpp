// addition — add two decimal numbers (Kazemnejad et al. 2023, NeurIPS, "The Impact of
// Positional Encoding on Length Generalization in Transformers"; scratchpad off).
//
// Follows the authors' generator (McGill-NLP/length-generalization,
// scripts/dataset_builders/make_addition_dataset.py and the s2s_addition instance
// processor): an example is a bin (digits of a, digits of b); a d-digit operand is uniform
// in [10^(d-1), 10^d), or [0, 10) for d = 1; the prompt writes both operands digit by
// digit, most significant first, and the answer is the sum, digit by digit, most
// significant first ("Compute 4 7 + 5 ? The answer is 5 2."). The length of an example is
// the longer operand's digit count (the authors' bucket "a-by-b" is plotted at max(a, b)).
// For length n the bin is uniform over the pairs with max(d_a, d_b) = n and both at least
// min(min_length, n): in training this covers the authors' square of bins [min, max]^2 (but
// with the longer operand's length uniform rather than each bin equally likely), and
// beyond the training length one operand is out of distribution and the other anywhere
// from min_length up, as in their test split.
// The prompt's words ("Compute", "?", "The answer is") are dropped: one token per digit and
// operator. The answer ends with an end token, which is scored, so that exact match also
// requires stopping after the last digit (the authors parse the answer up to ".").
//
// Sequence (causal, next-token), a = 47, b = 5 (n = 2):
//   full sequence  4 7 + 5 = 5 2 <eos>
//   inputs         4 7 + 5 = 5 2
//   targets        7 + 5 = 5 2 <eos>
//   loss mask      0 0 0 0 1 1 1            (the sum's digits and the end token)
// Length unit: n, digits of the longer operand. Model sequence length: 3n + 3 (at most).
// Tokens: 0 PAD, 1..10 the digits "0".."9", 11 "+", 12 "=", 13 "<eos>".
#include <algorithm>

#include "tasks/sequence_util.h"

namespace poslab {
namespace {

constexpr std::int32_t kDigit0 = 1;
constexpr std::int32_t kPlus = 11;
constexpr std::int32_t kEquals = 12;
constexpr std::int32_t kEos = 13;

// A uniform d-digit number, most significant digit first (values 0..9).
std::vector<int> random_number(Rng& rng, int digits) {
  std::vector<int> out(digits);
  for (int i = 0; i < digits; ++i) out[i] = rng.uniform_int(i == 0 && digits > 1 ? 1 : 0, 9);
  return out;
}

// Schoolbook sum of two digit strings, most significant first.
std::vector<int> add_digits(const std::vector<int>& a, const std::vector<int>& b) {
  std::vector<int> out;
  int carry = 0;
  for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    const int x = i < a.size() ? a[a.size() - 1 - i] : 0;
    const int y = i < b.size() ? b[b.size() - 1 - i] : 0;
    out.push_back((x + y + carry) % 10);
    carry = (x + y + carry) / 10;
  }
  if (carry) out.push_back(carry);
  std::reverse(out.begin(), out.end());
  return out;
}

class AdditionTask : public SequenceTask {
 public:
  explicit AdditionTask(const Options& o) : SequenceTask(o, 1) {}

  int vocab_size() const override { return 14; }
  ModelKind kind() const override { return ModelKind::Causal; }
  bool has_exact_match() const override { return true; }
  int sequence_length(int n) const override { return 3 * n + 3; }

  std::string token_name(int id) const override {
    if (id >= kDigit0 && id < kDigit0 + 10) return std::to_string(id - kDigit0);
    if (id == kPlus) return "+";
    if (id == kEquals) return "=";
    if (id == kEos) return "<eos>";
    return id == kPad ? "<pad>" : "<?>";
  }

 protected:
  Example make_example(Rng& rng, Split, int n) const override {
    // The bins (d_a, d_b) with max = n, the shorter side from `lower`: 2(n - lower) + 1.
    const int lower = std::min(min_train_length(), n);
    const int k = rng.uniform_int(0, 2 * (n - lower));
    const int digits_a = k <= n - lower ? n : lower + (k - (n - lower) - 1);
    const int digits_b = k <= n - lower ? lower + k : n;
    const std::vector<int> a = random_number(rng, digits_a);
    const std::vector<int> b = random_number(rng, digits_b);
    std::vector<std::int32_t> prompt, answer;
    for (int d : a) prompt.push_back(kDigit0 + d);
    prompt.push_back(kPlus);
    for (int d : b) prompt.push_back(kDigit0 + d);
    prompt.push_back(kEquals);
    for (int d : add_digits(a, b)) answer.push_back(kDigit0 + d);
    answer.push_back(kEos);
    return prompt_then_answer(prompt, answer);
  }
};

POSLAB_REGISTER_TASK(AdditionTask, "addition",
                     "add two numbers written digit by digit (Kazemnejad et al. 2023; length = digits of the longer operand)",
                     (with_length_options(8, 1, "digits of the longer operand")))
// Not exact fit: at length L the other operand may be shorter than L digits.
POSLAB_TASK_TEST_SETTINGS(AdditionTask, "addition", "{length: 6, min_length: 1}", false,
                          "{length: 2, min_length: 1}")

}  // namespace
}  // namespace poslab
