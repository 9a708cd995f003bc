// The long-context workflow end to end: a RoPE run with evaluation-only encoder variants
// through the CLI, the file's train_length and variant groups, and scripts/plot.py's
// perplexity-vs-length figure with the variants drawn.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include <sys/wait.h>

#include "cli_util.h"
#include "io/h5file.h"

namespace poslab {
namespace {

namespace fs = std::filesystem;

TEST(ExtrapolationPlot, RopeStretchedAtEvaluationIsDrawnBesideTheRunAsTrained) {
  const auto out = testing::fresh_dir("extrapolation_plot");
  const auto r = testing::run_poslab(
      "run " + testing::data_path("experiments/tiny.yaml") + " --only none --out " + out.string() +
      " --set encoder.name=rope --set eval.lengths=[4,16,64]" +
      " --set 'eval.variants={pi-x4: {encoder: {interpolation: 4}}, ntk-x4: {encoder: {ntk_factor: 4}}}'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  H5Reader f((out / "none.h5").string());
  EXPECT_EQ(f.attr_double("/eval", "train_length"), 4);
  EXPECT_EQ(f.members("/eval/variants"), (std::vector<std::string>{"ntk-x4", "pi-x4"}));
  EXPECT_EQ(f.read("/eval/variants/pi-x4/perplexity").size(), 3u);
  EXPECT_NE(f.read("/eval/variants/pi-x4/loss"), f.read("/eval/loss"));

  const std::string plot = "/usr/bin/python3 " +
                           (fs::path(POSLAB_SOURCE_DIR) / "scripts/plot.py").string() +
                           " extrapolation " + out.string() + " --metric perplexity --variants --out " +
                           (out / "plots").string() + " > /dev/null";
  ASSERT_EQ(std::system(plot.c_str()), 0);
  EXPECT_GT(fs::file_size(out / "plots" / "extrapolation_perplexity.png"), 10000u);

  // Loss by position inside the 64-token window, and a clear error for a length not evaluated.
  const std::string script = "/usr/bin/python3 " +
                             (fs::path(POSLAB_SOURCE_DIR) / "scripts/plot.py").string();
  const std::string positions = script + " positions " + out.string() + " --variants --out " +
                                (out / "plots").string() + " > /dev/null";
  ASSERT_EQ(std::system(positions.c_str()), 0);
  EXPECT_GT(fs::file_size(out / "plots" / "loss_by_position.png"), 10000u);
  const std::string missing = script + " positions " + out.string() + " --length 5 --out " +
                              (out / "plots").string() + " > /dev/null 2>&1";
  const int status = std::system(missing.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << status;
}

}  // namespace
}  // namespace poslab
