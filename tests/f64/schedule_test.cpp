// The learning-rate schedule (train/adamw.h learning_rate) against its closed form
// (docs/design.md, "Optimizer, schedule and clipping"): for step s of N with W warm-up
// steps, lr·(s+1)/W while s < W; then lr (constant), or cosine
//   lr_min + (lr − lr_min)·(1 + cos(π·p))/2,  p = min(1, (s − W)/max(1, N − W)),
// lr_min = lr·min_ratio.
#include <gtest/gtest.h>

#include <cmath>

#include "train/adamw.h"

namespace poslab {
namespace {

constexpr double kLr = 0.3, kMinRatio = 0.1;

double cosine_closed_form(int s, int N, int W) {
  const double lo = kLr * kMinRatio;
  const double p = std::min(1.0, double(s - W) / std::max(1, N - W));
  return lo + (kLr - lo) * (1 + std::cos(M_PI * p)) / 2;
}

TEST(Schedule, WarmUpRisesLinearlyToThePeakAtItsLastStep) {
  for (const bool cosine : {true, false}) {
    const int N = 20, W = 4;
    for (int s = 0; s < W; ++s)
      EXPECT_DOUBLE_EQ(learning_rate(s, N, W, kLr, kMinRatio, cosine), kLr * (s + 1) / W) << s;
    EXPECT_DOUBLE_EQ(learning_rate(0, N, W, kLr, kMinRatio, cosine), 0.075);  // never 0
    EXPECT_DOUBLE_EQ(learning_rate(W - 1, N, W, kLr, kMinRatio, cosine), kLr);
  }
}

TEST(Schedule, CosineFollowsItsClosedFormFromPeakToMinimum) {
  const int N = 25, W = 5;
  for (int s = W; s <= N + 3; ++s)
    EXPECT_NEAR(learning_rate(s, N, W, kLr, kMinRatio, true), cosine_closed_form(s, N, W), 1e-15) << s;
  EXPECT_DOUBLE_EQ(learning_rate(W, N, W, kLr, kMinRatio, true), kLr);             // starts at the peak
  EXPECT_DOUBLE_EQ(learning_rate(W + 10, N, W, kLr, kMinRatio, true),              // halfway: mean
                   (kLr + kLr * kMinRatio) / 2);
  EXPECT_DOUBLE_EQ(learning_rate(N, N, W, kLr, kMinRatio, true), kLr * kMinRatio);  // ends at lr_min
  EXPECT_DOUBLE_EQ(learning_rate(N + 7, N, W, kLr, kMinRatio, true), kLr * kMinRatio);  // stays
  // The last step a run takes is N − 1: one decay step short of lr_min.
  EXPECT_GT(learning_rate(N - 1, N, W, kLr, kMinRatio, true), kLr * kMinRatio);
  for (int s = W; s < N; ++s)  // strictly decreasing over the decay
    EXPECT_LT(learning_rate(s + 1, N, W, kLr, kMinRatio, true), learning_rate(s, N, W, kLr, kMinRatio, true));
  // min_ratio 0 decays to 0, min_ratio 1 is constant.
  EXPECT_DOUBLE_EQ(learning_rate(N, N, W, kLr, 0.0, true), 0.0);
  for (int s = W; s <= N; ++s) EXPECT_DOUBLE_EQ(learning_rate(s, N, W, kLr, 1.0, true), kLr);
}

TEST(Schedule, ConstantHoldsThePeakAfterWarmUp) {
  const int N = 12, W = 3;
  for (int s = W; s <= N + 5; ++s) EXPECT_EQ(learning_rate(s, N, W, kLr, kMinRatio, false), kLr) << s;
}

TEST(Schedule, NoWarmUpStartsAtThePeak) {
  const int N = 10;
  EXPECT_EQ(learning_rate(0, N, 0, kLr, kMinRatio, true), kLr);
  EXPECT_EQ(learning_rate(0, N, 0, kLr, kMinRatio, false), kLr);
  for (int s = 0; s <= N; ++s)
    EXPECT_NEAR(learning_rate(s, N, 0, kLr, kMinRatio, true), cosine_closed_form(s, N, 0), 1e-15) << s;
}

// steps == warmup_steps: every step is warm-up and the last one reaches the peak; a
// warm-up longer than the run (allowed by the configuration) never reaches it.
TEST(Schedule, WarmUpAsLongAsTheRunOrLonger) {
  const int N = 6;
  for (const bool cosine : {true, false}) {
    for (int s = 0; s < N; ++s)
      EXPECT_DOUBLE_EQ(learning_rate(s, N, N, kLr, kMinRatio, cosine), kLr * (s + 1) / N) << s;
    EXPECT_DOUBLE_EQ(learning_rate(N - 1, N, N, kLr, kMinRatio, cosine), kLr);
    EXPECT_DOUBLE_EQ(learning_rate(N - 1, N, 2 * N, kLr, kMinRatio, cosine), kLr / 2);
  }
}

}  // namespace
}  // namespace poslab
