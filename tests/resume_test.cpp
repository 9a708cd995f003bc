// Checkpoint and resume: a run stopped at any step and resumed gives the same numbers, bit
// for bit, as the run that never stopped (every /train and /eval value, every parameter).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "cli_util.h"
#include "io/h5file.h"
#include "train/checkpoint.h"
#include "train/run.h"

namespace poslab {
namespace {

namespace fs = std::filesystem;

RunSpec resume_spec(const std::vector<std::string>& overrides = {}) {
  return load_experiment(testing::data_path("experiments/resume.yaml"), overrides).at(0);
}

void expect_same_series(const std::vector<double>& a, const std::vector<double>& b,
                        const std::string& name) {
  ASSERT_EQ(a.size(), b.size()) << name;
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << name << "[" << i << "]";
}

void expect_same_run(const RunRecord& a, const RunRecord& b) {
  expect_same_series(a.step, b.step, "train/step");
  expect_same_series(a.loss, b.loss, "train/loss");
  expect_same_series(a.lr, b.lr, "train/lr");
  expect_same_series(a.grad_norm, b.grad_norm, "train/grad_norm");
  expect_same_series(a.eval.loss, b.eval.loss, "eval/loss");
  expect_same_series(a.eval.token_accuracy, b.eval.token_accuracy, "eval/token_accuracy");
  ASSERT_EQ(a.model_params.size(), b.model_params.size());
  for (std::size_t p = 0; p < a.model_params.size(); ++p)
    expect_same_series(a.model_params[p].data, b.model_params[p].data, a.model_params[p].name);
}

RunRecord train(const RunSpec& spec, const TrainOptions& options) {
  PreparedRun run = prepare_run(spec);
  return train_and_evaluate(run, options);
}

TEST(Resume, FromAPeriodicCheckpointInsideALoggingWindowIsBitIdentical) {
  const auto dir = testing::fresh_dir("resume_periodic");
  const RunSpec spec = resume_spec();
  TrainOptions options;
  options.checkpoint_path = checkpoint_path(dir.string(), "only");
  const RunRecord uninterrupted = train(spec, options);
  // The last periodic checkpoint is at step 8, three steps into the window that logs at 10.
  H5Reader ckpt(options.checkpoint_path);
  ASSERT_EQ(ckpt.attr_double("/", "next_step"), 8);
  ASSERT_EQ(ckpt.attr_double("/", "window_steps"), 3);
  options.resume = true;
  expect_same_run(uninterrupted, train(spec, options));
}

// A stop flag that is already raised stops the loop after one step, so calling the trainer
// k times with the flag raised (resuming each time) stops it after exactly k steps — one
// interruption after every step — before the last call resumes to the end.
TEST(Resume, AfterStopSignalsAtEveryStepIsBitIdentical) {
  const auto dir = testing::fresh_dir("resume_signal");
  const RunSpec spec = resume_spec({"output.checkpoint_every=0"});
  const RunRecord uninterrupted = train(spec, TrainOptions{});
  for (int stop_at : {1, 5, 7}) {
    TrainOptions options;
    options.checkpoint_path = checkpoint_path(dir.string(), "only_" + std::to_string(stop_at));
    options.resume = true;
    volatile std::sig_atomic_t flag = SIGTERM;
    options.stop_signal = &flag;
    for (int taken = 0; taken < stop_at; ++taken)
      EXPECT_THROW(train(spec, options), TrainingInterrupted);
    EXPECT_EQ(H5Reader(options.checkpoint_path).attr_double("/", "next_step"), stop_at);
    flag = 0;
    expect_same_run(uninterrupted, train(spec, options));
  }
}

TEST(Resume, ACheckpointOfAnotherConfigurationIsRefused) {
  const auto dir = testing::fresh_dir("resume_other_config");
  TrainOptions options;
  options.checkpoint_path = checkpoint_path(dir.string(), "only");
  train(resume_spec(), options);
  options.resume = true;
  try {
    train(resume_spec({"train.lr=0.02"}), options);
    FAIL() << "a checkpoint of another configuration was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("another configuration"), std::string::npos) << e.what();
  }
}

// The CLI: SIGTERM finishes the step, writes a checkpoint, says how to resume and exits
// 143; `--resume` continues from it (and a second SIGTERM checkpoints further on).
TEST(ResumeCli, SigtermWritesACheckpointAndResumeContinuesFromIt) {
  const auto out = testing::fresh_dir("resume_cli");
  const std::string args = testing::data_path("experiments/resume.yaml") +
                           " --set train.steps=100000000 --set train.log_every=1000 --out " +
                           out.string();
  const fs::path ckpt = out / "only.ckpt.h5";
  int last_step = 0;
  for (const std::string extra : {"", " --resume"}) {
    // A fresh file per launch: reading the first launch's header from a shared file would
    // signal the second before it has installed its handler (it then dies of SIGTERM).
    const fs::path err = out / (extra.empty() ? "stderr_first" : "stderr_resumed");
    fs::remove(err);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const std::string cmd = std::string("exec ") + POSLAB_BINARY + " run " + args + extra +
                              " 2>" + err.string() + " >/dev/null </dev/null";
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    // Wait until training has started (the run's header line), then a little longer.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (testing::read_text(err).find("parameters") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    const std::string text = testing::read_text(err);
    ASSERT_TRUE(WIFEXITED(status)) << text;
    EXPECT_EQ(WEXITSTATUS(status), 143) << text;
    EXPECT_NE(text.find("--resume"), std::string::npos) << text;
    if (!extra.empty()) {
      EXPECT_NE(text.find("resuming from"), std::string::npos) << text;
    }
    EXPECT_FALSE(fs::exists(out / "only.h5"));
    H5Reader r(ckpt.string());
    const int step = int(r.attr_double("/", "next_step"));
    EXPECT_GT(step, last_step) << "the resumed run continued from the checkpoint";
    last_step = step;
  }
}

// --resume skips a run whose results file holds this configuration (the test sweep uses),
// and runs it again when the configuration changed.
TEST(ResumeCli, ResumeSkipsFinishedRunsOfTheSameConfigurationOnly) {
  const auto out = testing::fresh_dir("resume_skip");
  const std::string run = "run " + testing::data_path("experiments/tiny.yaml") + " --only none --out " +
                          out.string();
  ASSERT_EQ(testing::run_poslab(run).exit_code, 0);
  const auto same = testing::run_poslab(run + " --resume");
  EXPECT_EQ(same.exit_code, 0) << same.err;
  EXPECT_NE(same.err.find("[none] done already"), std::string::npos) << same.err;
  const auto changed = testing::run_poslab(run + " --resume --set train.steps=3");
  EXPECT_EQ(changed.exit_code, 0) << changed.err;
  EXPECT_EQ(changed.err.find("done already"), std::string::npos) << changed.err;
}

}  // namespace
}  // namespace poslab
