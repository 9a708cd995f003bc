// poslab on MPI ranks, launched as a user would: `mpirun -np 2 --oversubscribe poslab ...`.
// Data-parallel training must not depend on the number of ranks beyond float rounding and
// must be bit-identical with itself; a rank that cannot start ends every rank with one
// message; an MPI sweep writes exactly what a local sweep writes and resumes like one.
// CTest label `mpi`; tiny models and few steps, so these run in seconds even on a loaded
// machine (nothing here measures time).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <regex>

#include "cli_util.h"
#include "io/h5file.h"

namespace poslab {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::data_path;
using testing::fresh_dir;
using testing::read_text;

// CI runs as root; Open MPI refuses that without these (CTest sets them too).
const bool kRootAllowed = [] {
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  return true;
}();

// Runs a shell command line, capturing stdout and stderr.
CliResult run_shell(const std::string& command) {
  const auto dir = fresh_dir("mpi_capture");
  const auto out = dir / "stdout", err = dir / "stderr";
  const std::string cmd = command + " >" + out.string() + " 2>" + err.string() + " </dev/null";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(out), read_text(err)};
}

// `mpirun -np N` (oversubscribed: the test machine may have fewer free cores than ranks;
// unbound, so that a rank's OpenMP threads are not pinned to one core).
std::string mpirun(int ranks) {
  return std::string(POSLAB_MPIEXEC) + " -np " + std::to_string(ranks) + " --oversubscribe --bind-to none";
}

CliResult poslab_on(int ranks, const std::string& args) {
  return run_shell(mpirun(ranks) + " " + POSLAB_BINARY + " " + args);
}

CliResult poslab_alone(const std::string& args) { return run_shell(std::string(POSLAB_BINARY) + " " + args); }

// Every dataset under `group`, by path, read as double (exact for float and integer data).
void collect(const H5Reader& h5, const std::string& group, std::map<std::string, std::vector<double>>& out) {
  for (const auto& name : h5.members(group)) {
    const std::string path = group + "/" + name;
    if (h5.is_group(path)) {
      collect(h5, path, out);
    } else if (h5.is_dataset(path)) {
      try {
        out[path] = h5.read(path);
      } catch (const std::exception&) {  // string datasets: compared as text
        const std::string text = h5.read_string(path);
        out[path] = std::vector<double>(text.begin(), text.end());
      }
    }
  }
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// /train without its two timing series (tokens_per_second, elapsed_seconds): those are
// clocks, not results.
const std::vector<std::string> kTrainSeries = {"/train/step", "/train/loss", "/train/lr", "/train/grad_norm"};

void expect_same_results(const fs::path& a, const fs::path& b) {
  const H5Reader ha(a.string()), hb(b.string());
  for (const auto& s : kTrainSeries) EXPECT_TRUE(same_bits(ha.read(s), hb.read(s))) << s << " of " << a << " vs " << b;
  std::map<std::string, std::vector<double>> ea, eb;
  collect(ha, "/eval", ea);
  collect(hb, "/eval", eb);
  ASSERT_FALSE(ea.empty());
  ASSERT_EQ(ea.size(), eb.size());
  for (const auto& [path, values] : ea) EXPECT_TRUE(same_bits(values, eb[path])) << path << " of " << a << " vs " << b;
}

// ‖a − b‖ / ‖b‖
double relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    norm += b[i] * b[i];
  }
  if (norm == 0) return diff == 0 ? 0.0 : INFINITY;
  return std::sqrt(diff / norm);
}

std::map<std::string, std::vector<double>> model_parameters(const fs::path& file) {
  std::map<std::string, std::vector<double>> params;
  collect(H5Reader(file.string()), "/model", params);
  return params;
}

// tiny.yaml's `learned` run for 50 steps, a loss per step and the parameters written.
const std::string kFiftySteps =
    " --only learned --threads 1 --set train.steps=50 --set train.log_every=1"
    " --set output.checkpoint=true";

std::string run_tiny(const std::string& out) {
  return "run " + data_path("experiments/tiny.yaml") + kFiftySteps + " --out " + out;
}

TEST(DataParallel, TwoRanksTrainLikeOneProcessOnTheSameBatch) {
  const auto dir = fresh_dir("dp_match");
  const CliResult one = poslab_alone(run_tiny((dir / "one").string()));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const CliResult two = poslab_on(2, run_tiny((dir / "two").string()));
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_NE(two.err.find("data parallel on MPI, 2 ranks"), std::string::npos) << two.err;

  const fs::path a = dir / "one" / "learned.h5", b = dir / "two" / "learned.h5";
  const H5Reader ha(a.string()), hb(b.string());
  EXPECT_EQ(ha.attr_double("/", "ranks"), 1);  // without mpirun: one process, as before
  EXPECT_EQ(hb.attr_double("/", "ranks"), 2);
  const auto la = ha.read("/train/loss"), lb = hb.read("/train/loss");
  ASSERT_EQ(la.size(), 50u);
  ASSERT_EQ(lb.size(), 50u);
  // ≤ 1e-5 relative (float build): the two ranks' gradients are summed in another order.
  for (std::size_t s = 0; s < la.size(); ++s)
    EXPECT_NEAR(lb[s], la[s], 1e-5 * std::abs(la[s])) << "step " << s + 1;
  // Tensor by tensor, ≤ 1e-5 relative. The key third of each attn.qkv.bias is left out:
  // softmax ignores a bias added to every key, so its gradient is zero up to rounding, and
  // AdamW (which normalises the gradient) moves it by noise that differs with any change
  // of summation order. It has no effect on the model's outputs.
  const auto pa = model_parameters(a), pb = model_parameters(b);
  ASSERT_FALSE(pa.empty());
  for (auto [name, values] : pa) {
    std::vector<double> other = pb.at(name);
    if (name.find("attn.qkv.bias") != std::string::npos) {
      const std::size_t d = values.size() / 3;
      values.erase(values.begin() + std::ptrdiff_t(d), values.begin() + std::ptrdiff_t(2 * d));
      other.erase(other.begin() + std::ptrdiff_t(d), other.begin() + std::ptrdiff_t(2 * d));
    }
    EXPECT_LE(relative_difference(other, values), 1e-5) << name;
  }
  const auto ea = ha.read("/eval/loss"), eb = hb.read("/eval/loss");
  for (std::size_t i = 0; i < ea.size(); ++i) EXPECT_NEAR(eb[i], ea[i], 1e-5 * std::abs(ea[i]));

  // One process cutting the batch in the same two pieces (train.micro_batches: 2) makes the
  // very additions the two ranks make: bit for bit the same run.
  const CliResult micro = poslab_alone(run_tiny((dir / "micro").string()) + " --set train.micro_batches=2");
  ASSERT_EQ(micro.exit_code, 0) << micro.err;
  expect_same_results(dir / "micro" / "learned.h5", b);
  EXPECT_EQ(model_parameters(dir / "micro" / "learned.h5"), pb);
}

TEST(DataParallel, TwoRanksTwiceAreBitIdentical) {
  const auto dir = fresh_dir("dp_twice");
  for (const std::string out : {"a", "b"}) {
    // With micro batches too: 2 ranks × 2 micro batches of 2 sequences.
    const CliResult r = poslab_on(2, run_tiny((dir / out).string()) + " --set train.micro_batches=2");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  expect_same_results(dir / "a" / "learned.h5", dir / "b" / "learned.h5");
  EXPECT_EQ(model_parameters(dir / "a" / "learned.h5"), model_parameters(dir / "b" / "learned.h5"));
}

TEST(DataParallel, BatchThatTheRanksCannotShareIsAConfigurationError) {
  const auto dir = fresh_dir("dp_indivisible");
  const CliResult r = poslab_on(2, run_tiny(dir.string()) + " --set train.batch_size=6 --set train.micro_batches=2");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("train.batch_size: expected a multiple of 2 MPI ranks x train.micro_batches 2 = 4, got 6"),
            std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST(DataParallel, ARankThatCannotStartEndsAllRanksWithOneMessage) {
  // Rank 1 is given a corpus path that does not exist (as if its node could not see the
  // file): Open MPI's MPMD syntax starts each rank with its own arguments.
  const auto dir = fresh_dir("dp_failing_rank");
  const std::string experiment = data_path("experiments/variant_text.yaml");
  const std::string args = "run " + experiment + " --threads 1 --out " + dir.string();
  const CliResult r = run_shell(std::string(POSLAB_MPIEXEC) + " --oversubscribe --bind-to none -np 1 " +
                                POSLAB_BINARY + " " + args + " : -np 1 " + POSLAB_BINARY + " " + args +
                                " --set task.path=/nonexistent/corpus.txt");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::string message = "rank 1: ";
  EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/nonexistent/corpus.txt"), std::string::npos) << r.err;
  // One message, from rank 0, for the whole job.
  EXPECT_EQ(r.err.find("/nonexistent/corpus.txt"), r.err.rfind("/nonexistent/corpus.txt")) << r.err;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    ADD_FAILURE() << "left behind: " << entry.path();
}

TEST(DataParallel, RanksGivenDifferentConfigurationsRefuseToStart) {
  const auto dir = fresh_dir("dp_different");
  const std::string args = run_tiny(dir.string());
  const CliResult r = run_shell(std::string(POSLAB_MPIEXEC) + " --oversubscribe --bind-to none -np 1 " +
                                POSLAB_BINARY + " " + args + " : -np 1 " + POSLAB_BINARY + " " + args +
                                " --set train.lr=0.01");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("the ranks were given different runs or configurations"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST(Mpi, VersionSaysMpiIsCompiledIn) {
  const CliResult r = poslab_alone("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("MPI: compiled in ("), std::string::npos) << r.out;
}

TEST(Mpi, SingleProcessCommandsRefuseSeveralRanks) {
  const CliResult r = poslab_on(2, "list encoders");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("error: poslab list runs as one process; start it without mpirun"), std::string::npos)
      << r.err;
}

// ---- Distributed sweep ------------------------------------------------------------------

std::vector<fs::path> results_in(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".h5") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string sweep_args(const fs::path& out) {
  return "sweep " + data_path("experiments/sweep.yaml") + " --threads 1 --out " + out.string();
}

TEST(DistributedSweep, TwoRanksWriteWhatALocalSweepWrites) {
  const auto dir = fresh_dir("mpi_sweep");
  const CliResult local = poslab_alone(sweep_args(dir / "local"));
  ASSERT_EQ(local.exit_code, 0) << local.err;
  const CliResult mpi = poslab_on(2, sweep_args(dir / "mpi"));
  ASSERT_EQ(mpi.exit_code, 0) << mpi.err;
  // Both ranks ran some of the 4 runs; one summary.
  EXPECT_NE(mpi.err.find("on rank 0"), std::string::npos) << mpi.err;
  EXPECT_NE(mpi.err.find("on rank 1"), std::string::npos) << mpi.err;
  EXPECT_NE(mpi.err.find("[sweep] 4 of 4 runs completed"), std::string::npos) << mpi.err;
  EXPECT_EQ(mpi.err.find("runs completed"), mpi.err.rfind("runs completed")) << mpi.err;

  const auto a = results_in(dir / "local"), b = results_in(dir / "mpi");
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].filename(), b[i].filename());
    expect_same_results(a[i], b[i]);
    EXPECT_EQ(H5Reader(a[i].string()).read_string("/config"), H5Reader(b[i].string()).read_string("/config"));
  }
}

TEST(DistributedSweep, RerunAfterAnInterruptionDoesOnlyTheMissingRuns) {
  const auto dir = fresh_dir("mpi_sweep_resume");
  const CliResult first = poslab_on(2, sweep_args(dir));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto files = results_in(dir);
  ASSERT_EQ(files.size(), 4u);
  // An interrupted sweep leaves some runs without results: two of them here.
  fs::remove(files[1]);
  fs::remove(files[3]);
  std::map<fs::path, fs::file_time_type> kept = {{files[0], fs::last_write_time(files[0])},
                                                 {files[2], fs::last_write_time(files[2])}};
  const CliResult again = poslab_on(2, sweep_args(dir));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("[sweep] 4 runs, 2 to do"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("done already: " + files[0].string()), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("[sweep] 2 of 2 runs completed"), std::string::npos) << again.err;
  EXPECT_EQ(results_in(dir), files);
  for (const auto& [path, time] : kept) EXPECT_EQ(fs::last_write_time(path), time) << path;
}

TEST(DistributedSweep, AFailedRunIsReportedWithItsRankAndLogAndTheOthersFinish) {
  // A folder where one run's results file should go: that run's child refuses to start.
  const auto dir = fresh_dir("mpi_sweep_failed_run");
  const std::string name = "sweep__name-none__seed-2";
  fs::create_directories(dir / (name + ".h5"));
  const CliResult r = poslab_on(2, sweep_args(dir));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::regex failed("\\[sweep\\] FAILED " + name + " on rank [01] \\(exit code 2; see " +
                          (dir / (name + ".log")).string() + "\\)");
  EXPECT_TRUE(std::regex_search(r.err, failed)) << r.err;
  EXPECT_NE(r.err.find("[sweep] 3 of 4 runs completed, 1 failed"), std::string::npos) << r.err;
  EXPECT_NE(read_text(dir / (name + ".log")).find("exists as a folder"), std::string::npos);
  std::size_t written = 0;
  for (const auto& f : results_in(dir)) written += fs::is_regular_file(f) ? 1 : 0;
  EXPECT_EQ(written, 3u);
}

TEST(DistributedSweep, BadGridStopsEveryRankWithOneMessage) {
  const auto dir = fresh_dir("mpi_sweep_bad");
  const CliResult r = poslab_on(2, sweep_args(dir) + " --set train.steps=0");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("train.steps"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("train.steps"), r.err.rfind("train.steps")) << r.err;
  EXPECT_TRUE(results_in(dir).empty());
}

}  // namespace
}  // namespace poslab
