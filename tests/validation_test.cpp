// Inputs that used to pass validation and fail only after training (or crash, or hang),
// and the safe-write guarantees of results files (issue 18). Every case must be refused
// before the first training step, with one line and exit 2, or written whole or not at all.
#include <gtest/gtest.h>
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cli_util.h"
#include "encoders/encoder.h"
#include "io/config.h"
#include "io/h5file.h"
#include "io/results.h"
#include "io/temp_files.h"
#include "model/memory_estimate.h"
#include "model/transformer.h"

namespace poslab {
namespace {

namespace fs = std::filesystem;
using testing::data_path;
using testing::fresh_dir;
using testing::run_poslab;

// ---- Refused before training, from the command line ------------------------------------

struct BadCase {
  std::string file;                   // under tests/data/experiments
  std::string extra;                  // extra arguments
  std::vector<std::string> expected;  // substrings of the one-line error
};
std::ostream& operator<<(std::ostream& os, const BadCase& c) { return os << c.file << " " << c.extra; }

class RefusedBeforeTraining : public ::testing::TestWithParam<BadCase> {};

TEST_P(RefusedBeforeTraining, OneLineExitTwoNothingWritten) {
  const auto out = fresh_dir("refused");
  const auto start = std::chrono::steady_clock::now();
  const auto r = run_poslab("run " + data_path("experiments/" + GetParam().file) + " " +
                            GetParam().extra + " --out " + out.string());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 2) << r.err;
  // One line: the "[run] task ..." line printed when training starts never appeared.
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  for (const auto& s : GetParam().expected)
    EXPECT_NE(r.err.find(s), std::string::npos) << s << " in: " << r.err;
  EXPECT_TRUE(fs::is_empty(out)) << "nothing written";
  // The one-line check above is what shows no training started; the time is only a
  // guard against a refusal that first does minutes of work (bound far above a loaded
  // machine's process start-up).
  EXPECT_LT(seconds, 60.0) << "refused without work";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RefusedBeforeTraining,
    ::testing::Values(
        // Shapes within every bound that do not fit in memory (bad_alloc after training).
        BadCase{"bad_eval_length_memory.yaml", "",
                {"bad_eval_length_memory.yaml: eval.lengths[1]: length 100000", "needs an estimated",
                 " GB", "available"}},
        BadCase{"tiny.yaml", "--only none --set eval.lengths=[40000] --set eval.batch_size=20000",
                {"--set: eval.lengths[0]: length 40000", "needs an estimated", "available"}},
        BadCase{"tiny.yaml", "--only none --set train.batch_size=65536 --set task.length=4000",
                {"task.length: training at length 4000", "train.batch_size 65536",
                 "needs an estimated"}},
        // Parameters that do not fit, refused before the model allocates them.
        BadCase{"tiny.yaml",
                "--set model.d_model=65536 --set model.layers=64 --set model.heads=1 "
                "--set model.d_ff=65536",
                {"tiny.yaml: model: ", " parameters (0 of them the encoder's) need an estimated",
                 "available", "(in run 'none')"}},
        BadCase{"tiny.yaml", "--only learned --set encoder.max_length=2000000000",
                {"encoder: ", "(32000000000 of them the encoder's)", "available"}},
        // Sizes with no upper bound before (bad_alloc, int overflow, libgomp segfault).
        BadCase{"bad_huge_batch.yaml", "", {"train.batch_size", "between 1 and 65536", "2147483647"}},
        BadCase{"bad_huge_task_length.yaml", "", {"task.length", "between 1 and 1000000"}},
        BadCase{"tiny.yaml", "--threads 100000", {"--threads", "between 0 and 1024", "100000"}},
        BadCase{"tiny.yaml", "--threads=-2", {"--threads", "between 0 and 1024"}},
        BadCase{"tiny.yaml", "--set train.threads=5000", {"train.threads", "between 0 and 1024"}},
        BadCase{"tiny.yaml", "--set eval.batch_size=100000", {"eval.batch_size", "65536"}},
        BadCase{"tiny.yaml", "--set eval.lengths=[2000000]", {"eval.lengths[0]", "1000000"}},
        // Names that cannot be file names (H5Fcreate failed after training; a NUL cut the
        // name short; a suffix escaping --out).
        BadCase{"bad_long_run_name.yaml", "", {"runs[0].name", "at most 120", "300 bytes"}},
        BadCase{"bad_run_name_control.yaml", "", {"runs[0].name", "ok\\x00.h5.x", "contains '\\x00'"}},
        BadCase{"tiny.yaml", "--suffix '/../..'", {"--suffix", "contains '/'"}},
        BadCase{"tiny.yaml", "--suffix '__a b'", {"--suffix", "contains ' '"}},
        BadCase{"tiny.yaml", "--suffix __" + std::string(130, 'x'), {"--suffix", "bytes", "at most 120"}},
        // Corpora that are not regular files (reading /dev/zero never ended).
        BadCase{"bad_corpus_device.yaml", "", {"task.path", "/dev/zero", "regular"}},
        // A YAML alias bomb (54 s and 4 GB before bad_alloc).
        BadCase{"bad_billion_laughs.yaml", "", {"bad_billion_laughs.yaml", "alias", "100000"}}),
    [](const auto& info) { return "case" + std::to_string(info.index); });

// Runs the binary like run_poslab, killed after `seconds` so that a regression that blocks
// fails the test instead of hanging it.
testing::CliResult run_poslab_with_timeout(const std::string& args, int seconds) {
  const auto dir = fresh_dir("cli_timeout_capture");
  const auto out = dir / "stdout", err = dir / "stderr";
  const std::string cmd = "timeout " + std::to_string(seconds) + " " + POSLAB_BINARY + " " + args +
                          " >" + out.string() + " 2>" + err.string() + " </dev/null";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, testing::read_text(out),
          testing::read_text(err)};
}

TEST(Validation, FifoCorpusIsRefusedWithoutBlocking) {
  const auto dir = fresh_dir("fifo");
  const auto fifo = dir / "corpus.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto r = run_poslab_with_timeout("run " + data_path("experiments/bad_corpus_device.yaml") +
                                             " --set task.path=" + fifo.string() + " --out " +
                                             (dir / "out").string(),
                                         20);
  EXPECT_EQ(r.exit_code, 2) << "124 means it blocked: " << r.err;
  EXPECT_NE(r.err.find("task.path"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << r.err;
}

TEST(Validation, AbsurdOmpNumThreadsIsRefused) {
  const char* before = std::getenv("OMP_NUM_THREADS");
  const std::string saved = before ? before : "";
  ::setenv("OMP_NUM_THREADS", "4,100000", 1);
  const auto r = run_poslab("run " + data_path("experiments/tiny.yaml") + " --out " +
                            fresh_dir("omp_env").string());
  if (before)
    ::setenv("OMP_NUM_THREADS", saved.c_str(), 1);
  else
    ::unsetenv("OMP_NUM_THREADS");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("OMP_NUM_THREADS: expected at most 1024 threads, got '4,100000'"),
            std::string::npos)
      << r.err;
}

TEST(Validation, CorpusOverOneGibIsRefusedWithoutReadingIt) {
  const auto dir = fresh_dir("huge_corpus");
  const auto corpus = dir / "huge.txt";
  std::ofstream(corpus) << "a";
  fs::resize_file(corpus, (std::uintmax_t(1) << 30) + 1);  // sparse: nothing to read
  const auto start = std::chrono::steady_clock::now();
  const auto r = run_poslab("run " + data_path("experiments/bad_corpus_device.yaml") +
                            " --set task.path=" + corpus.string() + " --out " + (dir / "out").string());
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 2.0);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("task.path: expected a text file of at most 1073741824 bytes (1 GiB)"),
            std::string::npos)
      << r.err;
}

TEST(Validation, OutputFolderThatCannotBeCreatedIsRefused) {
  const auto r = run_poslab("run " + data_path("experiments/tiny.yaml") +
                            " --only none --out /proc/poslab_cannot_exist/results");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--out: cannot create folder '/proc/poslab_cannot_exist/results'"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(Validation, OutputFolderThatCannotBeWrittenIsRefused) {
  // /proc refuses new files even to root (a read-only or immutable folder, as a user
  // without root sees it); output.dir set from the command line names "--set".
  auto r = run_poslab("run " + data_path("experiments/tiny.yaml") +
                      " --only none --set output.dir=/proc");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--set: output.dir: cannot write in folder '/proc'"), std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  if (::geteuid() != 0) {  // permissions do not stop root
    const auto dir = fresh_dir("read_only_out");
    fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec);
    r = run_poslab("run " + data_path("experiments/tiny.yaml") + " --only none --out " +
                   dir.string());
    fs::permissions(dir, fs::perms::owner_all);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("cannot write in folder"), std::string::npos) << r.err;
  }
}

TEST(Validation, FolderAtTheResultsPathIsRefused) {
  const auto out = fresh_dir("folder_at_results");
  fs::create_directories(out / "learned.h5");
  const auto r = run_poslab("run " + data_path("experiments/tiny.yaml") + " --out " + out.string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("learned.h5' exists as a folder"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(in run 'learned')"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out / "none.h5")) << "checked before the first run trained";
}

// A dead process's PID: a child that has exited and been reaped.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

TEST(Validation, SweepSuffixIsAcceptedAndStaleTempFilesAreRemoved) {
  const auto out = fresh_dir("suffix_ok");
  const std::string stale = "none.h5.tmp." + std::to_string(dead_pid()) + ".0123456789abcdef";
  const std::string live = "none.h5.tmp." + std::to_string(::getpid()) + ".0123456789abcdef";
  std::ofstream(out / stale) << "left by a SIGKILL";
  std::ofstream(out / live) << "being written by a running process";
  std::ofstream(out / "notes.txt.tmp.1.0123456789abcdef") << "not ours";
  const auto r = run_poslab("run " + data_path("experiments/tiny.yaml") +
                            " --only none --suffix __encoder.name-1e-3__seed-2 --out " + out.string() +
                            " --set train.steps=2 --set eval.lengths=[4] --set eval.batches=1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out / "none__encoder.name-1e-3__seed-2.h5"));
  EXPECT_FALSE(fs::exists(out / stale)) << "its process is gone";
  EXPECT_TRUE(fs::exists(out / live)) << "its process is alive";
  EXPECT_TRUE(fs::exists(out / "notes.txt.tmp.1.0123456789abcdef"));
}

TEST(Validation, SigtermDuringTrainingLeavesNoTempFile) {
  const auto out = fresh_dir("sigterm");
  const auto err = out / "stderr";
  fs::create_directories(out / "results");
  const pid_t child = ::fork();
  if (child == 0) {
    const std::string stderr_path = err.string(), results = (out / "results").string(),
                      experiment = data_path("experiments/tiny.yaml");
    if (!std::freopen(stderr_path.c_str(), "w", stderr)) ::_exit(99);
    ::execl(POSLAB_BINARY, POSLAB_BINARY, "run", experiment.c_str(), "--only", "none", "--out",
            results.c_str(), "--set", "train.steps=10000000", "--set", "train.log_every=1",
            static_cast<char*>(nullptr));
    ::_exit(98);
  }
  // Wait until it trains (its first log line), then stop it as a scheduler would.
  bool training = false;
  for (int i = 0; i < 200 && !training; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    training = testing::read_text(err).find("step 1/") != std::string::npos;
  }
  EXPECT_TRUE(training) << testing::read_text(err);
  ::kill(child, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  // The step finishes, a checkpoint is written (README: Reproducibility and resuming), and
  // the run exits 143; no temp file and no results file are left.
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM) << "status " << status;
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(out / "results")) left.push_back(e.path().filename());
  EXPECT_EQ(left, std::vector<std::string>{"none.ckpt.h5"}) << "no temp file, no results file";
}

// ---- Refused in-process by the configuration loader ----------------------------------------

std::string write_file(const std::string& name, const std::string& text) {
  const auto path = fresh_dir("validation_yaml_" + name) / name;
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

std::string load_error(const std::string& path, const std::vector<std::string>& sets = {}) {
  try {
    load_experiment(path, sets);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

const std::string kTiny = "name: t\ntask: {name: copy, length: 4}\n";

TEST(Validation, BillionLaughsFailsInMilliseconds) {
  const auto start = std::chrono::steady_clock::now();
  const std::string error = load_error(data_path("experiments/bad_billion_laughs.yaml"));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(error.find("alias"), std::string::npos) << error;
  // Expanded, the bomb is 9^9 nodes (minutes and gigabytes); refused, it is milliseconds.
  // The bound sits between the two, far above what a loaded machine adds.
  EXPECT_LT(seconds, 20.0);
  // The same bomb in a --set value.
  std::string bomb = "{l0: &l0 [x, x, x, x, x, x, x, x, x]";
  for (int i = 1; i < 9; ++i) {
    bomb += ", l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 9; ++k) bomb += (k ? ", *l" : "*l") + std::to_string(i - 1);
    bomb += "]";
  }
  bomb += "}";
  const std::string path = write_file("tiny.yaml", kTiny);
  EXPECT_NE(load_error(path, {"grid=" + bomb}).find("--set"), std::string::npos);
}

TEST(Validation, AliasesWithinTheLimitStillWork) {
  const std::string path = write_file(
      "aliases.yaml", kTiny + "model: &m {layers: 1, d_model: 16, heads: 2, d_ff: 32}\n"
                              "runs:\n  - {name: a, model: *m}\n  - {name: b}\n");
  const auto runs = load_experiment(path, {});
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].model.d_model, 16);
}

TEST(Validation, DeepNestingAndTooManyRunsAreRefused) {
  std::string deep = kTiny + "grid: {a: ";
  for (int i = 0; i < 100; ++i) deep += "[";
  for (int i = 0; i < 100; ++i) deep += "]";
  deep += "}\n";
  EXPECT_NE(load_error(write_file("deep.yaml", deep)).find("64 deep"), std::string::npos);

  // 600 runs of a configuration with 2000+ nodes: each run copies everything else.
  std::string many = kTiny + "grid: {";
  for (int i = 0; i < 1000; ++i) many += (i ? ", k" : "k") + std::to_string(i) + ": 1";
  many += "}\nruns:\n";
  for (int i = 0; i < 600; ++i) many += "  - {name: r" + std::to_string(i) + "}\n";
  const auto start = std::chrono::steady_clock::now();
  const std::string error = load_error(write_file("many_runs.yaml", many));
  EXPECT_NE(error.find("runs: expected runs x nodes outside runs: to be at most 1000000, got 600 runs x "),
            std::string::npos)
      << error;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.0);
}

TEST(Validation, EverySizeHasAnUpperBoundStatedInTheMessage) {
  const std::string path = write_file("bounds.yaml", kTiny);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"model.layers=65", "between 1 and 64"},
      {"model.d_model=100000", "between 1 and 65536"},
      {"model.heads=2048", "between 1 and 1024"},
      {"model.d_ff=1000000", "between 1 and 65536"},
      {"train.steps=2000000000", "between 1 and 100000000"},
      {"train.warmup_steps=2000000000", "between 0 and 100000000"},
      {"train.log_every=2000000000", "between 1 and 100000000"},
      {"train.batch_size=70000", "between 1 and 65536"},
      {"train.threads=1025", "between 0 and 1024"},
      {"eval.batches=200000", "between 1 and 100000"},
      {"eval.batch_size=70000", "between 1 and 65536"},
      {"eval.lengths=[8, 1000001]", "between 1 and 1000000"},
  };
  for (const auto& [set, bound] : cases) {
    const std::string error = load_error(path, {set});
    EXPECT_NE(error.find(set.substr(0, set.find('='))), std::string::npos) << set << ": " << error;
    EXPECT_NE(error.find(bound), std::string::npos) << set << ": " << error;
  }
  std::string lengths = "eval.lengths=[";
  for (int i = 1; i <= 1001; ++i) lengths += (i > 1 ? "," : "") + std::to_string(i);
  EXPECT_NE(load_error(path, {lengths + "]"}).find("at most 1000 evaluation lengths"),
            std::string::npos);
}

TEST(Validation, RunNamesMustBeSafeFileNames) {
  const auto error_for = [](const std::string& quoted_name) {
    return load_error(write_file("names.yaml", kTiny + "runs:\n  - name: " + quoted_name + "\n"));
  };
  EXPECT_EQ(error_for("ok-name_1.5"), "");
  EXPECT_EQ(error_for(std::string(kMaxRunNameBytes, 'a')), "");
  EXPECT_NE(error_for(std::string(kMaxRunNameBytes + 1, 'a')).find("121 bytes"), std::string::npos);
  EXPECT_NE(error_for("\"a\\x01b\"").find("contains '\\x01'"), std::string::npos);
  EXPECT_NE(error_for("\"a\\0b\"").find("contains '\\x00'"), std::string::npos);
  EXPECT_NE(error_for("\"a\\tb\"").find("contains '\\x09'"), std::string::npos);
  EXPECT_NE(error_for(".hidden").find("starts with '.'"), std::string::npos);
  EXPECT_NE(error_for("..").find("starts with '.'"), std::string::npos);
  EXPECT_NE(error_for("a/b").find("contains '/'"), std::string::npos);
  EXPECT_NE(error_for("\"a b\"").find("contains ' '"), std::string::npos);
  EXPECT_NE(error_for("\"caf\xc3\xa9\"").find("contains '\\xc3'"), std::string::npos);
  // The experiment name is the run name when there is no runs: list.
  EXPECT_NE(load_error(write_file("exp_name.yaml", "name: a/b\ntask: {name: copy}\n"))
                .find("name: expected a run name"),
            std::string::npos);
}

// ---- The memory estimate ------------------------------------------------------------------

TransformerConfig small_config() {
  TransformerConfig c;
  c.vocab_size = 16;
  c.layers = 2;
  c.d_model = 32;
  c.heads = 4;
  c.d_ff = 64;
  return c;
}

TEST(MemoryEstimate, CountsEveryBufferOfAKnownShape) {
  const TransformerConfig c = small_config();
  const std::size_t B = 8, T = 16, N = B * T, D = 32, F = 64, V = 16, H = 4, L = 2;
  // Per layer: 9 [N, D], 4 [N], probs [B, H, T, T], 2 [N, F]. Shared: x_final, lnf, qkv
  // (3), dx, dtmp, dqkv (3), dq, dk, dv, dheads, datt = 15 [N, D]; lnf mean/rstd 2 [N];
  // logits, dlogits 2 [N, V]; dprobs [B, H, T, T]; dfc, dfc1 2 [N, F].
  const std::size_t elements =
      L * (9 * N * D + 4 * N + B * H * T * T + 2 * N * F) +
      15 * N * D + 2 * N + 2 * N * V + B * H * T * T + 2 * N * F;
  EXPECT_EQ(estimate_forward_bytes(c, int(B), int(T)), elements * sizeof(Real));
  // Quadratic in T through the attention probabilities.
  const std::size_t at_T = estimate_forward_bytes(c, 1, 4096), at_2T = estimate_forward_bytes(c, 1, 8192);
  EXPECT_GT(double(at_2T) / double(at_T), 3.5);
  // Buffers keep their largest size: training then a shorter evaluation holds the training size.
  EXPECT_EQ(estimate_forward_bytes_after(c, {{8, 16}, {4, 8}}), estimate_forward_bytes(c, 8, 16));
  EXPECT_GT(estimate_forward_bytes_after(c, {{8, 16}, {1, 64}}), estimate_forward_bytes(c, 1, 64));
  EXPECT_EQ(estimate_training_state_bytes(1000), 5 * 1000 * sizeof(Real));
}

TEST(MemoryEstimate, ParameterCountMatchesTheModel) {
  for (const bool tied : {true, false}) {
    TransformerConfig c = small_config();
    c.tied_embeddings = tied;
    const PluginSpec none{"none", ConfigNode(YAML::Load("{name: none}"), "encoder",
                                             std::make_shared<KeyOrigins>(), "test.yaml")};
    Transformer model(c, EncoderRegistry::instance().build(none, Transformer::model_dims(c)));
    EXPECT_EQ(estimate_parameter_count(c), model.params().count()) << "tied " << tied;
  }
}

TEST(MemoryEstimate, SaturatesInsteadOfWrapping) {
  TransformerConfig c = small_config();
  c.heads = 1024;
  c.d_model = 65536;
  const std::size_t huge = estimate_forward_bytes(c, 65536, 4'000'000);
  EXPECT_EQ(huge, std::numeric_limits<std::size_t>::max());
}

// The estimate against what a real model allocates: the heap grows by the activation
// buffers when the model first runs a shape (mallinfo2 counts bytes allocated, independent
// of what the allocator already holds).
TEST(MemoryEstimate, MatchesTheHeapGrowthOfARealModel) {
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "AddressSanitizer replaces malloc: mallinfo2 sees none of its allocations "
                  "(the optimised build runs this test)";
#endif
  const TransformerConfig c = small_config();
  const PluginSpec none{"none", ConfigNode(YAML::Load("{name: none}"), "encoder",
                                           std::make_shared<KeyOrigins>(), "test.yaml")};
  Transformer model(c, EncoderRegistry::instance().build(none, Transformer::model_dims(c)));
  const int B = 4, T = 256;
  std::vector<std::int32_t> ids(B * T), targets(B * T);
  for (int i = 0; i < B * T; ++i) ids[i] = targets[i] = 1 + i % 15;
  std::vector<std::uint8_t> mask(B * T, 1);
  // mallinfo2's uordblks counts the main arena only, and glibc moves its mmap threshold
  // after frees: one arena and a fixed threshold make every buffer counted (large ones as
  // mmapped bytes, hblkhd) whatever ran before in this process.
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_MMAP_THRESHOLD, 64 * 1024);
  const auto allocated = [] {
    const struct mallinfo2 m = mallinfo2();
    return double(m.uordblks + m.hblkhd);
  };
  const double before = allocated();
  model.forward(ids.data(), B, T);
  model.loss(targets.data(), mask.data());
  model.backward(targets.data(), mask.data());
  const double grown = allocated() - before;
  const double estimate = double(estimate_forward_bytes(c, B, T));
  EXPECT_GT(grown, estimate / 1.5) << "grown " << grown << ", estimate " << estimate;
  EXPECT_LT(grown, estimate * 1.5) << "grown " << grown << ", estimate " << estimate;
}

// Evaluation streams its attention (no [T, T] block): a 64k-token evaluation of the small
// model fits in well under 1 GiB, where the training forward's buffers would need ~275 GB.
TEST(MemoryEstimate, EvaluationAtLongLengthsNeedsNoAttentionMatrix) {
  TransformerConfig small;
  small.vocab_size = 256;
  small.layers = 2;
  small.d_model = 64;
  small.heads = 4;
  small.d_ff = 256;
  const int T = 65536;
  EXPECT_LT(estimate_inference_bytes_after(small, {{1, T}}), std::size_t(1) << 30);
  EXPECT_GT(estimate_forward_bytes(small, 1, T), std::size_t(100) << 30);
  // Buffers keep their largest size: a shorter length after a longer one costs nothing more.
  EXPECT_EQ(estimate_inference_bytes_after(small, {{1, T}, {4, 128}}),
            estimate_inference_bytes_after(small, {{1, T}}));
}

TEST(MemoryEstimate, AvailableMemoryIsReadOnLinux) {
  const auto available = available_memory_bytes();
  ASSERT_TRUE(available.has_value());
  EXPECT_GT(*available, std::size_t(16) << 20);
  EXPECT_EQ(format_bytes(41'234'000'000), "41.2 GB");
  EXPECT_EQ(format_bytes(12'000'000), "12.0 MB");
}

// ---- Safe writes of results files ----------------------------------------------------------

RunRecord record_of_writer(int writer, std::size_t values) {
  RunRecord r;
  r.experiment_name = "safe_write";
  r.run_name = "run";
  r.encoder = "none";
  r.task = "copy";
  r.config_yaml = "name: safe_write\n";
  r.seed = std::uint64_t(writer);
  r.step = r.loss = r.lr = r.grad_norm = r.tokens_per_second = r.elapsed_seconds = {double(writer)};
  r.eval.length = r.eval.sequence_length = r.eval.loss = r.eval.token_accuracy =
      r.eval.exact_match = r.eval.perplexity = {double(writer)};
  r.model_params.push_back({"weights", std::vector<double>(values, double(writer)), {values}, ""});
  return r;
}

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(SafeWrite, SymlinkAtTheOldFixedTempNameIsNotFollowed) {
  const auto dir = fresh_dir("symlink_temp");
  const auto victim = dir / "victim.txt";
  std::ofstream(victim) << "precious";
  fs::create_symlink(victim, dir / "run.h5.tmp");
  write_results((dir / "run.h5").string(), record_of_writer(7, 10));
  EXPECT_EQ(testing::read_text(victim), "precious");
  EXPECT_TRUE(fs::is_symlink(dir / "run.h5.tmp"));
  EXPECT_EQ(H5Reader((dir / "run.h5").string()).read("/train/loss"), std::vector<double>{7});
  EXPECT_EQ(files_in(dir), (std::vector<std::string>{"run.h5", "run.h5.tmp", "victim.txt"}));
}

TEST(SafeWrite, TempNamesAreUniqueAndRemovedWithoutCommit) {
  const auto dir = fresh_dir("unique_temp");
  const std::string final_path = (dir / "run.h5").string();
  {
    H5Writer a(final_path), b(final_path);
    EXPECT_NE(a.temp_path(), b.temp_path());
    EXPECT_EQ(a.temp_path().rfind(final_path + ".tmp." + std::to_string(::getpid()) + ".", 0), 0u)
        << a.temp_path();
    EXPECT_TRUE(fs::exists(a.temp_path()));
    EXPECT_TRUE(fs::exists(b.temp_path()));
  }
  EXPECT_TRUE(fs::is_empty(dir));
}

// Two processes write the same results file at once; each must produce a whole file of
// its own (the last rename wins), never a mixture.
TEST(SafeWrite, ConcurrentWritersOfOneRunEachWriteAWholeFile) {
  const auto dir = fresh_dir("concurrent");
  const std::string final_path = (dir / "run.h5").string();
  int ready[2], go[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(go), 0);
  std::vector<pid_t> children;
  for (int writer = 1; writer <= 2; ++writer) {
    const pid_t child = ::fork();
    if (child == 0) {
      // Both writers hold their temp files open before either writes (a barrier), which
      // with one fixed temp name made them truncate and interleave each other's data.
      try {
        H5Writer w(final_path);
        char byte = 'r';
        if (::write(ready[1], &byte, 1) != 1 || ::read(go[0], &byte, 1) != 1) ::_exit(3);
        const RunRecord r = record_of_writer(writer, 200000);
        w.attr("/", "writer", std::int64_t(writer));
        w.write("/train/loss", r.loss, {1});
        w.write("/model/weights", r.model_params[0].data, {r.model_params[0].data.size()});
        w.commit();
      } catch (...) {
        ::_exit(2);
      }
      ::_exit(0);
    }
    children.push_back(child);
  }
  char byte;
  for (int i = 0; i < 2; ++i) ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  const auto temps = files_in(dir);
  EXPECT_EQ(temps.size(), 2u) << "one temp file per writer";
  const char go_bytes[2] = {'g', 'g'};
  ASSERT_EQ(::write(go[1], go_bytes, 2), 2);
  for (const pid_t child : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  }
  for (int fd : {ready[0], ready[1], go[0], go[1]}) ::close(fd);

  H5Reader file(final_path);
  const double writer = file.attr_double("/", "writer");
  EXPECT_EQ(file.read("/train/loss"), std::vector<double>{writer});
  const auto weights = file.read("/model/weights");
  ASSERT_EQ(weights.size(), 200000u);
  EXPECT_EQ(std::count(weights.begin(), weights.end(), writer), 200000) << "no mixing";
  EXPECT_EQ(files_in(dir), std::vector<std::string>{"run.h5"}) << "no temp file left";
}

// SIGTERM while a results file is being written: the temp file is removed and the process
// still dies of SIGTERM (exit status 143 in a shell).
TEST(SafeWrite, SigtermWhileWritingRemovesTheTempFileAndKeepsTheSignal) {
  for (const int signal_number : {SIGTERM, SIGINT}) {
    const auto dir = fresh_dir("signal_while_writing");
    const pid_t child = ::fork();
    if (child == 0) {
      install_temp_file_cleanup();
      H5Writer w((dir / "run.h5").string());
      w.write("/train/loss", {1.0, 2.0}, {2});
      if (!fs::exists(w.temp_path())) ::_exit(3);
      ::raise(signal_number);
      ::_exit(4);  // not reached: the signal still terminates the process
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == signal_number) << "status " << status;
    EXPECT_TRUE(fs::is_empty(dir)) << "temp file removed";
  }
}

TEST(SafeWrite, StaleTempFilesOfDeadProcessesAreRemoved) {
  const auto dir = fresh_dir("stale_temp");
  const std::string dead = "a.h5.tmp." + std::to_string(dead_pid()) + ".00000000deadbeef";
  const std::string ours = "b.h5.tmp." + std::to_string(::getpid()) + ".00000000deadbeef";
  const std::vector<std::string> kept = {ours, "c.h5.tmp.1.short", "d.npy.tmp.999999.00000000deadbeef",
                                         "notes.txt"};
  for (const auto& name : kept) std::ofstream(dir / name) << "x";
  std::ofstream(dir / dead) << "x";
  EXPECT_EQ(remove_stale_temp_files(dir.string()), 1);
  EXPECT_FALSE(fs::exists(dir / dead));
  for (const auto& name : kept) EXPECT_TRUE(fs::exists(dir / name)) << name;
  EXPECT_EQ(remove_stale_temp_files((dir / "no_such_folder").string()), 0);
}

}  // namespace
}  // namespace poslab
