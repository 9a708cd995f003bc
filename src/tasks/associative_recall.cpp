// associative_recall — look up the value stored under a key.
//
// The in-context retrieval task of Ba et al. 2016 ("Using Fast Weights to Attend to the
// Recent Past"), popularised for sequence models by the H3/Hyena line (Fu et al. 2023).
// Retrieval is by content (find the query key), then by position (take the token right
// after it), so it tests whether a "next position" relation survives at unseen lengths.
//
// Sequence (causal, next-token): n (key, value) pairs with distinct keys, SEP, a query key
// (one of the n keys, uniform), then its value.
//   full sequence  k3 v7 k0 v2 k5 v7 SEP k0 v2     (n = 3)
//   the position whose input is the query k0 has target v2; only it is scored.
// Length unit: n, the number of pairs (n <= keys, since keys are distinct). Model
// sequence length: 2n + 2.
// Tokens: 0 PAD, 1 SEP, 2..keys+1 the keys "k0".., then the values "v0"...
#include "tasks/sequence_util.h"

namespace poslab {
namespace {

constexpr std::int32_t kSep = 1;
constexpr std::int32_t kFirstKey = 2;

class AssociativeRecallTask : public SequenceTask {
 public:
  explicit AssociativeRecallTask(const Options& o)
      : SequenceTask(o, 1),
        keys_(o.get_int("keys")),
        values_(o.get_int("values")),
        keys_node_(o.node("keys")) {
    if (max_train_length() > keys_)
      o.node("length").fail("keys are distinct, so expected at most keys (" +
                            std::to_string(keys_) + ") pairs, got " +
                            std::to_string(max_train_length()));
  }

  int vocab_size() const override { return kFirstKey + keys_ + values_; }
  ModelKind kind() const override { return ModelKind::Causal; }
  bool has_exact_match() const override { return true; }
  int sequence_length(int n) const override { return 2 * n + 2; }

  // Evaluation may ask for more pairs than training; distinct keys cap it.
  void check_length(int n) const override {
    if (n > keys_)
      keys_node_.fail("a length of " + std::to_string(n) + " pairs needs " + std::to_string(n) +
                      " distinct keys; expected keys >= " + std::to_string(n) + ", got " +
                      std::to_string(keys_));
  }

  std::string token_name(int id) const override {
    if (id == kPad) return "<pad>";
    if (id == kSep) return "<sep>";
    if (id >= kFirstKey && id < first_value()) return "k" + std::to_string(id - kFirstKey);
    if (id >= first_value() && id < vocab_size()) return "v" + std::to_string(id - first_value());
    return "<?>";
  }

 protected:
  Example make_example(Rng& rng, Split, int n) const override {
    check_length(n);
    // The first n entries of a partial Fisher-Yates shuffle: n distinct keys.
    std::vector<std::int32_t> key_pool(keys_);
    for (int k = 0; k < keys_; ++k) key_pool[k] = kFirstKey + k;
    for (int i = 0; i < n; ++i) std::swap(key_pool[i], key_pool[rng.uniform_int(i, keys_ - 1)]);

    std::vector<std::int32_t> prompt, value_of(n);
    for (int i = 0; i < n; ++i) {
      value_of[i] = first_value() + rng.uniform_int(0, values_ - 1);
      prompt.push_back(key_pool[i]);
      prompt.push_back(value_of[i]);
    }
    const int query = rng.uniform_int(0, n - 1);
    prompt.push_back(kSep);
    prompt.push_back(key_pool[query]);
    return prompt_then_answer(prompt, {value_of[query]});
  }

 private:
  std::int32_t first_value() const { return kFirstKey + keys_; }

  int keys_;
  int values_;
  ConfigNode keys_node_;
};

POSLAB_REGISTER_TASK(AssociativeRecallTask, "associative_recall",
                     "recall the value stored under a queried key among n key-value pairs",
                     (with_length_options(8, 1, "key-value pairs (at most keys)",
                                          {{"keys", OptionSpec::Type::Int, "16",
                                            "number of distinct keys", 1, 1000},
                                           {"values", OptionSpec::Type::Int, "16",
                                            "number of distinct values", 2, 1000}})))
POSLAB_TASK_TEST_SETTINGS(AssociativeRecallTask, "associative_recall", "{length: 6, min_length: 2, keys: 16}", true,
                          "{keys: 4, values: 4, min_length: 2, length: 3}")

}  // namespace
}  // namespace poslab
