// selective_copy — copy the content symbols of a noisy sequence, skipping the blanks.
//
// From Gu & Dao 2023 ("Mamba"), and used by Golovneva et al. 2024 ("Contextual Position
// Encoding: Learning to Count What's Important") to show that token-count positions fail
// when the model must count only some tokens: the i-th answer symbol is the i-th
// non-blank input, whose token position depends on how many blanks came before it.
//
// Sequence (causal, next-token): `n` positions, each a blank with probability noise_rate
// and otherwise a random content symbol (at least one position is content), then SEP, then
// the k content symbols in order.
//   full sequence  7 _ _ 2 _ 9 SEP 7 2 9    (n = 6, k = 3; _ is the blank)
//   inputs         7 _ _ 2 _ 9 SEP 7 2
//   targets        _ _ 2 _ 9 SEP 7 2 9
//   loss mask      0 0 0 0 0 0   1 1 1      (only the copied content is scored)
// Length unit: n, the number of positions before SEP (content + blanks). Model sequence
// length: 2n (the answer has k <= n symbols; shorter answers are padded, mask 0).
// Tokens: 0 PAD, 1 blank "_", 2 SEP, 3..vocab+2 the content symbols "0".."vocab-1".
//
// `content: K` (> 0) is the CoPE paper's protocol instead of blanks drawn one by one: every
// example has exactly K content symbols at a uniformly random K-subset of its n positions
// and n - K blanks, so the task length sets the number of blanks. The paper's splits (128
// symbols with 128 blanks in training, 64 "dense" and 256 "sparse" out of distribution)
// are then evaluation lengths K + 128, K + 64, K + 256. Model sequence length n + K.
#include <algorithm>
#include <utility>

#include "tasks/sequence_util.h"

namespace poslab {
namespace {

constexpr std::int32_t kBlank = 1;
constexpr std::int32_t kSep = 2;
constexpr std::int32_t kFirstSymbol = 3;

class SelectiveCopyTask : public SequenceTask {
 public:
  explicit SelectiveCopyTask(const Options& o)
      : SequenceTask(o, std::max(1, o.get_int("content"))),
        symbols_(o.get_int("vocab")),
        noise_rate_(o.get_float("noise_rate")),
        content_(o.get_int("content")),
        content_node_(o.node("content")) {
    if (content_ > 0 && o.node("noise_rate").yaml().IsDefined())
      o.node("noise_rate").fail("content: " + std::to_string(content_) +
                                " fixes the blanks (length - content); expected no noise_rate");
  }

  int vocab_size() const override { return kFirstSymbol + symbols_; }
  ModelKind kind() const override { return ModelKind::Causal; }
  bool has_exact_match() const override { return true; }
  int sequence_length(int n) const override { return content_ > 0 ? n + content_ : 2 * n; }

  // With content: K, every length holds K symbols: evaluation lengths below K cannot.
  void check_length(int n) const override {
    if (content_ > 0 && n < content_)
      content_node_.fail("a length of " + std::to_string(n) + " positions cannot hold " +
                         std::to_string(content_) + " content symbols; expected every length "
                         ">= content (" + std::to_string(content_) + ")");
  }

  std::string token_name(int id) const override {
    if (id == kPad) return "<pad>";
    if (id == kBlank) return "_";
    if (id == kSep) return "<sep>";
    return std::to_string(id - kFirstSymbol);
  }

 protected:
  Example make_example(Rng& rng, Split, int n) const override {
    std::vector<std::int32_t> prompt =
        content_ > 0 ? fixed_content_prompt(rng, n) : noisy_prompt(rng, n);
    std::vector<std::int32_t> answer;
    for (auto token : prompt)
      if (token != kBlank) answer.push_back(token);
    prompt.push_back(kSep);
    return prompt_then_answer(prompt, answer);
  }

 private:
  std::int32_t random_symbol(Rng& rng) const {
    return kFirstSymbol + rng.uniform_int(0, symbols_ - 1);
  }

  // Each of the n positions a blank with probability noise_rate_, else a symbol.
  std::vector<std::int32_t> noisy_prompt(Rng& rng, int n) const {
    std::vector<std::int32_t> prompt(n, kBlank);
    bool any_content = false;
    for (auto& token : prompt) {
      if (rng.bernoulli(noise_rate_)) continue;
      token = random_symbol(rng);
      any_content = true;
    }
    // An empty answer would leave nothing to score: force one content symbol.
    if (!any_content) prompt[rng.uniform_int(0, n - 1)] = random_symbol(rng);
    return prompt;
  }

  // Exactly content_ symbols at the first content_ slots of a partial Fisher-Yates shuffle
  // of the n positions (a uniformly random subset), blanks elsewhere.
  std::vector<std::int32_t> fixed_content_prompt(Rng& rng, int n) const {
    check_length(n);
    std::vector<int> order(n);
    for (int i = 0; i < n; ++i) order[i] = i;
    std::vector<std::int32_t> prompt(n, kBlank);
    for (int i = 0; i < content_; ++i) {
      std::swap(order[i], order[rng.uniform_int(i, n - 1)]);
      prompt[order[i]] = random_symbol(rng);
    }
    return prompt;
  }

  int symbols_;
  double noise_rate_;
  int content_;  // 0: blanks drawn one by one with noise_rate
  ConfigNode content_node_;
};

POSLAB_REGISTER_TASK(SelectiveCopyTask, "selective_copy",
                     "copy the non-blank symbols of a noisy sequence in order (Mamba; CoPE paper)",
                     (with_length_options(32, 1,
                                          "positions before the separator (content and blanks)",
                                          {{"vocab", OptionSpec::Type::Int, "16",
                                            "number of distinct content symbols", 2, 1000},
                                           {"noise_rate", OptionSpec::Type::Float, "0.5",
                                            "probability that a position is a blank", 0.0, 0.99},
                                           {"content", OptionSpec::Type::Int, "0",
                                            "exactly this many content symbols per example at "
                                            "random positions, the rest blanks (the CoPE "
                                            "paper's protocol); 0 = blanks drawn with noise_rate",
                                            0, double(kMaxTaskLength)}})))
POSLAB_TASK_TEST_SETTINGS(SelectiveCopyTask, "selective_copy", "{length: 12, min_length: 4}", false,
                          "{vocab: 4, noise_rate: 0.5, min_length: 4, length: 6}")

}  // namespace
}  // namespace poslab
