// End-to-end tests of the command line: a tiny experiment's results files have the schema,
// and bad input gives one clear line naming file and key, exit code 2, and no file.
#include <ostream>
#include <cmath>
#include <filesystem>

#include "cli_util.h"
#include "io/h5file.h"

namespace poslab {
namespace {

using testing::data_path;
using testing::fresh_dir;
using testing::run_poslab;

TEST(Cli, TinyExperimentWritesResultsWithTheSchema) {
  const auto out = fresh_dir("tiny");
  const auto r = run_poslab("run " + data_path("experiments/tiny.yaml") + " --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("exact_match"), std::string::npos) << "comparison table printed";
  for (const std::string run : {"none", "learned"}) {
    const auto path = out / (run + ".h5");
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
    H5Reader f(path.string());
    for (const char* attr : {"schema_version", "poslab_version", "created", "run_name", "encoder",
                             "task", "seed"})
      EXPECT_TRUE(f.has_attr("/", attr)) << attr;
    EXPECT_EQ(f.attr_string("/", "run_name"), run);
    EXPECT_EQ(f.attr_string("/", "encoder"), run);
    EXPECT_NE(f.read_string("/config").find("d_model: 16"), std::string::npos);
    for (const char* d : {"step", "loss", "lr", "tokens_per_second", "elapsed_seconds"})
      EXPECT_EQ(f.shape(std::string("/train/") + d), std::vector<std::size_t>{4}) << d;  // 20 steps / 5
    for (const char* d : {"length", "loss", "token_accuracy", "exact_match"})
      EXPECT_EQ(f.shape(std::string("/eval/") + d), std::vector<std::size_t>{2}) << d;
    EXPECT_EQ(f.read("/eval/length"), (std::vector<double>{4, 8}));
    EXPECT_TRUE(f.exists("/encoder"));
  }
  H5Reader learned((out / "learned.h5").string());
  EXPECT_EQ(learned.shape("/encoder/position_matrix"), (std::vector<std::size_t>{32, 16}));
}

// Results name the build's commit, the one `--version` prints (read at build time by
// cmake/write_git_commit.cmake, so not stale after new commits; tested there).
TEST(Cli, ResultsRecordTheCommitVersionPrints) {
  const auto out = fresh_dir("commit");
  ASSERT_EQ(run_poslab("run " + data_path("experiments/tiny.yaml") + " --only none --set train.steps=5 --out " +
                       out.string()).exit_code, 0);
  const std::string version = run_poslab("--version").out;
  H5Reader f((out / "none.h5").string());
  if (!f.has_attr("/", "git_commit")) {
    EXPECT_EQ(version.find("(commit "), std::string::npos) << version;
    return;
  }
  const std::string commit = f.attr_string("/", "git_commit");
  EXPECT_FALSE(commit.empty());
  EXPECT_NE(version.find("(commit " + commit + ")\n"), std::string::npos) << version << " vs " << commit;
}

TEST(Cli, SameSeedGivesIdenticalNumbers) {
  const auto a = fresh_dir("det_a"), b = fresh_dir("det_b");
  const std::string exp = data_path("experiments/tiny.yaml");
  ASSERT_EQ(run_poslab("run " + exp + " --only learned --out " + a.string()).exit_code, 0);
  ASSERT_EQ(run_poslab("run " + exp + " --only learned --out " + b.string()).exit_code, 0);
  H5Reader fa((a / "learned.h5").string()), fb((b / "learned.h5").string());
  EXPECT_EQ(fa.read("/train/loss"), fb.read("/train/loss"));
  EXPECT_EQ(fa.read("/eval/loss"), fb.read("/eval/loss"));
  EXPECT_EQ(fa.read("/encoder/position_matrix"), fb.read("/encoder/position_matrix"));
}

TEST(Cli, SetOverridesAKey) {
  const auto out = fresh_dir("set");
  const auto r = run_poslab("run " + data_path("experiments/tiny.yaml") +
                            " --only none --set train.steps=10 --set model.d_model=8 --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  H5Reader f((out / "none.h5").string());
  EXPECT_EQ(f.read("/train/step").back(), 10);
  EXPECT_NE(f.read_string("/config").find("d_model: 8"), std::string::npos);
}

struct BadCase {
  std::string file;      // under tests/data/experiments
  std::string extra;     // extra arguments
  std::vector<std::string> expected;  // substrings of the one-line error
};
// Readable test names in CTest output.
inline std::ostream& operator<<(std::ostream& os, const BadCase& c) { return os << c.file << " " << c.extra; }


class CliBadInput : public ::testing::TestWithParam<BadCase> {};

TEST_P(CliBadInput, OneLineErrorExitTwoNothingWritten) {
  const auto out = fresh_dir("bad");
  const auto r = run_poslab("run " + data_path("experiments/" + GetParam().file) + " " +
                            GetParam().extra + " --out " + out.string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  for (const auto& s : GetParam().expected) EXPECT_NE(r.err.find(s), std::string::npos) << s << " in: " << r.err;
  EXPECT_TRUE(std::filesystem::is_empty(out)) << "nothing half-written";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CliBadInput,
    ::testing::Values(
        BadCase{"bad_malformed.yaml", "", {"bad_malformed.yaml", "line"}},
        BadCase{"bad_unknown_key.yaml", "", {"bad_unknown_key.yaml", "model.d_modle", "unknown key"}},
        BadCase{"bad_type.yaml", "", {"bad_type.yaml", "model.layers", "integer"}},
        BadCase{"no_such_experiment.yaml", "", {"no_such_experiment.yaml"}},
        BadCase{"bad_missing_include.yaml", "", {"bad_missing_include.yaml", "include", "no_such_file.yaml"}},
        BadCase{"bad_missing_text.yaml", "", {"bad_missing_text.yaml", "task.path", "no_such_corpus.txt"}},
        BadCase{"bad_learned_too_short.yaml", "", {"bad_learned_too_short.yaml", "encoder.max_length", "16"}},
        BadCase{"bad_second_run.yaml", "", {"bad_second_run.yaml", "encoder.bsae", "unknown key"}},
        BadCase{"tiny.yaml", "--set model.heads=3", {"model.heads"}},
        BadCase{"tiny.yaml", "--set encoder.name=nosuch", {"encoder.name", "nosuch"}},
        BadCase{"bad_variant.yaml", "", {"bad_variant.yaml", "eval.variants.sparse.eval_p_ignroe", "unknown key"}},
        // randomized positions: a T-subset of 0..P-1 needs T <= P for every length (copy 16
        // is 32 tokens); learned needs a row per position; none and cope have no index
        // positions to randomize.
        BadCase{"randomized.yaml", "--only rope --set encoder.randomized.max_position=20",
                {"encoder.randomized.max_position", "expected max_position >= 32"}},
        BadCase{"randomized.yaml", "--only learned --set encoder.max_length=40",
                {"encoder.max_length", "max_position = 64"}},
        BadCase{"randomized.yaml", "--only rope --set encoder.randomized.max_position=0",
                {"encoder.randomized.max_position", "between 1"}},
        BadCase{"tiny.yaml", "--only none --set encoder.randomized.max_position=64",
                {"encoder.randomized", "unknown key"}},
        BadCase{"randomized.yaml", "--only rope --set encoder.name=cope --set encoder.randomized.max_position=64",
                {"encoder.randomized", "unknown key"}},
        BadCase{"variants.yaml", "--set eval.variants.sparse.eval_p_ignroe=0.5",
                {"--set", "eval.variants.sparse.eval_p_ignroe", "unknown key"}},
        BadCase{"variants.yaml", "--set eval.variants.sparse.eval_p_ignore=2",
                {"eval.variants.sparse.eval_p_ignore", "between"}},
        BadCase{"variants.yaml", "--set eval.variants.sparse.name=copy",
                {"eval.variants.sparse.name", "keeps the run's task"}},
        BadCase{"variants.yaml", "--set eval.variants.sparse={}", {"eval.variants.sparse", "non-empty mapping"}},
        BadCase{"variants.yaml", "--set eval.variants=[1]", {"eval.variants", "mapping from variant name"}}),
    [](const auto& info) { return "case" + std::to_string(info.index); });

// eval.variants: the trained model is evaluated once more per variant, and the variants
// leave training and the task-as-trained evaluation bit-for-bit as they were.
TEST(Cli, EvalVariantsEvaluateTheSameModelOnChangedTaskOptions) {
  const auto out = fresh_dir("variants");
  const auto r = run_poslab("run " + data_path("experiments/variants.yaml") + " --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("sparse"), std::string::npos) << r.out;
  H5Reader plain((out / "plain.h5").string()), with((out / "with_variants.h5").string());
  EXPECT_FALSE(plain.exists("/eval/variants"));
  EXPECT_EQ(with.members("/eval/variants"), (std::vector<std::string>{"dense", "sparse"}));
  EXPECT_EQ(plain.read("/train/loss"), with.read("/train/loss"));
  EXPECT_EQ(plain.read("/eval/token_accuracy"), with.read("/eval/token_accuracy"));
  for (const std::string v : {"dense", "sparse"}) {
    const std::string g = "/eval/variants/" + v;
    EXPECT_EQ(with.read(g + "/length"), (std::vector<double>{6, 12}));
    EXPECT_EQ(with.read(g + "/token_accuracy").size(), 2u);
    EXPECT_NE(with.attr_string(g, "task_options").find("eval_p_ignore"), std::string::npos);
  }
  // Different data: a dense variant has more reads per sequence than the training density.
  EXPECT_NE(with.read("/eval/variants/dense/loss"), with.read("/eval/loss"));

  const auto report = run_poslab("report " + out.string() + " --metrics token_accuracy");
  ASSERT_EQ(report.exit_code, 0) << report.err;
  const auto header = report.out.substr(0, report.out.find('\n'));
  const auto at = [&](const std::string& c) { return header.find(c); };
  ASSERT_NE(at("token_accuracy@6/sparse"), std::string::npos) << header;
  EXPECT_LT(at("token_accuracy@6 "), at("token_accuracy@6/dense")) << header;
  EXPECT_LT(at("token_accuracy@6/sparse"), at("token_accuracy@12 ")) << header;
}

// A variant of a task set in an included file keeps that file's relative corpus path.
TEST(Cli, EvalVariantKeepsTheTaskFilesRelativePath) {
  const auto out = fresh_dir("variant_text");
  const auto r = run_poslab("run " + data_path("experiments/variant_text.yaml") + " --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  H5Reader f((out / "variant_text.h5").string());
  EXPECT_EQ(f.read("/eval/variants/more_held_out/length"), (std::vector<double>{16}));
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run_poslab("").exit_code, 2);
  EXPECT_EQ(run_poslab("frobnicate").exit_code, 2);
  EXPECT_EQ(run_poslab("run --no-such-flag x.yaml").exit_code, 2);
  EXPECT_EQ(run_poslab("run --help").exit_code, 0);
  EXPECT_EQ(run_poslab("--version").exit_code, 0);
}

// Idle OpenMP threads sleep by default (sys/openmp_wait.h): libgomp reads the policy
// before main(), so the CLI re-executes itself with it set. A user's choice is kept.
TEST(Cli, OpenMpWaitsPassivelyUnlessTheUserChose) {
  const std::string unset = "-u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u POSLAB_WAIT_DEFAULTED";
  const auto by_default = run_poslab("--version", unset);
  ASSERT_EQ(by_default.exit_code, 0) << by_default.err;
  EXPECT_NE(by_default.out.find("OpenMP waiting: OMP_WAIT_POLICY=passive (poslab default)"), std::string::npos)
      << by_default.out;
  const auto active = run_poslab("--version", unset + " OMP_WAIT_POLICY=active");
  EXPECT_NE(active.out.find("OpenMP waiting: OMP_WAIT_POLICY=active\n"), std::string::npos) << active.out;
  const auto spin = run_poslab("--version", unset + " GOMP_SPINCOUNT=1000");
  EXPECT_NE(spin.out.find("OpenMP waiting: GOMP_SPINCOUNT=1000\n"), std::string::npos) << spin.out;
  // A run's exit code and errors pass through the re-exec unchanged.
  EXPECT_EQ(run_poslab("frobnicate", unset).exit_code, 2);
}

TEST(Cli, EncodeWritesTheSeedArticleMatrix) {
  const auto out = fresh_dir("encode");
  const auto file = (out / "sin.h5").string();
  const auto r = run_poslab("encode --encoder sinusoidal --length 100 --dim 512 --out " + file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  H5Reader f(file);
  ASSERT_EQ(f.shape("/position_matrix"), (std::vector<std::size_t>{100, 512}));
  const auto P = f.read("/position_matrix");
  // P(k, 2i) = sin(k / 10000^(2i/d)), P(k, 2i+1) = cos(...)
  for (int k : {0, 1, 37, 99})
    for (int i : {0, 1, 100, 255}) {
      const double angle = k / std::pow(10000.0, 2.0 * i / 512);
      EXPECT_NEAR(P[k * 512 + 2 * i], std::sin(angle), 1e-12);
      EXPECT_NEAR(P[k * 512 + 2 * i + 1], std::cos(angle), 1e-12);
    }
}

TEST(Cli, ListShowsEveryEncoderWithOptions) {
  const auto r = run_poslab("list encoders");
  ASSERT_EQ(r.exit_code, 0);
  for (const char* s : {"none", "sinusoidal", "learned", "max_length", "512", "randomized (section",
                        "randomized.max_position (int, required"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
}

// Randomized positions end to end: the runs train on length 4 and evaluate at 8 and 16 with
// positions drawn from 0..63; the same seed gives the same numbers, and the positions are
// really drawn (the randomized rope trains differently from plain rope on the same batches).
TEST(Cli, RandomizedPositionsTrainAndEvaluatePastTheTrainingLength) {
  const auto a = fresh_dir("randomized_a"), b = fresh_dir("randomized_b");
  const std::string exp = data_path("experiments/randomized.yaml");
  const auto r = run_poslab("run " + exp + " --out " + a.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(run_poslab("run " + exp + " --only rope --out " + b.string()).exit_code, 0);
  for (const std::string run : {"rope", "learned"}) {
    H5Reader f((a / (run + ".h5")).string());
    EXPECT_EQ(f.read("/eval/length"), (std::vector<double>{4, 8, 16})) << run;
    for (double loss : f.read("/eval/loss")) EXPECT_TRUE(std::isfinite(loss)) << run;
    EXPECT_NE(f.read_string("/config").find("max_position: 64"), std::string::npos) << run;
  }
  H5Reader first((a / "rope.h5").string()), again((b / "rope.h5").string()),
      plain((a / "rope_plain.h5").string());
  EXPECT_EQ(first.read("/train/loss"), again.read("/train/loss"));
  EXPECT_EQ(first.read("/eval/loss"), again.read("/eval/loss"));
  EXPECT_NE(first.read("/train/loss"), plain.read("/train/loss"));
}

}  // namespace
}  // namespace poslab

namespace poslab {
namespace {

TEST(CliReport, SeedsOfOneConfigurationAreOneRowWithMeanAndSd) {
  const auto a = testing::fresh_dir("report_a"), b = testing::fresh_dir("report_b");
  const std::string exp = testing::data_path("experiments/tiny.yaml");
  ASSERT_EQ(testing::run_poslab("run " + exp + " --out " + a.string()).exit_code, 0);
  ASSERT_EQ(testing::run_poslab("run " + exp + " --set seed=11 --out " + b.string()).exit_code, 0);
  const auto r = testing::run_poslab("report " + a.string() + " " + b.string() +
                                     " --format csv --metrics exact_match --probes none.x");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // header + one row per configuration (none, learned), each over 2 seeds
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3) << r.out;
  EXPECT_NE(r.out.find("run,encoder,seeds,exact_match@4,exact_match@8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("learned,learned,2,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" ± "), std::string::npos) << r.out;
  EXPECT_EQ(testing::run_poslab("report " + a.string() + " --format pdf").exit_code, 2);
  EXPECT_EQ(testing::run_poslab("report /no/such/folder").exit_code, 2);
}

}  // namespace
}  // namespace poslab

namespace poslab {
namespace {

TEST(CliSweep, ExpandsTheGridAndAnInterruptedSweepResumesWithTheMissingRunsOnly) {
  const auto out = testing::fresh_dir("sweep");
  const std::string cmd = "sweep " + testing::data_path("experiments/sweep.yaml") + " --jobs 2 --out " + out.string();
  const auto first = testing::run_poslab(cmd);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(out))
    if (e.path().extension() == ".h5") files.push_back(e.path());
  ASSERT_EQ(files.size(), 4u) << first.err;
  const auto kept = out / "sweep__name-sinusoidal__seed-2.h5";
  ASSERT_TRUE(std::filesystem::exists(kept)) << first.err;
  EXPECT_EQ(H5Reader(kept.string()).attr_double("/", "seed"), 2);

  // "Interrupt": one run's results are missing. A rerun does that run only.
  const auto lost = out / "sweep__name-none__seed-1.h5";
  std::filesystem::remove(lost);
  const auto kept_time = std::filesystem::last_write_time(kept);
  const auto second = testing::run_poslab(cmd);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("4 runs, 1 to do"), std::string::npos) << second.err;
  EXPECT_TRUE(std::filesystem::exists(lost));
  EXPECT_EQ(std::filesystem::last_write_time(kept), kept_time) << "a finished run was redone";
}

}  // namespace
}  // namespace poslab
