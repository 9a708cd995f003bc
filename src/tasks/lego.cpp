// lego — resolve a chain of sign assignments (LEGO, Zhang et al. 2022, as used by
// Kazemnejad et al. 2023; scratchpad off).
//
// Follows the authors' generator (McGill-NLP/length-generalization,
// scripts/dataset_builders/make_lego_dataset.py, and the s2s_lego instance processor): n
// variables with distinct names drawn at random from the alphabet (their 26 letters:
// `names`), hidden values uniform in {-1, +1}; the first clause sets the first variable
// ("a = -1"), clause i sets variable i from variable i-1 ("b = + a" when their values are
// equal, "b = - a" otherwise); clauses in chain order unless `permute_clauses` shuffles
// them. The query is a variable from the second half of the chain, index uniform in
// ceil(n/2)..n-1 (their generator emits one example per such index), and the answer is its
// value: "If a = -1, b = + a, c = - b. Then, what is the value of c? The answer is +1.".
// The prompt's words and commas are dropped: four tokens per clause, "?" and the query.
//
// Sequence (causal, next-token), a = -1, b = + a, c = - b, query c (n = 3):
//   full sequence  a = - 1 b = + a c = - b ? c +
//   inputs         a = - 1 b = + a c = - b ? c
//   targets        = - 1 b = + a c = - b ? c +
//   loss mask      0 ...                 0 0 1   (only the answer sign is scored)
// Length unit: n, the number of variables (>= 2: the query comes from the second half).
// Model sequence length: 4n + 2.
// Tokens: 0 PAD, 1 "=", 2 "+", 3 "-", 4 "1", 5 "?", 6..5+names the variables "v0".."v<names-1>".
// The answer is "+" (+1) or "-" (-1).
#include <utility>

#include "tasks/sequence_util.h"

namespace poslab {
namespace {

constexpr std::int32_t kEquals = 1;
constexpr std::int32_t kPlus = 2;
constexpr std::int32_t kMinus = 3;
constexpr std::int32_t kOne = 4;
constexpr std::int32_t kQuestion = 5;
constexpr std::int32_t kFirstName = 6;

class LegoTask : public SequenceTask {
 public:
  explicit LegoTask(const Options& o)
      : SequenceTask(o, 2),
        names_(o.get_int("names")),
        permute_(o.get_bool("permute_clauses")),
        names_node_(o.node("names")) {
    if (max_train_length() > names_)
      o.node("length").fail("variables have distinct names, so expected at most names (" +
                            std::to_string(names_) + ") variables, got " +
                            std::to_string(max_train_length()));
  }

  int vocab_size() const override { return kFirstName + names_; }
  ModelKind kind() const override { return ModelKind::Causal; }
  bool has_exact_match() const override { return true; }
  int sequence_length(int n) const override { return 4 * n + 2; }

  void check_length(int n) const override {
    if (n > names_)
      names_node_.fail("a length of " + std::to_string(n) + " variables needs " + std::to_string(n) +
                       " distinct names; expected names >= " + std::to_string(n) + ", got " +
                       std::to_string(names_));
  }

  std::string token_name(int id) const override {
    static const char* const fixed[] = {"<pad>", "=", "+", "-", "1", "?"};
    if (id >= 0 && id < kFirstName) return fixed[id];
    if (id < vocab_size()) return "v" + std::to_string(id - kFirstName);
    return "<?>";
  }

 protected:
  Example make_example(Rng& rng, Split, int n) const override {
    check_length(n);
    // The first n entries of a partial Fisher-Yates shuffle: n distinct names.
    std::vector<std::int32_t> pool(names_);
    for (int k = 0; k < names_; ++k) pool[k] = kFirstName + k;
    for (int i = 0; i < n; ++i) std::swap(pool[i], pool[rng.uniform_int(i, names_ - 1)]);

    std::vector<int> positive(n);  // 1: the variable is +1
    for (int i = 0; i < n; ++i) positive[i] = rng.uniform_int(0, 1);
    std::vector<std::vector<std::int32_t>> clauses;
    clauses.push_back({pool[0], kEquals, positive[0] ? kPlus : kMinus, kOne});
    for (int i = 1; i < n; ++i)
      clauses.push_back({pool[i], kEquals, positive[i] == positive[i - 1] ? kPlus : kMinus, pool[i - 1]});
    if (permute_)
      for (int i = n - 1; i > 0; --i) std::swap(clauses[i], clauses[rng.uniform_int(0, i)]);

    const int query = rng.uniform_int((n + 1) / 2, n - 1);
    std::vector<std::int32_t> prompt;
    for (const auto& clause : clauses) prompt.insert(prompt.end(), clause.begin(), clause.end());
    prompt.push_back(kQuestion);
    prompt.push_back(pool[query]);
    return prompt_then_answer(prompt, {positive[query] ? kPlus : kMinus});
  }

 private:
  int names_;
  bool permute_;
  ConfigNode names_node_;
};

POSLAB_REGISTER_TASK(LegoTask, "lego",
                     "the sign of a queried variable in a chain a = +-1, b = +-a, ... (LEGO; Kazemnejad et al. 2023)",
                     (with_length_options(8, 2, "variables",
                                          {{"names", OptionSpec::Type::Int, "26",
                                            "distinct variable names (the authors' 26 letters); at least every length", 2, 100000},
                                           {"permute_clauses", OptionSpec::Type::Bool, "false",
                                            "shuffle the clauses (the authors' --permute_clauses)"}})))
POSLAB_TASK_TEST_SETTINGS(LegoTask, "lego", "{length: 8, min_length: 2}", true,
                          "{length: 4, min_length: 2}")

}  // namespace
}  // namespace poslab
