// The studies under experiments/: every study and its quick profile stay valid as the code
// changes (each expands and validates all its runs), and the smallest quick case runs end
// to end — sweep, report, and the plotting script's grouped bars — in a few seconds.
#include <algorithm>
#include <filesystem>

#include "cli_util.h"

namespace poslab {
namespace {

namespace fs = std::filesystem;

std::string study_file(const std::string& study, const std::string& profile) {
  return (fs::path(POSLAB_SOURCE_DIR) / "experiments" / study / profile).string();
}

struct StudyCase {
  const char* study;
  int runs;  // runs × grid combinations
  const char* full = "experiment.yaml";  // a study may hold more than one configuration
  const char* quick = "quick.yaml";
};

class Studies : public ::testing::TestWithParam<StudyCase> {};

TEST_P(Studies, FullAndQuickProfilesValidateEveryRun) {
  for (const std::string profile : {GetParam().full, GetParam().quick}) {
    const auto r = testing::run_poslab("sweep " + study_file(GetParam().study, profile) + " --dry-run");
    ASSERT_EQ(r.exit_code, 0) << profile << ": " << r.err;
    EXPECT_NE(r.err.find(std::to_string(GetParam().runs) + " runs"), std::string::npos) << profile << ": " << r.err;
  }
}

INSTANTIATE_TEST_SUITE_P(Experiments, Studies,
                         ::testing::Values(// 4 runs x 3 seeds each
                                           StudyCase{"position_matrices", 12}, StudyCase{"wang_chen_2020", 12},
                                           StudyCase{"cope_counting", 45}, StudyCase{"length_generalization", 117},
                                           // 13 schemes x 5 tasks x 3 seeds
                                           StudyCase{"length_generalization", 195, "reasoning.yaml",
                                                     "reasoning_quick.yaml"},
                                           // 14 schemes x 3 seeds
                                           StudyCase{"flip_flop", 42}, StudyCase{"long_context", 39},
                                           // 3 schemes x 3 seeds
                                           StudyCase{"selective_copy", 9}),
                         [](const auto& info) {
                           const std::string full = info.param.full;
                           return std::string(info.param.study) +
                                  (full == "experiment.yaml" ? "" : "_" + full.substr(0, full.find('.')));
                         });

// A study folder added under experiments/ is validated only once it is in the list above.
TEST(StudyFolders, EveryStudyFolderIsValidated) {
  const std::vector<std::string> listed{"position_matrices", "wang_chen_2020", "cope_counting",
                                        "length_generalization", "flip_flop", "long_context",
                                        "selective_copy"};
  for (const auto& entry : fs::directory_iterator(fs::path(POSLAB_SOURCE_DIR) / "experiments")) {
    const std::string name = entry.path().filename().string();
    if (!fs::exists(entry.path() / "quick.yaml")) continue;  // e.g. default/: not a study
    EXPECT_NE(std::find(listed.begin(), listed.end(), name), listed.end())
        << "experiments/" << name << " is not in tests/studies_test.cpp's list";
  }
}

// The smallest quick case: CoPE counting with three variables, two schemes, a few steps.
TEST(StudiesSmallestCase, CountingSweepReportsAndPlots) {
  const auto out = testing::fresh_dir("study_counting");
  // One seed of the three (grid.seed=[1]): 15 runs of 10 steps.
  const auto sweep = testing::run_poslab("sweep " + study_file("cope_counting", "quick.yaml") +
                                         " --jobs 2 --set train.steps=10 --set eval.batches=1"
                                         " --set 'grid.seed=[1]' --out " + out.string());
  ASSERT_EQ(sweep.exit_code, 0) << sweep.err;
  EXPECT_TRUE(fs::exists(out / "cope__variables-5__seed-1.h5"));
  EXPECT_TRUE(fs::exists(out / "cope_released__variables-5__seed-1.h5"));
  EXPECT_FALSE(fs::exists(out / "cope__variables-5__seed-2.h5"));
  const auto report = testing::run_poslab("report " + out.string() + " --metrics exact_match");
  ASSERT_EQ(report.exit_code, 0) << report.err;
  for (const char* row : {"absolute__variables-1", "relative__variables-3", "cope__variables-5",
                          "cope_released__variables-3", "rope__variables-1"})
    EXPECT_NE(report.out.find(row), std::string::npos) << row << "\n" << report.out;
  EXPECT_NE(report.out.find("exact_match@32"), std::string::npos) << report.out;

  const std::string plot = "/usr/bin/python3 " + (fs::path(POSLAB_SOURCE_DIR) / "scripts/plot.py").string() +
                           " grid " + out.string() + " --metric exact_match --error --out " +
                           (out / "plots").string() + " > /dev/null";
  ASSERT_EQ(std::system(plot.c_str()), 0);
  EXPECT_GT(fs::file_size(out / "plots" / "grid_error_exact_match.png"), 10000u);
}

}  // namespace
}  // namespace poslab
