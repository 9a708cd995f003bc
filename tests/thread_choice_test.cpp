// Tests for the thread count of a run (issue 14): cgroup quota parsing (sys/cpu_budget.h),
// the auto choice from work and CPUs (sys/cpu_budget.h, train/thread_choice.h), the sweep's
// division of cores among its jobs (thread_share; the sweep itself: sweep_test.cpp),
// `train.threads: auto` in the configuration, and how a stored result of another thread
// count is judged.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "io/config.h"
#include "io/existing_result.h"
#include "model/step_flops.h"
#include "sys/cpu_budget.h"
#include "train/thread_choice.h"

namespace poslab {
namespace {

namespace fs = std::filesystem;

// ---- cgroup files ---------------------------------------------------------------------------

TEST(CgroupV2CpuMax, NoLimitAndQuota) {
  EXPECT_FALSE(parse_cgroup_v2_cpu_max("max 100000\n").cpus.has_value());
  const CpuQuota q = parse_cgroup_v2_cpu_max("150000 100000\n");
  ASSERT_TRUE(q.cpus.has_value());
  EXPECT_DOUBLE_EQ(*q.cpus, 1.5);
  EXPECT_DOUBLE_EQ(*parse_cgroup_v2_cpu_max("50000 100000").cpus, 0.5);
}

TEST(CgroupV2CpuMax, MalformedIsRefusedWithTheText) {
  for (const std::string bad : {"", "\n", "max", "100000", "abc 100000", "-5 100000", "0 100000",
                                "100000 0", "max max", "1 2 3", "1.5 100000", "100000 -1"}) {
    try {
      parse_cgroup_v2_cpu_max(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("cpu.max: expected"), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
    }
  }
}

TEST(CgroupV1Quota, NoLimitAndQuota) {
  EXPECT_FALSE(parse_cgroup_v1_quota("-1\n", "100000\n").cpus.has_value());
  EXPECT_DOUBLE_EQ(*parse_cgroup_v1_quota("150000\n", "100000\n").cpus, 1.5);
  EXPECT_DOUBLE_EQ(*parse_cgroup_v1_quota("400000", "100000").cpus, 4.0);
}

TEST(CgroupV1Quota, MalformedIsRefused) {
  EXPECT_THROW(parse_cgroup_v1_quota("x", "100000"), std::invalid_argument);
  EXPECT_THROW(parse_cgroup_v1_quota("0", "100000"), std::invalid_argument);
  EXPECT_THROW(parse_cgroup_v1_quota("-2", "100000"), std::invalid_argument);
  EXPECT_THROW(parse_cgroup_v1_quota("", "100000"), std::invalid_argument);
  EXPECT_THROW(parse_cgroup_v1_quota("150000", "0"), std::invalid_argument);
  EXPECT_THROW(parse_cgroup_v1_quota("150000", "x"), std::invalid_argument);
  EXPECT_THROW(parse_cgroup_v1_quota("-1", ""), std::invalid_argument);  // the period is checked too
  try {
    parse_cgroup_v1_quota("12 34", "100000");
    ADD_FAILURE() << "accepted two words";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("cpu.cfs_quota_us: expected -1 or an integer > 0, got '12 34'"),
              std::string::npos) << e.what();
  }
}

// ---- usable CPUs and the auto choice ---------------------------------------------------------

TEST(UsableCpus, AffinityAndQuotaRoundedDown) {
  EXPECT_EQ(usable_cpus(4, {}), 4);                 // "max": affinity decides
  EXPECT_EQ(usable_cpus(2, {1.5}), 1);              // 150000/100000: floor, see the header
  EXPECT_EQ(usable_cpus(2, {2.0}), 2);
  EXPECT_EQ(usable_cpus(8, {2.5}), 2);
  EXPECT_EQ(usable_cpus(2, {16.0}), 2);             // a quota above the mask: the mask
  EXPECT_EQ(usable_cpus(8, {0.5}), 1);              // below one CPU: still one thread
  EXPECT_EQ(usable_cpus(0, {}), 1);
  EXPECT_EQ(usable_cpus(3, {200000.0 / 100000.0}), 2);
}

TEST(AutoThreadCount, FollowsTheWorkPerStepUpToTheCpus) {
  const double per = kMinStepFlopsPerThread;
  EXPECT_EQ(auto_thread_count(0, 8), 1);
  EXPECT_EQ(auto_thread_count(0.99 * per, 8), 1);
  EXPECT_EQ(auto_thread_count(2 * per, 8), 2);
  EXPECT_EQ(auto_thread_count(2.99 * per, 8), 2);
  EXPECT_EQ(auto_thread_count(1000 * per, 8), 8);
  EXPECT_EQ(auto_thread_count(1000 * per, 1), 1);
  EXPECT_EQ(auto_thread_count(1000 * per, 0), 1);
  EXPECT_EQ(auto_thread_count(std::nan(""), 4), 1);
  EXPECT_EQ(auto_thread_count(1e300, 3), 3);
}

// The two shapes the threshold was chosen between (sys/cpu_budget.h): the default
// experiment's step stays on one thread, the bench reference configuration's takes two.
TEST(AutoThreadCount, DefaultExperimentOneThreadReferenceTwo) {
  TransformerConfig small;  // configs/models/small.yaml: 2 layers, d 64, 4 heads, d_ff 256
  small.vocab_size = 16;
  EXPECT_EQ(auto_thread_count(training_step_flops(small, 32, 17), 2), 1);
  TransformerConfig reference;
  reference.vocab_size = 64;
  reference.layers = 4;
  reference.d_model = 128;
  reference.d_ff = 512;
  EXPECT_EQ(auto_thread_count(training_step_flops(reference, 32, 128), 2), 2);
}

TEST(ThreadShare, DividesCoresAmongJobsAndRanks) {
  EXPECT_EQ(thread_share(2, 1, 1), 2);
  EXPECT_EQ(thread_share(2, 2, 1), 1);
  EXPECT_EQ(thread_share(2, 4, 1), 1);  // more jobs than cores: one each, never 0
  EXPECT_EQ(thread_share(8, 3, 1), 2);
  EXPECT_EQ(thread_share(16, 2, 2), 4);
  EXPECT_EQ(thread_share(4, 0, 0), 4);  // nonsense counts act as 1
}

TEST(AutoThreads, EnvironmentCapAndRanks) {
  const double big = 1000 * kMinStepFlopsPerThread;
  EXPECT_EQ(auto_threads(big, 8, 1, 0, nullptr), 8);
  EXPECT_EQ(auto_threads(big, 8, 2, 0, nullptr), 4);   // two ranks on the machine
  EXPECT_EQ(auto_threads(big, 8, 1, 3, nullptr), 3);   // sweep's share
  EXPECT_EQ(auto_threads(big, 2, 1, 8, nullptr), 2);   // a share above the CPUs: the CPUs
  EXPECT_EQ(auto_threads(0, 8, 1, 0, nullptr), 1);     // tiny work
  EXPECT_EQ(auto_threads(big, 8, 1, 0, "3"), 3);       // OMP_NUM_THREADS is the user's choice
  EXPECT_EQ(auto_threads(0, 8, 1, 2, "5,2"), 5);       // first entry of a nesting list
  EXPECT_EQ(auto_threads(big, 8, 1, 0, ""), 8);        // empty or junk: ignored
  EXPECT_EQ(auto_threads(big, 8, 1, 0, "lots"), 8);
  EXPECT_EQ(auto_threads(big, 8, 1, 0, "0"), 8);
}

TEST(RunStepFlops, PerRankAndPerMicroBatch) {
  TransformerConfig m;
  TrainSpec t;
  t.batch_size = 32;
  EXPECT_DOUBLE_EQ(run_step_flops(m, t, 1, 64), training_step_flops(m, 32, 64));
  EXPECT_DOUBLE_EQ(run_step_flops(m, t, 4, 64), training_step_flops(m, 8, 64));
  t.micro_batches = 4;
  EXPECT_DOUBLE_EQ(run_step_flops(m, t, 2, 64), training_step_flops(m, 4, 64));
  t.batch_size = 1;
  EXPECT_DOUBLE_EQ(run_step_flops(m, t, 2, 64), training_step_flops(m, 1, 64));  // never 0 sequences
}

TEST(SystemCpus, WithinTheMachine) {
  const int cpus = system_usable_cpus();
  EXPECT_GE(cpus, 1);
  EXPECT_LE(cpus, system_affinity_cpus());
  EXPECT_LE(cpus, int(sysconf(_SC_NPROCESSORS_CONF)));
}

// ---- train.threads in the configuration -------------------------------------------------------

std::string write_experiment(const std::string& name, const std::string& train) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("poslab_threads_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path path = dir / name;
  std::ofstream(path) << "name: t\ntask: {name: copy}\n" << train;
  return path.string();
}

TEST(TrainThreadsConfig, AutoIsTheDefaultAndZeroItsSynonym) {
  const RunSpec plain = load_experiment(write_experiment("plain.yaml", ""), {}).at(0);
  EXPECT_EQ(plain.train.threads, 0);
  EXPECT_EQ(YAML::Load(plain.resolved_yaml)["train"]["threads"].as<std::string>(), "auto");
  EXPECT_EQ(load_experiment(write_experiment("auto.yaml", "train: {threads: auto}\n"), {}).at(0).train.threads, 0);
  EXPECT_EQ(load_experiment(write_experiment("zero.yaml", "train: {threads: 0}\n"), {}).at(0).train.threads, 0);
  EXPECT_EQ(load_experiment(write_experiment("three.yaml", "train: {threads: 3}\n"), {}).at(0).train.threads, 3);
  EXPECT_EQ(load_experiment(write_experiment("set.yaml", ""), {"train.threads=2"}).at(0).train.threads, 2);
}

TEST(TrainThreadsConfig, BadValuesAreOneLineErrors) {
  for (const std::string bad : {"many", "-1", "1025", "2.5", "'2'", "[1]", "true", "Auto"}) {
    const std::string path = write_experiment("bad.yaml", "train: {threads: " + bad + "}\n");
    try {
      load_experiment(path, {});
      ADD_FAILURE() << "accepted threads: " << bad;
    } catch (const ConfigError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(path), std::string::npos) << message;
      EXPECT_NE(message.find("train.threads"), std::string::npos) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
      if (bad != "[1]") {  // a sequence is refused by the string option before the count is read
        EXPECT_NE(message.find("expected auto or an integer between 0 and 1024"), std::string::npos) << message;
      }
    }
  }
}

// ---- sweep: resuming and the children's threads ----------------------------------------------

TEST(ThreadsInStoredConfig, AutoAcceptsAnyCountAnExplicitCountMustMatch) {
  const std::string stored2 = "name: x\ntrain: {steps: 10, threads: 2}\n";
  const std::string stored_auto = "name: x\ntrain: {steps: 10, threads: auto}\n";
  EXPECT_EQ(first_yaml_difference(stored2, "name: x\ntrain: {steps: 10, threads: auto}\n"), "");
  EXPECT_EQ(first_yaml_difference(stored2, "name: x\ntrain: {steps: 10, threads: 0}\n"), "");
  EXPECT_EQ(first_yaml_difference(stored_auto, "name: x\ntrain: {steps: 10, threads: auto}\n"), "");
  EXPECT_EQ(first_yaml_difference(stored_auto, "name: x\ntrain: {steps: 10, threads: 2}\n"),
            "train.threads: auto in the file, 2 requested");
  EXPECT_EQ(first_yaml_difference(stored2, "name: x\ntrain: {steps: 10, threads: 1}\n"),
            "train.threads: 2 in the file, 1 requested");
  // Only train.threads is lenient: anything else still differs.
  EXPECT_EQ(first_yaml_difference(stored2, "name: x\ntrain: {steps: 12, threads: auto}\n"),
            "train.steps: 10 in the file, 12 requested");
  EXPECT_EQ(first_yaml_difference("name: x\nmodel: {threads: 2}\n", "name: x\nmodel: {threads: auto}\n"),
            "model.threads: 2 in the file, auto requested");
}

}  // namespace
}  // namespace poslab
