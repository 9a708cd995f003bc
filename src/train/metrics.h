#pragma once
// Metrics from one batch's predictions, computed the same way for every task from the
// loss mask: token accuracy over scored positions, and exact match = the fraction of
// examples whose every scored token is right (examples with no scored token are skipped).
#include <cstdint>
#include <vector>

namespace poslab {

struct MetricSums {
  double loss_sum = 0;      // Σ over batches of (mean loss · scored tokens)
  long scored_tokens = 0;
  long correct_tokens = 0;
  long examples = 0;
  long exact_examples = 0;

  void add(double mean_loss, const std::vector<std::uint8_t>& correct,
           const std::vector<std::uint8_t>& mask, int B, int T);
  double loss() const { return scored_tokens ? loss_sum / scored_tokens : 0.0; }
  double token_accuracy() const { return scored_tokens ? double(correct_tokens) / scored_tokens : 0.0; }
  double exact_match() const { return examples ? double(exact_examples) / examples : 0.0; }
};

}  // namespace poslab
