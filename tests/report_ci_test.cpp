// `poslab report --ci`: each cell gains the 95% percentile bootstrap interval of the mean
// over the row's seeds; a row of one seed says it has none. The numbers themselves are
// checked against exact enumerations in seed_interval_test.cpp; here the three seeds'
// interval is one worked out by hand: with values 0.5, 0.6, 0.9 the smallest and largest
// resample means (all 0.5, all 0.9) each have mass 1/27 > 2.5%, so it is [0.5, 0.9].
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "cli_util.h"
#include "io/results.h"
#include "synthetic_results.h"

namespace poslab {
namespace {

namespace fs = std::filesystem;

TEST(ReportCi, CellsShowTheBootstrapIntervalAndOneSeedSaysItHasNone) {
  const auto dir = testing::fresh_dir("report_ci");
  const double accuracy[] = {0.5, 0.6, 0.9};
  for (int seed = 1; seed <= 3; ++seed) {
    RunRecord r = testing::synthetic_run("learned__seed-" + std::to_string(seed), seed);
    r.config_yaml = "name: synthetic\nseed: " + std::to_string(seed) + "\nrun: learned\n";
    r.eval.token_accuracy = {accuracy[seed - 1], 0.25};
    write_results((dir / ("learned__seed-" + std::to_string(seed) + ".h5")).string(), r);
  }
  write_results((dir / "alone.h5").string(), testing::synthetic_run("alone", 1));

  const auto r = testing::run_poslab("report " + dir.string() + " --metrics token_accuracy --variants none --ci");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // mean 0.667, sd 0.208 (seed_interval_test: MeanAndSampleSd)
  EXPECT_NE(r.out.find("0.667 ± 0.208 [0.500, 0.900]"), std::string::npos) << r.out;
  // Equal values at length 8: a zero-width interval.
  EXPECT_NE(r.out.find("0.250 ± 0.000 [0.250, 0.250]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0.500 (1 seed: no interval)"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("95% percentile bootstrap"), std::string::npos) << r.err;

  // Without --ci the cells are as before.
  const auto plain = testing::run_poslab("report " + dir.string() + " --metrics token_accuracy --variants none");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.out.find('['), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("0.667 ± 0.208"), std::string::npos) << plain.out;

  // The same interval again (fixed resampling seed), and a bad --resamples is a usage error.
  EXPECT_EQ(testing::run_poslab("report " + dir.string() + " --metrics token_accuracy --variants none --ci").out, r.out);
  const auto bad = testing::run_poslab("report " + dir.string() + " --ci --resamples 5");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--resamples"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace poslab
