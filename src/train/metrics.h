#pragma once
// Metrics from one batch's predictions, computed the same way for every task from the
// loss mask: token accuracy over scored positions, and exact match = the fraction of
// examples whose every scored token is right (examples with no scored token are skipped).
#include <cstdint>
#include <vector>
#include "core/real.h"  // POSLAB_REAL_NAMESPACE

namespace poslab::inline POSLAB_REAL_NAMESPACE {

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

// Mean loss by position within the sequence, in buckets that double in width — [0, 8),
// [8, 16), [16, 32), ... up to the sequence length — so that a 64k-token evaluation has a
// dozen buckets and the loss beyond the training length shows where it rises.
struct PositionProfile {
  std::vector<double> bucket_start, bucket_end;  // positions [start, end)
  std::vector<double> loss_sum;                  // Σ loss of scored tokens in the bucket
  std::vector<double> tokens;                    // scored tokens in the bucket

  explicit PositionProfile(int T = 0);
  // position_loss and mask [B, T]
  void add(const float* position_loss, const std::uint8_t* mask, int B, int T);
  void add(const double* position_loss, const std::uint8_t* mask, int B, int T);
  std::vector<double> mean_loss() const;  // NaN where no token was scored
};

}  // namespace poslab
