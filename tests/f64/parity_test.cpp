// PyTorch parity (as llm.c does it): for every fixture written by
// scripts/make_parity_fixtures.py — a tiny model per encoder and model kind, with PyTorch's
// logits, loss and gradients in float64 — build the same model in poslab, load the same
// weights, run forward and backward, and require agreement to 1e-10 relative error (both
// sides are double precision; measured agreement is ~1e-14, so an error in a small term,
// e.g. a bias off by 1e-8, fails).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "f64/fixture_model.h"
#include "io/h5file.h"
#include "model/transformer.h"

namespace poslab {
namespace {

const std::filesystem::path kFixtureDir =
    std::filesystem::path(POSLAB_SOURCE_DIR) / "tests" / "fixtures" / "parity";

std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  if (std::filesystem::exists(kFixtureDir))
    for (const auto& entry : std::filesystem::directory_iterator(kFixtureDir))
      if (entry.path().extension() == ".h5") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

constexpr double kTolerance = 1e-10;

// max |a - b| / (max |b| + tiny): relative to the scale of the reference tensor.
double relative_error(const double* a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return diff / (scale + 1e-30);
}

class PyTorchParity : public ::testing::TestWithParam<std::string> {};

TEST_P(PyTorchParity, LogitsLossAndEveryGradient) {
  H5Reader f((kFixtureDir / (GetParam() + ".h5")).string());
  const std::unique_ptr<Transformer> built = testing::model_from_fixture(f, GetParam() + ".h5");
  Transformer& model = *built;
  ASSERT_EQ(f.attr_string("/", "kind"), model.config().causal ? "causal" : "bidirectional");
  ParameterSet& params = model.params();

  const auto shape = f.shape("/inputs");
  const int B = static_cast<int>(shape[0]), T = static_cast<int>(shape[1]);
  auto to_i32 = [](const std::vector<std::int64_t>& v) { return std::vector<std::int32_t>(v.begin(), v.end()); };
  const auto inputs = to_i32(f.read_int64("/inputs"));
  const auto targets = to_i32(f.read_int64("/targets"));
  const auto mask64 = f.read_int64("/loss_mask");
  const std::vector<std::uint8_t> mask(mask64.begin(), mask64.end());

  // Randomized-position fixtures store the (fixed) position array the model reads.
  std::vector<int> positions;
  if (f.exists("/positions")) {
    const auto p64 = f.read_int64("/positions");
    positions.assign(p64.begin(), p64.end());
    ASSERT_EQ(positions.size(), std::size_t(T));
  }
  const double* logits = model.forward(inputs.data(), B, T, positions.empty() ? nullptr : positions.data());
  double worst = relative_error(logits, f.read("/logits"));  // over logits, loss and gradients
  EXPECT_LT(worst, kTolerance) << "logits";
  const double loss = model.loss(targets.data(), mask.data());
  const double ref_loss = f.read("/loss")[0];
  EXPECT_LT(std::abs(loss - ref_loss) / std::abs(ref_loss), kTolerance) << "loss " << loss << " vs " << ref_loss;
  worst = std::max(worst, std::abs(loss - ref_loss) / std::abs(ref_loss));

  params.zero_grads();
  model.backward(targets.data(), mask.data());
  for (const auto& info : params.infos()) {
    const auto ref = f.read("/grads/" + info.name);
    const double err = relative_error(params.grads().data() + info.offset, ref);
    EXPECT_LT(err, kTolerance) << "gradient of " << info.name;
    worst = std::max(worst, err);
  }
  // POSLAB_PARITY_REPORT=1 prints the worst relative error of each fixture.
  if (std::getenv("POSLAB_PARITY_REPORT"))
    std::printf("parity %s: max relative error %.3g\n", GetParam().c_str(), worst);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PyTorchParity, ::testing::ValuesIn(fixture_names()),
                         [](const auto& info) { return info.param; });

TEST(PyTorchParityFixtures, OneFixturePerEncoderAndKind) {
  // Every registered encoder has a causal fixture, so a new scheme cannot skip parity.
  const auto names = fixture_names();
  for (const auto& encoder : EncoderRegistry::instance().names())
    EXPECT_TRUE(std::find(names.begin(), names.end(), encoder + "_causal") != names.end())
        << "no parity fixture for " << encoder << " (run scripts/make_parity_fixtures.py)";
}

}  // namespace
}  // namespace poslab
