#include "train/metrics.h"

namespace poslab {

void MetricSums::add(double mean_loss, const std::vector<std::uint8_t>& correct,
                     const std::vector<std::uint8_t>& mask, int B, int T) {
  long scored = 0;
  for (int b = 0; b < B; ++b) {
    long example_scored = 0, example_correct = 0;
    for (int t = 0; t < T; ++t) {
      const std::size_t n = std::size_t(b) * T + t;
      if (!mask[n]) continue;
      ++example_scored;
      example_correct += correct[n] ? 1 : 0;
    }
    scored += example_scored;
    correct_tokens += example_correct;
    if (example_scored > 0) {
      ++examples;
      exact_examples += (example_correct == example_scored) ? 1 : 0;
    }
  }
  scored_tokens += scored;
  loss_sum += mean_loss * scored;
}

}  // namespace poslab
