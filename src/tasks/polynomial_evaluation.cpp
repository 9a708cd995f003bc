// polynomial_evaluation — evaluate a polynomial at a small integer, modulo 10 (Kazemnejad
// et al. 2023, "Polynomial Evaluation"; scratchpad off).
//
// Follows the authors' generator (McGill-NLP/length-generalization,
// scripts/dataset_builders/make_poly_dataset.py, and the s2s_poly instance processor with
// configs/data/s2s_poly.jsonnet's modulo_factor 10): n terms c_i * x ** d_i with
// coefficients uniform in -3..3, degrees uniform in 0..3 (terms may repeat a degree or have
// coefficient 0, as theirs do), x uniform in -2..2; the answer is sum_i c_i x^d_i modulo
// 10, taken as Python's % (0..9 also for negative sums): "Evaluate at x = - 2 in 3 * x ** 1
// + - 1 * x ** 3 ? The answer is 2.". The prompt's words, "*", "x", "**" and "+" are
// dropped: x's value, then one token per coefficient and one per degree.
//
// Sequence (causal, next-token), x = -2, terms 3x^1 - 1x^3 (n = 2): 3·(-2) - 1·(-8) = 2
//   full sequence  -2 +3 ^1 -1 ^3 = 2
//   inputs         -2 +3 ^1 -1 ^3 =
//   targets        +3 ^1 -1 ^3 = 2
//   loss mask       0  0  0  0  0 1         (only the answer digit is scored)
// Length unit: n, the number of terms. Model sequence length: 2n + 2.
// Tokens: 0 PAD, 1..10 the answer digits "0".."9", 11..17 the signed values "-3".."+3"
// (coefficients and x; "+0" for zero), 18..21 the degrees "^0".."^3", 22 "=".
#include "tasks/sequence_util.h"

namespace poslab {
namespace {

constexpr std::int32_t kDigit0 = 1;
constexpr std::int32_t kSignedZero = 14;  // the value v in -3..3 is kSignedZero + v
constexpr std::int32_t kDegree0 = 18;
constexpr std::int32_t kEquals = 22;

class PolynomialEvaluationTask : public SequenceTask {
 public:
  explicit PolynomialEvaluationTask(const Options& o)
      : SequenceTask(o, 1), modulo_(o.get_int("modulo")) {}

  int vocab_size() const override { return 23; }
  ModelKind kind() const override { return ModelKind::Causal; }
  bool has_exact_match() const override { return true; }
  int sequence_length(int n) const override { return 2 * n + 2; }

  std::string token_name(int id) const override {
    if (id >= kDigit0 && id < kDigit0 + 10) return std::to_string(id - kDigit0);
    if (id >= kSignedZero - 3 && id <= kSignedZero + 3) {
      const int v = id - kSignedZero;
      return (v < 0 ? "-" : "+") + std::to_string(v < 0 ? -v : v);
    }
    if (id >= kDegree0 && id < kDegree0 + 4) return "^" + std::to_string(id - kDegree0);
    if (id == kEquals) return "=";
    return id == kPad ? "<pad>" : "<?>";
  }

 protected:
  Example make_example(Rng& rng, Split, int n) const override {
    const int x = rng.uniform_int(-2, 2);
    std::vector<std::int32_t> prompt{kSignedZero + x};
    long long value = 0;
    for (int i = 0; i < n; ++i) {
      const int coefficient = rng.uniform_int(-3, 3);
      const int degree = rng.uniform_int(0, 3);
      long long power = 1;
      for (int k = 0; k < degree; ++k) power *= x;
      value += coefficient * power;
      prompt.push_back(kSignedZero + coefficient);
      prompt.push_back(kDegree0 + degree);
    }
    prompt.push_back(kEquals);
    const long long answer = ((value % modulo_) + modulo_) % modulo_;  // Python's %
    return prompt_then_answer(prompt, {kDigit0 + static_cast<std::int32_t>(answer)});
  }

 private:
  int modulo_;
};

POSLAB_REGISTER_TASK(PolynomialEvaluationTask, "polynomial_evaluation",
                     "evaluate n terms c*x^d (c in -3..3, d in 0..3, x in -2..2) modulo 10 (Kazemnejad et al. 2023)",
                     (with_length_options(8, 1, "terms",
                                          {{"modulo", OptionSpec::Type::Int, "10",
                                            "the answer is the value modulo this, in 0..modulo-1 (one digit)", 2, 10}})))
POSLAB_TASK_TEST_SETTINGS(PolynomialEvaluationTask, "polynomial_evaluation", "{length: 8, min_length: 3}", true,
                          "{length: 1, min_length: 1}")

}  // namespace
}  // namespace poslab
