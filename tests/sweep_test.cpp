// poslab sweep's reliability: file names that cannot collide, reruns that know stale
// results from finished ones, signals that stop the children, and one sweep per folder.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "cli_util.h"
#include "io/existing_result.h"
#include "io/file_lock.h"
#include "io/file_name.h"
#include "io/h5file.h"

extern char** environ;

namespace poslab {
namespace {

namespace fs = std::filesystem;

// ---- File names ------------------------------------------------------------------------

bool only_safe_characters(const std::string& s) {
  for (const char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') return false;
  return true;
}

TEST(SweepFileNames, PlainValuesStayReadableAndOthersAreEscaped) {
  EXPECT_EQ(encode_file_name_component("learned"), "learned");
  EXPECT_EQ(encode_file_name_component("flip_flop"), "flip_flop");
  EXPECT_EQ(encode_file_name_component("0.001"), "0.001");
  EXPECT_EQ(encode_file_name_component("1e-3"), "1e-3");
  EXPECT_EQ(encode_file_name_component("1e+3"), "1e_2B3");
  EXPECT_EQ(encode_file_name_component("../x"), ".._2Fx");
  EXPECT_EQ(encode_file_name_component("[1, 2]"), "_5B1_2C_202_5D");
  // A '_' that would read as an escape, form "__" or end the name is escaped itself.
  EXPECT_EQ(encode_file_name_component("a_2B"), "a_5F2B");
  EXPECT_EQ(encode_file_name_component("a__b"), "a_5F_b");
  EXPECT_EQ(encode_file_name_component("a_"), "a_5F");
  EXPECT_EQ(encode_file_name_component("\xc3\xa9"), "_C3_A9");
}

TEST(SweepFileNames, EveryStringDecodesBackSoNoTwoShareAName) {
  // Exhaustive over short strings of the characters that matter, then random long ones.
  const std::string alphabet = "_-.aF2+/ \x01\xff";
  std::set<std::string> names;
  std::size_t count = 0;
  std::vector<std::string> level = {""};
  for (int length = 1; length <= 4; ++length) {
    std::vector<std::string> longer;
    for (const auto& prefix : level)
      for (const char c : alphabet) longer.push_back(prefix + c);
    for (const auto& s : longer) {
      const std::string e = encode_file_name_component(s);
      ASSERT_EQ(decode_file_name_component(e), s) << e;
      ASSERT_TRUE(only_safe_characters(e)) << e;
      ASSERT_EQ(e.find("__"), std::string::npos) << e;
      ASSERT_NE(e.back(), '_') << e;
      names.insert(e);
      ++count;
    }
    level = std::move(longer);
  }
  EXPECT_EQ(names.size(), count);

  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 40, ' ');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    const std::string e = encode_file_name_component(s);
    ASSERT_EQ(decode_file_name_component(e), s);
    ASSERT_TRUE(only_safe_characters(e));
  }
}

TEST(SweepFileNames, LongNamesAreCutAndEndInAHashOfTheWholeName) {
  EXPECT_EQ(short_hash(""), "cbf29ce484222325");  // FNV-1a 64 reference values
  EXPECT_EQ(short_hash("a"), "af63dc4c8601ec8c");
  EXPECT_EQ(bounded_suffix("run", "__seed-1", 200), "__seed-1");

  const std::string long_a = "__name-" + std::string(300, 'x') + "a";
  const std::string long_b = "__name-" + std::string(300, 'x') + "b";
  const std::string a = bounded_suffix("run", long_a, 200), b = bounded_suffix("run", long_b, 200);
  EXPECT_EQ(a.size() + 3, 200u);
  EXPECT_NE(a, b) << "names that differ only past the cut must still differ";
  EXPECT_EQ(a, bounded_suffix("run", long_a, 200));
  EXPECT_EQ(a.substr(a.size() - 18), "__" + short_hash("run" + long_a));
}

// ---- The lock --------------------------------------------------------------------------

TEST(SweepLock, ASecondHolderIsRefusedUntilTheFirstLetsGo) {
  const auto path = (testing::fresh_dir("sweep_lock") / ".poslab-sweep.lock").string();
  auto first = std::make_unique<ExclusiveFileLock>(path);
  ASSERT_TRUE(first->try_lock());
  ExclusiveFileLock second(path);
  EXPECT_FALSE(second.try_lock());
  EXPECT_EQ(second.recorded_holder(), ::getpid());
  first.reset();
  EXPECT_TRUE(second.try_lock());
}

// ---- Existing results ------------------------------------------------------------------

const char* kConfig =
    "name: x\nseed: 1\ntrain: {steps: 10, batch_size: 8, threads: 1}\neval: {lengths: [4, 8]}\n";

void write_fake_result(const fs::path& path, const std::string& config,
                       const std::map<std::string, std::string>& attrs, std::int64_t schema = 1) {
  H5Writer w(path.string());
  w.attr("/", "schema_version", schema);
  for (const auto& [name, value] : attrs) w.attr("/", name, value);
  w.write_string("/config", config);
  // The layout of a run's results: a legacy file (no file_kind) is recognised by it.
  w.create_group("/train");
  w.create_group("/eval");
  w.commit();
}

TEST(SweepExistingResult, DoneOnlyForAFinishedRunOfTheSameConfiguration) {
  const auto dir = testing::fresh_dir("sweep_existing");
  const auto path = dir / "r.h5";
  EXPECT_EQ(inspect_existing_result(path.string(), kConfig).state, ResultState::missing);

  write_fake_result(path, kConfig, {});  // legacy: no file_kind, no status
  EXPECT_EQ(inspect_existing_result(path.string(), kConfig).state, ResultState::complete);
  // Same tree, other formatting and key order: still the same configuration.
  EXPECT_EQ(inspect_existing_result(path.string(),
                                    "seed: 1\nname: x\ntrain:\n  batch_size: 8\n  steps: 10\n  threads: 1\n"
                                    "eval: {lengths: [4, 8]}\n").state,
            ResultState::complete);

  const auto stale = inspect_existing_result(
      path.string(), "name: x\nseed: 1\ntrain: {steps: 12, batch_size: 8, threads: 1}\neval: {lengths: [4, 8]}\n");
  EXPECT_EQ(stale.state, ResultState::stale);
  EXPECT_EQ(stale.reason, "train.steps: 10 in the file, 12 requested");
  EXPECT_EQ(first_yaml_difference(kConfig, "name: x\nseed: 1\ntrain: {steps: 10, batch_size: 8, threads: 2}\n"
                                           "eval: {lengths: [4, 8]}\n"),
            "train.threads: 1 in the file, 2 requested");
  EXPECT_EQ(first_yaml_difference(kConfig, "name: x\nseed: 1\ntrain: {steps: 10, batch_size: 8, threads: 1}\n"
                                           "eval: {lengths: [4]}\n"),
            "eval.lengths: [4, 8] in the file, [4] requested");
  EXPECT_EQ(first_yaml_difference(kConfig, "name: x\nseed: 1\ntrain: {steps: 10, batch_size: 8, threads: 1}\n"),
            "eval: {lengths: [4, 8]} in the file, absent requested");

  fs::remove(path);
  write_fake_result(path, kConfig, {{"file_kind", "run_results"}, {"status", "diverged"}});
  EXPECT_EQ(inspect_existing_result(path.string(), kConfig).state, ResultState::diverged);

  fs::remove(path);
  write_fake_result(path, kConfig, {{"file_kind", "run_results"}, {"status", "complete"}});
  EXPECT_EQ(inspect_existing_result(path.string(), kConfig).state, ResultState::complete);

  for (const auto& attrs : std::vector<std::map<std::string, std::string>>{
           {{"file_kind", "probe"}}, {{"file_kind", "encoding"}}, {{"status", "running"}}}) {
    fs::remove(path);
    write_fake_result(path, kConfig, attrs);
    const auto r = inspect_existing_result(path.string(), kConfig);
    EXPECT_EQ(r.state, ResultState::unusable) << attrs.begin()->second;
    EXPECT_NE(r.reason.find(attrs.begin()->second), std::string::npos) << r.reason;
  }
  fs::remove(path);
  write_fake_result(path, kConfig, {}, 7);
  EXPECT_EQ(inspect_existing_result(path.string(), kConfig).state, ResultState::unusable);

  fs::remove(path);
  std::ofstream(path) << "not hdf5";
  EXPECT_EQ(inspect_existing_result(path.string(), kConfig).state, ResultState::unusable);
}

// ---- The command -----------------------------------------------------------------------

// A tiny experiment with the given grid (YAML flow mapping) and training steps.
fs::path write_experiment(const fs::path& dir, const std::string& grid, int steps) {
  const auto path = dir / "sweep.yaml";
  std::ofstream(path) << "name: s\n"
                         "task: {name: copy, vocab: 6, min_length: 2, length: 4}\n"
                         "model: {layers: 1, d_model: 16, heads: 2, d_ff: 32}\n"
                         "encoder: {name: none}\n"
                         "train: {steps: " << steps << ", batch_size: 4, warmup_steps: 1, log_every: 5}\n"
                         "eval: {lengths: [4], batches: 1, batch_size: 4}\n"
                         "output: {dir: results}\n"
                         "grid: " << grid << "\n";
  return path;
}

std::vector<fs::path> files_ending(const fs::path& dir, const std::string& ending) {
  std::vector<fs::path> found;
  if (!fs::exists(dir)) return found;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() >= ending.size() && name.compare(name.size() - ending.size(), ending.size(), ending) == 0)
      found.push_back(e.path());
  }
  return found;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(CliSweepNames, ValuesThatOnceSharedAFileNameWriteTwoFiles) {
  const auto dir = testing::fresh_dir("sweep_names");
  const auto yaml = write_experiment(dir, "{train.grad_clip: [1e-3, 1e+3]}", 2);
  const auto out = dir / "results";
  const auto r = testing::run_poslab("sweep " + yaml.string() + " --jobs 2 --threads 1 --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "2 of 2 runs completed")) << r.err;
  const auto small = out / "s__grad_clip-1e-3.h5", large = out / "s__grad_clip-1e_2B3.h5";
  ASSERT_TRUE(fs::exists(small)) << r.err;
  ASSERT_TRUE(fs::exists(large)) << r.err;
  EXPECT_EQ(files_ending(out, ".h5").size(), 2u);
  const auto clip = [](const fs::path& p) {
    return YAML::Load(H5Reader(p.string()).read_string("/config"))["train"]["grad_clip"].as<double>();
  };
  EXPECT_EQ(clip(small), 1e-3);
  EXPECT_EQ(clip(large), 1e3);
}

TEST(CliSweepNames, KeysEndingAlikeAreWrittenInFullAndLongNamesEndInAHash) {
  const auto dir = testing::fresh_dir("sweep_long_names");
  const std::string long_text(300, 'x');
  const auto yaml = write_experiment(
      dir, "{task.name: [copy], encoder.name: [none], description: [" + long_text + "a, " + long_text + "b]}", 2);
  const auto r = testing::run_poslab("sweep " + yaml.string() + " --dry-run --out " + (dir / "results").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::vector<std::string> names;
  for (std::string line; std::getline(lines, line);) names.push_back(fs::path(line).filename().string());
  ASSERT_EQ(names.size(), 2u) << r.out;
  EXPECT_NE(names[0], names[1]);
  for (const auto& name : names) {
    EXPECT_EQ(name.rfind("s__task.name-copy__encoder.name-none__description-xxx", 0), 0u) << name;
    EXPECT_EQ(name.size(), 200u + 3) << name;  // the stem is bounded, then ".h5"
    EXPECT_TRUE(only_safe_characters(name)) << name;
  }
}

TEST(CliSweepNames, TwoGridPointsWithOneFileNameAreRefusedBeforeAnyRun) {
  const auto dir = testing::fresh_dir("sweep_same_name");
  const auto yaml = write_experiment(dir, "{seed: [1, 1]}", 2);
  const auto r = testing::run_poslab("sweep " + yaml.string() + " --out " + (dir / "results").string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "would both write")) << r.err;
  EXPECT_TRUE(contains(r.err, "s__seed-1.h5")) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(files_ending(dir / "results", ".h5").empty());
}

TEST(CliSweepRerun, AChangedSetReRunsStaleResultsAndTheSameCommandReRunsNothing) {
  const auto dir = testing::fresh_dir("sweep_stale");
  const auto yaml = write_experiment(dir, "{seed: [1, 2]}", 4);
  const auto out = dir / "results";
  const std::string cmd = "sweep " + yaml.string() + " --jobs 2 --threads 1 --out " + out.string();
  ASSERT_EQ(testing::run_poslab(cmd).exit_code, 0);
  const auto file = out / "s__seed-1.h5";
  const auto first_time = fs::last_write_time(file);

  const auto same = testing::run_poslab(cmd);
  ASSERT_EQ(same.exit_code, 0) << same.err;
  EXPECT_TRUE(contains(same.err, "2 runs, 0 to do")) << same.err;
  EXPECT_EQ(fs::last_write_time(file), first_time);

  const auto changed = testing::run_poslab(cmd + " --set train.steps=6");
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  EXPECT_TRUE(contains(changed.err, "2 runs, 2 to do (2 stale results to re-run)")) << changed.err;
  EXPECT_TRUE(contains(changed.err, "train.steps: 4 in the file, 6 requested")) << changed.err;
  EXPECT_TRUE(contains(changed.err, "2 of 2 runs completed, 2 stale results re-run")) << changed.err;
  EXPECT_EQ(YAML::Load(H5Reader(file.string()).read_string("/config"))["train"]["steps"].as<int>(), 6);

  // Another --threads is another configuration too: its bits may differ.
  const auto threads = testing::run_poslab("sweep " + yaml.string() + " --threads 2 --set train.steps=6 --out " +
                                           out.string() + " --dry-run");
  ASSERT_EQ(threads.exit_code, 0) << threads.err;
  EXPECT_TRUE(contains(threads.err, "train.threads: 1 in the file, 2 requested")) << threads.err;
}

// Without --threads the runs keep train.threads: auto; each child's auto count is capped
// at its share of the cores (usable cores / jobs), recorded in the file's `threads`
// attribute, and a rerun with another --jobs finds the same results done.
TEST(CliSweepThreads, AutoRunsTakeTheirShareAndStayDoneWhateverTheJobs) {
  const auto dir = testing::fresh_dir("sweep_auto_threads");
  const auto yaml = write_experiment(dir, "{seed: [1, 2]}", 2);
  const auto out = dir / "results";
  const auto first = testing::run_poslab("sweep " + yaml.string() + " --jobs 2 --out " + out.string());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(contains(first.err, "train.threads as configured (auto: at most")) << first.err;
  for (const char* name : {"s__seed-1.h5", "s__seed-2.h5"}) {
    const H5Reader r((out / name).string());
    EXPECT_EQ(YAML::Load(r.read_string("/config"))["train"]["threads"].as<std::string>(), "auto");
    EXPECT_EQ(r.attr_double("/", "threads"), 1) << "this tiny model's auto count is 1 whatever the share";
  }
  const auto again = testing::run_poslab("sweep " + yaml.string() + " --jobs 1 --out " + out.string());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(contains(again.err, "2 runs, 0 to do")) << again.err;
  // An explicit count is a configuration of its own: the auto results are stale for it.
  const auto fixed = testing::run_poslab("sweep " + yaml.string() + " --threads 1 --out " + out.string() +
                                         " --dry-run");
  ASSERT_EQ(fixed.exit_code, 0) << fixed.err;
  EXPECT_TRUE(contains(fixed.err, "train.threads: auto in the file, 1 requested")) << fixed.err;
}

TEST(CliSweepRerun, ProbeOutputsAreRedoneAndDivergedResultsAreKeptAndNamed) {
  const auto dir = testing::fresh_dir("sweep_kinds");
  const auto yaml = write_experiment(dir, "{seed: [1, 2]}", 2);
  const auto out = dir / "results";
  const std::string cmd = "sweep " + yaml.string() + " --jobs 2 --threads 1 --out " + out.string();
  ASSERT_EQ(testing::run_poslab(cmd).exit_code, 0);
  const auto probe = out / "s__seed-1.h5", diverged = out / "s__seed-2.h5";
  const std::string config = H5Reader(diverged.string()).read_string("/config");
  fs::remove(probe);
  write_fake_result(probe, config, {{"file_kind", "probe"}});
  fs::remove(diverged);
  write_fake_result(diverged, config, {{"file_kind", "run_results"}, {"status", "diverged"}});

  const auto r = testing::run_poslab(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "2 runs, 1 to do")) << r.err;
  EXPECT_TRUE(contains(r.err, "a probe file, not a run's results")) << r.err;
  EXPECT_TRUE(contains(r.err, "done already (diverged): " + diverged.string())) << r.err;
  EXPECT_TRUE(contains(r.err, "1 of 1 runs completed, 1 result of diverged runs")) << r.err;
  EXPECT_TRUE(contains(r.err, "[sweep] diverged: " + diverged.string())) << r.err;
  EXPECT_TRUE(H5Reader(probe.string()).is_group("/train"));
}

TEST(CliSweepRerun, FailedRunsAreListedWithTheirLog) {
  const auto dir = testing::fresh_dir("sweep_failed");
  const auto yaml = write_experiment(dir, "{seed: [1, 2]}", 2);
  const auto out = dir / "results";
  // A folder where seed 2's results file should go: that run trains, then cannot write.
  fs::create_directories(out / "s__seed-2.h5");
  const auto r = testing::run_poslab("sweep " + yaml.string() + " --jobs 2 --threads 1 --out " + out.string());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "1 of 2 runs completed, 1 failed")) << r.err;
  const auto log = out / "s__seed-2.log";
  EXPECT_TRUE(contains(r.err, "[sweep] failed: s__seed-2 (exit code ")) << r.err;
  EXPECT_TRUE(contains(r.err, "log " + log.string() + ")")) << r.err;
  EXPECT_TRUE(fs::exists(log));
  EXPECT_TRUE(fs::exists(out / "s__seed-1.h5"));
}

// ---- Signals and the lock, with a sweep running in the background ----------------------

struct Background {
  pid_t pid = -1;
  fs::path err;
};

Background start_poslab(const std::vector<std::string>& args, const fs::path& err) {
  std::vector<std::string> argv = {POSLAB_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  // The sweep must see SIGINT and SIGTERM with their default meaning even if this test
  // process was started with them ignored (a background job of a script).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  Background b;
  b.err = err;
  const int rc = posix_spawn(&b.pid, POSLAB_BINARY, &actions, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) b.pid = -1;
  return b;
}

// PIDs whose parent is `parent` (from /proc/<pid>/stat: "pid (comm) state ppid ...").
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> found;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = testing::read_text(e.path() / "stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    std::string state;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) found.push_back(pid_t(std::stol(name)));
  }
  return found;
}

// Polls `ready` until it holds or a generous deadline passes (the machine may be busy).
template <typename F>
bool eventually(F ready, std::chrono::seconds limit = std::chrono::seconds(120)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ready();
}

// Waits for the process to exit; returns its waitpid status, or -1 after the deadline
// (the process is then killed so that the test leaves nothing behind).
int wait_exit(pid_t pid) {
  int status = 0;
  if (eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; })) return status;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

// A sweep running in the background, and its children once they train.
struct LongSweep {
  fs::path dir, out;
  Background sweep;
  std::vector<pid_t> children;
};

// Starts a sweep of two runs far too long to finish during a test (a million steps, about a
// minute each) and waits until both children train (their logs say so).
LongSweep start_long_sweep(const std::string& name) {
  LongSweep s;
  s.dir = testing::fresh_dir(name);
  s.out = s.dir / "results";
  const auto yaml = write_experiment(s.dir, "{seed: [1, 2]}", 1000000);
  s.sweep = start_poslab({"sweep", yaml.string(), "--jobs", "2", "--threads", "1", "--out", s.out.string()},
                         s.dir / "sweep.err");
  const bool training = s.sweep.pid > 0 && eventually([&] {
    for (const char* seed : {"1", "2"}) {
      const auto log = s.out / (std::string("s__seed-") + seed + ".log");
      if (!fs::exists(log) || !contains(testing::read_text(log), "parameters")) return false;
    }
    return true;
  });
  if (training) s.children = children_of(s.sweep.pid);
  return s;
}

// Kills whatever a failed test left running.
void clean_up(const LongSweep& s) {
  for (const pid_t child : s.children) ::kill(child, SIGKILL);
  if (s.sweep.pid > 0 && ::kill(s.sweep.pid, 0) == 0) wait_exit(s.sweep.pid);
}

void expect_stops_cleanly(int signal, int expected_exit) {
  const LongSweep s = start_long_sweep(signal == SIGINT ? "sweep_sigint" : "sweep_sigterm");
  ASSERT_EQ(s.children.size(), 2u) << testing::read_text(s.dir / "sweep.err");

  ASSERT_EQ(::kill(s.sweep.pid, signal), 0);
  const int status = wait_exit(s.sweep.pid);
  const std::string err = testing::read_text(s.sweep.err);
  ASSERT_NE(status, -1) << "the sweep did not exit after the signal\n" << err;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == expected_exit) << status << "\n" << err;
  for (const pid_t child : s.children) {
    errno = 0;
    EXPECT_EQ(::kill(child, 0), -1) << "child " << child << " outlived the sweep";
    EXPECT_EQ(errno, ESRCH);
  }
  // No results file, whole or partial (a checkpoint a run may leave to resume from is not one).
  EXPECT_FALSE(fs::exists(s.out / "s__seed-1.h5"));
  EXPECT_FALSE(fs::exists(s.out / "s__seed-2.h5"));
  for (const auto& e : fs::directory_iterator(s.out))
    EXPECT_FALSE(contains(e.path().filename().string(), ".tmp")) << e.path();
  EXPECT_TRUE(contains(err, "0 of 2 runs completed")) << err;
  EXPECT_TRUE(contains(err, "2 stopped (no results written)")) << err;
  clean_up(s);
}

TEST(CliSweepSignals, SigtermStopsEveryChildLeavesNoResultsAndExits143) { expect_stops_cleanly(SIGTERM, 143); }

TEST(CliSweepSignals, SigintStopsEveryChildLeavesNoResultsAndExits130) { expect_stops_cleanly(SIGINT, 130); }

TEST(CliSweepLock, ASecondSweepOnTheSameFolderStopsAtOnceNamingTheLockAndItsHolder) {
  const LongSweep s = start_long_sweep("sweep_locked");
  ASSERT_EQ(s.children.size(), 2u) << testing::read_text(s.dir / "sweep.err");

  const auto second = testing::run_poslab("sweep " + (s.dir / "sweep.yaml").string() +
                                          " --jobs 2 --threads 1 --out " + s.out.string());
  EXPECT_EQ(second.exit_code, 2) << second.err;
  EXPECT_TRUE(contains(second.err, (s.out / ".poslab-sweep.lock").string())) << second.err;
  EXPECT_TRUE(contains(second.err, "(PID " + std::to_string(s.sweep.pid) + ")")) << second.err;
  EXPECT_EQ(std::count(second.err.begin(), second.err.end(), '\n'), 1) << second.err;
  EXPECT_EQ(children_of(s.sweep.pid).size(), 2u) << "the refused sweep disturbed the running one";

  // Once the first sweep is gone (by a signal), the folder is free again.
  ASSERT_EQ(::kill(s.sweep.pid, SIGTERM), 0);
  ASSERT_NE(wait_exit(s.sweep.pid), -1);
  const auto third = testing::run_poslab("sweep " + (s.dir / "sweep.yaml").string() +
                                         " --threads 1 --set train.steps=2 --out " + s.out.string());
  EXPECT_EQ(third.exit_code, 0) << third.err;
  clean_up(s);
}

}  // namespace
}  // namespace poslab
