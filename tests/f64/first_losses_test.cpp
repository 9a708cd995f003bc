// llm.c-style training check: the first 10 training losses of a fixed fixture match an
// independent PyTorch twin (scripts/make_optimizer_fixtures.py: the float64 reference model
// of the parity fixtures, torch.optim.AdamW, torch.nn.utils.clip_grad_norm_ and the
// schedule written from docs/design.md). From the same initial weights and the same 10
// batches, poslab's double build takes 10 steps through train_step — the function
// train_and_evaluate calls for every step — and its losses, pre-clip gradient norms and
// learning rates, and the weights after the 10th update, must agree to 1e-10 relative.
// Each fixture clips some steps and not others, decays some tensors and not others.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "dist/communicator.h"
#include "f64/fixture_model.h"
#include "io/h5file.h"
#include "train/train_step.h"

namespace poslab {
namespace {

const std::filesystem::path kFixtureDir =
    std::filesystem::path(POSLAB_SOURCE_DIR) / "tests" / "fixtures" / "optimizer";

std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  if (std::filesystem::exists(kFixtureDir))
    for (const auto& entry : std::filesystem::directory_iterator(kFixtureDir)) {
      const std::string stem = entry.path().stem().string();
      if (entry.path().extension() == ".h5" && stem.rfind("first_losses_", 0) == 0)
        names.push_back(stem);
    }
  std::sort(names.begin(), names.end());
  return names;
}

constexpr double kTolerance = 1e-10;

double rel(double a, double b) { return std::abs(a - b) / std::abs(b); }

// The fixture's train_yaml (a flow mapping of TrainSpec's fields) as a TrainSpec.
TrainSpec train_spec(const H5Reader& f) {
  const YAML::Node y = YAML::Load(f.attr_string("/", "train_yaml"));
  TrainSpec ts;
  ts.steps = y["steps"].as<int>();
  ts.lr = y["lr"].as<double>();
  ts.warmup_steps = y["warmup_steps"].as<int>();
  ts.schedule = y["schedule"].as<std::string>();
  ts.min_lr_ratio = y["min_lr_ratio"].as<double>();
  ts.weight_decay = y["weight_decay"].as<double>();
  ts.beta1 = y["beta1"].as<double>();
  ts.beta2 = y["beta2"].as<double>();
  ts.eps = y["eps"].as<double>();
  ts.grad_clip = y["grad_clip"].as<double>();
  return ts;
}

// Batch `step` of the fixture's /inputs, /targets, /loss_mask [steps, B, T].
Batch fixture_batch(const H5Reader& f, int step) {
  const auto shape = f.shape("/inputs");
  Batch b;
  b.batch_size = int(shape[1]);
  b.seq_len = int(shape[2]);
  const std::size_t n = shape[1] * shape[2], at = std::size_t(step) * n;
  const auto inputs = f.read_int64("/inputs"), targets = f.read_int64("/targets"),
             mask = f.read_int64("/loss_mask");
  b.inputs.assign(inputs.begin() + std::ptrdiff_t(at), inputs.begin() + std::ptrdiff_t(at + n));
  b.targets.assign(targets.begin() + std::ptrdiff_t(at), targets.begin() + std::ptrdiff_t(at + n));
  b.loss_mask.assign(mask.begin() + std::ptrdiff_t(at), mask.begin() + std::ptrdiff_t(at + n));
  return b;
}

class FirstLosses : public ::testing::TestWithParam<std::string> {};

TEST_P(FirstLosses, TenStepsMatchThePyTorchTwin) {
  H5Reader f((kFixtureDir / (GetParam() + ".h5")).string());
  const std::unique_ptr<Transformer> model = testing::model_from_fixture(f, GetParam() + ".h5");
  ParameterSet& params = model->params();
  const TrainSpec ts = train_spec(f);
  const auto losses = f.read("/losses"), norms = f.read("/grad_norms"), lrs = f.read("/lr");
  ASSERT_EQ(losses.size(), std::size_t(ts.steps));
  ASSERT_EQ(f.shape("/inputs")[0], std::size_t(ts.steps));

  AdamW optimizer(params, AdamWConfig{ts.beta1, ts.beta2, ts.eps, ts.weight_decay});
  dist::SingleProcess one;
  BatchGradientComputer gradient(one, 1);
  int clipped = 0;
  for (int step = 0; step < ts.steps; ++step) {
    const StepResult r = train_step(*model, gradient, optimizer, ts, step, fixture_batch(f, step));
    ASSERT_TRUE(r.updated) << "step " << step;
    EXPECT_LT(rel(r.gradient.loss, losses[step]), kTolerance)
        << "loss at step " << step << ": " << r.gradient.loss << " vs PyTorch " << losses[step];
    EXPECT_LT(rel(r.grad_norm, norms[step]), kTolerance)
        << "pre-clip gradient norm at step " << step << ": " << r.grad_norm << " vs " << norms[step];
    EXPECT_LT(rel(r.lr, lrs[step]), 1e-15) << "learning rate at step " << step;
    clipped += r.grad_norm > ts.grad_clip;
  }
  // The fixture exercises both sides of the clip (checked by the script too).
  EXPECT_GE(clipped, 2);
  EXPECT_LE(clipped, ts.steps - 2);

  // The weights after the 10th update, tensor by tensor, relative to the tensor's scale.
  // Except the key bias (entries [D, 2D) of attn.qkv.bias): it adds q_i·b_k to every logit
  // of row i, which the softmax ignores, so its gradient is 0 up to rounding (~1e-17) and
  // AdamW turns that rounding into steps of ~lr·1e-17/ε that differ between any two
  // implementations. Both sides must leave it where it started, up to such steps.
  const std::size_t D = std::size_t(model->config().d_model);
  for (const auto& info : params.infos()) {
    const auto ref = f.read("/final/" + info.name), initial = f.read("/params/" + info.name);
    const bool has_key_bias = info.name.ends_with("attn.qkv.bias");
    double diff = 0, scale = 0, key_bias_moved = 0;
    for (std::size_t i = 0; i < info.size; ++i) {
      const double value = params.values()[info.offset + i];
      if (has_key_bias && i >= D && i < 2 * D) {
        key_bias_moved = std::max({key_bias_moved, std::abs(value - initial[i]), std::abs(ref[i] - initial[i])});
        continue;
      }
      diff = std::max(diff, std::abs(value - ref[i]));
      scale = std::max(scale, std::abs(ref[i]));
    }
    EXPECT_LT(diff / scale, kTolerance) << info.name << " after " << ts.steps << " steps";
    EXPECT_LT(key_bias_moved, 1e-8) << info.name << ": the key bias moved";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FirstLosses, ::testing::ValuesIn(fixture_names()),
                         [](const auto& info) { return info.param; });

TEST(FirstLossesFixtures, BothAreThere) {
  EXPECT_EQ(fixture_names().size(), 2u) << "run scripts/make_optimizer_fixtures.py";
}

}  // namespace
}  // namespace poslab
