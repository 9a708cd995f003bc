// Finite or stop: a run whose loss or gradient becomes NaN/inf ends with exit 1, a message
// naming the step and the last finite loss, and a results file that says status: diverged
// (evaluation NaN, no probes) — never a silent exit 0 with NaN numbers.
#include <gtest/gtest.h>

#include <cmath>

#include "cli_util.h"
#include "io/h5file.h"

namespace poslab {
namespace {

using testing::data_path;
using testing::fresh_dir;
using testing::run_poslab;

struct Diverged {
  testing::CliResult cli;
  std::string status, detail;
  std::vector<double> eval_loss;
  double skipped = 0;
};

Diverged run_tiny(const std::string& name, const std::string& sets) {
  const auto out = fresh_dir("nonfinite_" + name);
  Diverged d;
  d.cli = run_poslab("run " + data_path("experiments/tiny.yaml") + " --only none --out " +
                     out.string() + " " + sets);
  const auto path = out / "none.h5";
  if (!std::filesystem::exists(path)) return d;
  H5Reader r(path.string());
  d.status = r.attr_string("/", "status");
  if (r.has_attr("/", "status_detail")) d.detail = r.attr_string("/", "status_detail");
  d.eval_loss = r.read("/eval/loss");
  d.skipped = r.attr_double("/", "skipped_steps");
  return d;
}

void expect_diverged(const Diverged& d, const std::string& detail_part) {
  EXPECT_EQ(d.cli.exit_code, 1) << d.cli.err;
  EXPECT_NE(d.cli.err.find("diverged"), std::string::npos) << d.cli.err;
  EXPECT_EQ(d.status, "diverged");
  EXPECT_NE(d.detail.find(detail_part), std::string::npos) << d.detail;
  ASSERT_EQ(d.eval_loss.size(), 2u);
  for (double v : d.eval_loss) EXPECT_TRUE(std::isnan(v)) << "a diverged run is not evaluated";
}

TEST(NonFinite, AHugeLearningRateStopsTheRunNamingTheStepAndTheLastFiniteLoss) {
  const Diverged d = run_tiny("lr", "--set train.lr=1e30");
  expect_diverged(d, "at step ");
  EXPECT_NE(d.detail.find("last finite loss "), std::string::npos) << d.detail;
  EXPECT_EQ(d.detail.find("last finite loss none"), std::string::npos) << d.detail;
}

TEST(NonFinite, AHugeInitialisationStopsAtTheFirstStep) {
  const Diverged d = run_tiny("init", "--set model.init_std=1e30");
  expect_diverged(d, "at step 1;");
  EXPECT_NE(d.detail.find("last finite loss none"), std::string::npos) << d.detail;
}

TEST(NonFinite, RopeInterpolationThatOverflowsPositionsIsCaught) {
  const Diverged d = run_tiny("rope", "--set encoder.name=rope --set encoder.interpolation=1e-320");
  expect_diverged(d, "non-finite");
}

TEST(NonFinite, SkipStepSkipsUpdatesAndGivesUpAfterAHundredInARow) {
  const Diverged d = run_tiny("skip", "--set train.lr=1e30 --set train.steps=300 "
                                      "--set train.on_nonfinite=skip_step");
  expect_diverged(d, "100 updates skipped in a row");
  EXPECT_GE(d.skipped, 99);
}

TEST(NonFinite, AHealthyRunSaysComplete) {
  const Diverged d = run_tiny("healthy", "");
  EXPECT_EQ(d.cli.exit_code, 0) << d.cli.err;
  EXPECT_EQ(d.status, "complete");
  EXPECT_EQ(d.skipped, 0);
  for (double v : d.eval_loss) EXPECT_TRUE(std::isfinite(v));
}

// plot.py marks a diverged run and leaves it out of the seed-averaged curves.
TEST(NonFinite, PlotsMarkADivergedRunAndDoNotAverageIt) {
  const auto out = fresh_dir("nonfinite_plot");
  const std::string exp = data_path("experiments/tiny.yaml") + " --out " + out.string();
  ASSERT_EQ(run_poslab("run " + exp + " --only none").exit_code, 0);
  ASSERT_EQ(run_poslab("run " + exp + " --only learned --set train.lr=1e30").exit_code, 1);
  const auto err = out / "plot.err";
  const std::string plot = "/usr/bin/python3 " + std::string(POSLAB_SOURCE_DIR) +
                           "/scripts/plot.py extrapolation " + out.string() + " --out " +
                           (out / "plots").string() + " > /dev/null 2>" + err.string();
  ASSERT_EQ(std::system(plot.c_str()), 0) << testing::read_text(err);
  const std::string text = testing::read_text(err);
  EXPECT_NE(text.find("learned.h5: diverged (non-finite"), std::string::npos) << text;
  EXPECT_TRUE(std::filesystem::exists(out / "plots" / "extrapolation_token_accuracy.png"));
}

}  // namespace
}  // namespace poslab
