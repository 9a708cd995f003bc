#pragma once
// One run of an experiment, from a validated RunSpec to a RunRecord:
//   prepare_run: build task, encoder and model and check every length (no training yet),
//   train_run:   AdamW training loop with logging,
//   evaluate:    metrics at each evaluation length.
#include <functional>
#include <memory>
#include <string>

#include "io/config.h"
#include "io/run_record.h"
#include "model/transformer.h"
#include "tasks/task.h"
#include "train/probe_runner.h"

namespace poslab {

struct PreparedRun {
  RunSpec spec;
  std::unique_ptr<Task> task;
  std::unique_ptr<Transformer> model;
  std::vector<int> eval_lengths;  // spec.eval.lengths, or the task's training length
  // One task per spec.eval.variants entry (same order): evaluation only
  std::vector<std::unique_ptr<Task>> eval_variants;
  std::vector<ConfiguredProbe> probes;
};

// What the trainer reports at each log step (the CLI draws progress from it).
struct Progress {
  int step = 0, total_steps = 0;
  double loss = 0, lr = 0, tokens_per_second = 0, elapsed_seconds = 0, eta_seconds = 0;
};
using ProgressFn = std::function<void(const Progress&)>;

// Validates everything a run needs; throws ConfigError naming file and key on bad input.
PreparedRun prepare_run(const RunSpec& spec);

// Trains, evaluates, runs the probes and fills a RunRecord (writing it is the caller's).
RunRecord train_and_evaluate(PreparedRun& run, const ProgressFn& progress);

// Evaluates the model on `task` (the run's task or one of its eval variants) at one task
// length; appends one entry to each metric of `out`.
void evaluate_length(PreparedRun& run, const Task& task, int length, EvalSeries& out);

}  // namespace poslab
