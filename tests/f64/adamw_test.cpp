// AdamW (train/adamw.h) in double precision, tested directly:
//   - against updates written out by hand: bias correction, ε outside the square root and
//     after the bias correction, weight decay decoupled (w·lr·λ) and only on the tensors
//     flagged weight_decay;
//   - against torch.optim.AdamW on tests/fixtures/optimizer/adamw_steps.h5
//     (scripts/make_optimizer_fixtures.py), to 1e-12 relative per element.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "encoders/encoder.h"
#include "f64/tiny_model.h"
#include "io/h5file.h"
#include "core/parameters.h"
#include "model/transformer.h"
#include "train/adamw.h"

namespace poslab {
namespace {

// |a − b| / |b| (b ≠ 0 in every use here).
double rel(double a, double b) { return std::abs(a - b) / std::abs(b); }

// A two-tensor parameter set: "w" [2, 2] decayed, "b" [3] not.
struct TwoTensors {
  ParameterSet params;
  ParameterSet::Handle w, b;
  TwoTensors() {
    w = params.declare("w", {2, 2}, Init::Zeros, 0, true);
    b = params.declare("b", {3}, Init::Zeros, 0, false);
    params.allocate();
  }
  void set(const std::vector<double>& values, const std::vector<double>& grads) {
    std::copy(values.begin(), values.end(), params.values().begin());
    std::copy(grads.begin(), grads.end(), params.grads().begin());
  }
};

const std::vector<double> kW0 = {0.5, -1.25, 2.0, 0.75, -0.3, 0.9, 1.1};  // w then b
const std::vector<double> kG1 = {0.2, -0.04, 3.0, -1.5, 0.01, -0.7, 0.25};
const std::vector<double> kG2 = {-0.1, 0.3, 2.0, 0.5, -0.02, -0.7, 4.0};
constexpr int kDecayed = 4;  // the first 4 entries (w) are decayed

// Step 1: m̂ = g and v̂ = g² exactly, so the step is lr·g/(|g| + ε), plus lr·λ·w on w only.
TEST(AdamWByHand, FirstStepIsLrTimesGOverAbsGPlusEpsPlusDecay) {
  TwoTensors t;
  t.set(kW0, kG1);
  const AdamWConfig c{0.9, 0.95, 1e-8, 0.1};
  AdamW opt(t.params, c);
  const double lr = 0.01;
  opt.step(t.params, lr);
  for (int i = 0; i < 7; ++i) {
    const double decay = i < kDecayed ? lr * c.weight_decay * kW0[i] : 0.0;
    const double expected = kW0[i] - lr * kG1[i] / (std::abs(kG1[i]) + c.eps) - decay;
    EXPECT_LE(rel(t.params.values()[i], expected), 1e-15) << i;
  }
  EXPECT_EQ(opt.steps_taken(), 1);
}

// Two different gradients, every quantity written out (β1 = 0.8, β2 = 0.9).
TEST(AdamWByHand, TwoStepsWrittenOut) {
  TwoTensors t;
  t.set(kW0, kG1);
  const AdamWConfig c{0.8, 0.9, 1e-6, 0.05};
  AdamW opt(t.params, c);
  const double lr1 = 0.02, lr2 = 0.05;
  opt.step(t.params, lr1);
  std::copy(kG2.begin(), kG2.end(), t.params.grads().begin());
  opt.step(t.params, lr2);
  for (int i = 0; i < 7; ++i) {
    const double lambda = i < kDecayed ? c.weight_decay : 0.0;
    const double m1 = 0.2 * kG1[i], v1 = 0.1 * kG1[i] * kG1[i];
    const double w1 = kW0[i] * (1 - lr1 * lambda) - lr1 * (m1 / 0.2) / (std::sqrt(v1 / 0.1) + c.eps);
    const double m2 = 0.8 * m1 + 0.2 * kG2[i], v2 = 0.9 * v1 + 0.1 * kG2[i] * kG2[i];
    const double mhat = m2 / (1 - 0.8 * 0.8), vhat = v2 / (1 - 0.9 * 0.9);
    const double w2 = w1 * (1 - lr2 * lambda) - lr2 * mhat / (std::sqrt(vhat) + c.eps);
    EXPECT_LE(rel(t.params.values()[i], w2), 1e-14) << i;
    EXPECT_LE(rel(opt.first_moment()[i], m2), 1e-15) << i;  // moments kept un-corrected
    EXPECT_LE(rel(opt.second_moment()[i], v2), 1e-15) << i;
  }
  EXPECT_EQ(opt.steps_taken(), 2);
}

// With bias correction, a constant gradient gives the same step every time
// (m̂ = g, v̂ = g²); without it the first steps would be (1 − β1^t)/√(1 − β2^t) as large.
TEST(AdamWByHand, BiasCorrectionMakesAConstantGradientAConstantStep) {
  TwoTensors t;
  t.set(kW0, kG1);
  const AdamWConfig c{0.9, 0.999, 1e-8, 0.0};
  AdamW opt(t.params, c);
  const double lr = 1e-3;
  std::vector<double> expected = kW0;
  for (int step = 1; step <= 6; ++step) {
    std::copy(kG1.begin(), kG1.end(), t.params.grads().begin());
    opt.step(t.params, lr);
    for (int i = 0; i < 7; ++i) {
      expected[i] -= lr * kG1[i] / (std::abs(kG1[i]) + c.eps);
      EXPECT_LE(rel(t.params.values()[i], expected[i]), 1e-14) << "step " << step << " entry " << i;
    }
  }
}

// ε is added to √v̂ (after the bias correction), outside the root: with g = ε the first
// step is exactly lr/2. ε inside the root would give lr·g/√(g² + ε) ≈ 0.03·lr; ε added
// before correcting v, lr·g/(√(1−β2)·(√v + ε)/√(1−β2)) ≈ 0.18·lr.
TEST(AdamWByHand, EpsilonIsAddedToTheCorrectedRoot) {
  ParameterSet params;
  params.declare("b", {1}, Init::Zeros, 0, false);
  params.allocate();
  params.values()[0] = 1.0;
  params.grads()[0] = 1e-3;
  AdamW opt(params, AdamWConfig{0.9, 0.95, 1e-3, 0.5});
  opt.step(params, 0.1);
  EXPECT_LE(rel(params.values()[0], 1.0 - 0.1 * 0.5), 1e-15) << params.values()[0];
}

// A zero gradient leaves m = v = 0 and the step 0/(0 + ε) = 0: the change is the decay
// alone, w·(1 − lr·λ), on exactly the tensors poslab decays — the matrices of attention and
// MLP and an untied head; never the token embedding (tied or not), LayerNorm weights or
// biases, or an encoder's position table (docs/design.md, "Optimizer").
TEST(AdamWByHand, DecaysExactlyTheMatrices) {
  for (const bool tied : {false, true}) {
    const TransformerConfig c = testing::tiny_config(true, tied);
    const auto built = testing::build_model(c, "learned", "max_length: 8");
    Transformer& model = *built;
    ParameterSet& params = model.params();
    Rng rng(3);
    params.initialize(rng);
    params.zero_grads();
    const std::vector<double> before(params.values().begin(), params.values().end());
    const double lr = 0.1, lambda = 0.25;
    AdamW opt(params, AdamWConfig{0.9, 0.95, 1e-8, lambda});
    opt.step(params, lr);
    const std::set<std::string> matrices = {"attn.qkv.weight", "attn.out.weight", "mlp.fc1.weight",
                                            "mlp.fc2.weight"};
    int decayed = 0;
    for (const auto& info : params.infos()) {
      const std::string suffix = info.name.substr(info.name.find('.') + 1);
      const bool block_matrix = info.name.rfind("layers.", 0) == 0 &&
                                matrices.count(suffix.substr(suffix.find('.') + 1)) > 0;
      const bool expect_decay = block_matrix || info.name == "head.weight";
      EXPECT_EQ(info.weight_decay, expect_decay) << info.name;
      decayed += expect_decay;
      for (std::size_t i = info.offset; i < info.offset + info.size; ++i) {
        if (expect_decay)
          ASSERT_LE(rel(params.values()[i], before[i] * (1 - lr * lambda)), 1e-15)
              << info.name << " element " << i - info.offset;
        else
          ASSERT_EQ(params.values()[i], before[i]) << info.name << " element " << i - info.offset;
      }
    }
    EXPECT_EQ(decayed, 4 * c.layers + (tied ? 0 : 1));
  }
}

// torch.optim.AdamW, two parameter groups (weight_decay λ and 0), six steps with given
// gradients (some of the size of ε, one entry always 0) and a different lr at each step.
TEST(AdamWPyTorch, SixStepsMatchTorchOptimAdamW) {
  const auto path = std::filesystem::path(POSLAB_SOURCE_DIR) / "tests" / "fixtures" / "optimizer" /
                    "adamw_steps.h5";
  H5Reader f(path.string());
  ASSERT_EQ(f.attr_string("/", "decayed"), "matrix");
  const AdamWConfig c{f.attr_double("/", "beta1"), f.attr_double("/", "beta2"),
                      f.attr_double("/", "eps"), f.attr_double("/", "weight_decay")};
  ParameterSet params;
  const std::vector<std::string> names = {"matrix", "bias"};
  for (const auto& n : names) {
    const auto shape = f.shape("/initial/" + n);
    params.declare(n, std::vector<int>(shape.begin(), shape.end()), Init::Zeros, 0, n == "matrix");
  }
  params.allocate();
  for (const auto& info : params.infos()) {
    const auto v = f.read("/initial/" + info.name);
    std::copy(v.begin(), v.end(), params.values().begin() + std::ptrdiff_t(info.offset));
  }
  AdamW opt(params, c);
  const auto lrs = f.read("/lr");
  ASSERT_GE(lrs.size(), 5u);
  for (std::size_t s = 0; s < lrs.size(); ++s) {
    for (const auto& info : params.infos()) {
      const auto g = f.read("/grads/" + info.name);  // [steps, shape...]
      std::copy(g.begin() + std::ptrdiff_t(s * info.size), g.begin() + std::ptrdiff_t((s + 1) * info.size),
                params.grads().begin() + std::ptrdiff_t(info.offset));
    }
    opt.step(params, lrs[s]);
    for (const auto& info : params.infos()) {
      const auto after = f.read("/after/" + info.name);
      for (std::size_t i = 0; i < info.size; ++i)
        ASSERT_LE(rel(params.values()[info.offset + i], after[s * info.size + i]), 1e-12)
            << info.name << " element " << i << " after step " << s + 1;
    }
  }
  // The moments a checkpoint stores are PyTorch's exp_avg and exp_avg_sq.
  for (const auto& info : params.infos()) {
    const auto m = f.read("/exp_avg/" + info.name), v = f.read("/exp_avg_sq/" + info.name);
    for (std::size_t i = 0; i < info.size; ++i) {
      if (v[i] == 0) {  // the entry whose gradient is always 0
        EXPECT_EQ(opt.second_moment()[info.offset + i], 0.0);
        EXPECT_EQ(opt.first_moment()[info.offset + i], 0.0);
        continue;
      }
      EXPECT_LE(rel(opt.first_moment()[info.offset + i], m[i]), 1e-12) << info.name << " " << i;
      EXPECT_LE(rel(opt.second_moment()[info.offset + i], v[i]), 1e-12) << info.name << " " << i;
    }
  }
}

}  // namespace
}  // namespace poslab
