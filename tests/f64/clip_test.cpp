// Global gradient-norm clipping (train/adamw.h clip_grad_norm), in double precision.
// Convention (PyTorch's clip_grad_norm_): ‖g‖ over ALL tensors together; above max_norm
// every gradient is multiplied by max_norm/(‖g‖ + 1e-6), so the clipped norm is max_norm
// up to a relative 1e-6/‖g‖; at or below it nothing changes; the return value, which runs
// record as grad_norm, is the norm BEFORE clipping.
#include <gtest/gtest.h>

#include <cmath>

#include "cli_util.h"
#include "core/parameters.h"
#include "train/adamw.h"
#include "train/run.h"

namespace poslab {
namespace {

// Two tensors, so that "global" is tested: [2, 2] and [3].
ParameterSet two_tensors(const std::vector<double>& grads) {
  ParameterSet params;
  params.declare("w", {2, 2}, Init::Zeros, 0, true);
  params.declare("b", {3}, Init::Zeros, 0, false);
  params.allocate();
  std::copy(grads.begin(), grads.end(), params.grads().begin());
  return params;
}

double norm_of(const RealBuffer& g) {
  double sq = 0;
  for (double x : g) sq += x * x;
  return std::sqrt(sq);
}

// ‖g‖ = 13 exactly: 3² + 4² + 12² = 169, spread over both tensors.
const std::vector<double> kGrads = {3, 0, 0, -4, 0, 12, 0};

TEST(ClipGradNorm, BelowOrAtTheThresholdNothingChanges) {
  for (const double max_norm : {13.0, 13.5, 100.0}) {
    ParameterSet p = two_tensors(kGrads);
    EXPECT_EQ(clip_grad_norm(p, max_norm), 13.0) << max_norm;
    for (std::size_t i = 0; i < kGrads.size(); ++i) EXPECT_EQ(p.grads()[i], kGrads[i]) << max_norm;
  }
}

TEST(ClipGradNorm, AboveItEveryTensorIsScaledByTheSameFactorToTheThreshold) {
  for (const double max_norm : {1.0, 6.5, 12.9}) {
    ParameterSet p = two_tensors(kGrads);
    // Returns the norm before clipping.
    EXPECT_EQ(clip_grad_norm(p, max_norm), 13.0) << max_norm;
    const double scale = max_norm / (13.0 + 1e-6);
    for (std::size_t i = 0; i < kGrads.size(); ++i)
      EXPECT_NEAR(p.grads()[i], kGrads[i] * scale, 1e-15 * std::abs(kGrads[i])) << max_norm << " " << i;
    const double clipped = norm_of(p.grads());
    EXPECT_LT(clipped, max_norm);
    EXPECT_NEAR(clipped / max_norm, 1.0, 1e-6 / 13.0 + 1e-15) << max_norm;
  }
}

// Each tensor alone is below the threshold; together they are above: both are scaled.
TEST(ClipGradNorm, TheNormIsGlobalNotPerTensor) {
  ParameterSet p = two_tensors({3, 0, 0, 4, 0, 0, 5});  // ‖w‖ = 5, ‖b‖ = 5, ‖g‖ = √50
  EXPECT_NEAR(clip_grad_norm(p, 6.0), std::sqrt(50.0), 1e-15);
  EXPECT_NEAR(norm_of(p.grads()), 6.0, 1e-6);
  EXPECT_LT(p.grads()[0], 3.0);
  EXPECT_LT(p.grads()[6], 5.0);
}

TEST(ClipGradNorm, ZeroMeansOff) {
  ParameterSet p = two_tensors({3e6, 0, 0, 4e6, 0, 0, 0});
  EXPECT_EQ(clip_grad_norm(p, 0.0), 5e6);
  EXPECT_EQ(p.grads()[0], 3e6);
  EXPECT_EQ(p.grads()[3], 4e6);
}

// A NaN gradient gives a NaN norm (the trainer then skips or stops, train.on_nonfinite).
TEST(ClipGradNorm, ANonFiniteGradientGivesANonFiniteNorm) {
  ParameterSet p = two_tensors({1, 0, NAN, 0, 0, 0, 0});
  EXPECT_TRUE(std::isnan(clip_grad_norm(p, 1.0)));
  ParameterSet q = two_tensors({1, 0, INFINITY, 0, 0, 0, 0});
  EXPECT_TRUE(std::isinf(clip_grad_norm(q, 1.0)));
}

// What a run records at each log step (/train/grad_norm, /train/lr): the norm before
// clipping, and the schedule's lr of that step. With a clip of 1e-6 every clipped norm
// would be ≤ 1e-6; the recorded ones are the model's real gradient norms.
TEST(ClipGradNorm, RunsRecordTheNormBeforeClipping) {
  const std::vector<std::string> sets = {"train.steps=5", "train.log_every=1", "train.grad_clip=1e-6",
                                         "train.warmup_steps=2", "train.threads=1", "eval.batches=1"};
  const auto specs = load_experiment(testing::data_path("experiments/learning.yaml"), sets);
  PreparedRun run = prepare_run(specs.at(0));
  const RunRecord r = train_and_evaluate(run, nullptr);
  const TrainSpec& ts = run.spec.train;
  ASSERT_EQ(r.grad_norm.size(), 5u);
  ASSERT_EQ(r.lr.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_GT(r.grad_norm[i], 1e-3) << "step " << i + 1;
    EXPECT_EQ(r.lr[i], learning_rate(int(i), ts.steps, ts.warmup_steps, ts.lr, ts.min_lr_ratio,
                                     ts.schedule == "cosine"))
        << "step " << i + 1;
  }
}

}  // namespace
}  // namespace poslab
