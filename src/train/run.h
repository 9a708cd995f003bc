#pragma once
// One run of an experiment, from a validated RunSpec to a RunRecord:
//   prepare_run: build task, encoder and model and check every length (no training yet),
//   train_run:   AdamW training loop with logging,
//   evaluate:    metrics at each evaluation length.
#include <csignal>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "dist/communicator.h"
#include "io/config.h"
#include "io/run_record.h"
#include "model/transformer.h"
#include "tasks/task.h"
#include "train/probe_runner.h"
#include "core/real.h"  // POSLAB_REAL_NAMESPACE

namespace poslab::inline POSLAB_REAL_NAMESPACE {

struct PreparedRun {
  RunSpec spec;
  std::unique_ptr<Task> task;
  std::unique_ptr<Transformer> model;
  std::vector<int> eval_lengths;  // spec.eval.lengths, or the task's training length
  // One task per spec.eval.variants entry (same order): evaluation only
  std::vector<std::unique_ptr<Task>> eval_variants;
  // Per variant: a model with the variant's encoder options (null = the trained model's own
  // encoder); it receives the trained parameters before the variant is evaluated.
  std::vector<std::unique_ptr<Transformer>> eval_variant_models;
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

// How train_and_evaluate checkpoints, resumes and stops.
struct TrainOptions {
  ProgressFn progress;
  std::string checkpoint_path;  // "" = never checkpoint (and never resume)
  bool resume = false;          // continue from checkpoint_path if that file exists
  // Polled after every step; when it becomes non-zero (a signal number), the step is
  // finished, a checkpoint written, and TrainingInterrupted thrown.
  const volatile std::sig_atomic_t* stop_signal = nullptr;
  // The ranks that train this run together (data parallel); nullptr = dist::world().
  // Rank 0 alone writes checkpoints and runs the probes; every rank returns the record,
  // complete only on rank 0 (the caller writes it there).
  dist::Communicator* comm = nullptr;
  // train.threads auto uses at most this many threads (0 = no cap beyond the CPUs this
  // process may use): `poslab run --max-threads`, which `poslab sweep --jobs N` sets to
  // each child's share of the cores. Not part of the configuration.
  int max_threads = 0;
};

// Thrown when training stopped on a signal after writing its checkpoint.
struct TrainingInterrupted : std::runtime_error {
  int signal_number, step;
  std::string checkpoint;
  TrainingInterrupted(int sig, int at_step, std::string path)
      : std::runtime_error("interrupted at step " + std::to_string(at_step)),
        signal_number(sig), step(at_step), checkpoint(std::move(path)) {}
};

// Thrown alike on every MPI rank when the ranks agreed that a step failed (a checkpoint
// that cannot be resumed, on some rank or all): the caller reports it once, from rank 0,
// and exits with exit_code (2: every rank failed with a configuration error, else 1).
struct RanksFailed : std::runtime_error {
  int exit_code;
  RanksFailed(const std::string& message, int code) : std::runtime_error(message), exit_code(code) {}
};

// Trains, evaluates, runs the probes and fills a RunRecord (writing it is the caller's).
// A non-finite loss or gradient ends training (train.on_nonfinite: stop) or skips that
// update (skip_step; 100 in a row end it): such a run is returned with status "diverged",
// its evaluation metrics NaN and no probes, never averaged as if it had trained.
RunRecord train_and_evaluate(PreparedRun& run, const TrainOptions& options);
inline RunRecord train_and_evaluate(PreparedRun& run, const ProgressFn& progress) {
  TrainOptions options;
  options.progress = progress;
  return train_and_evaluate(run, options);
}

// Evaluates the model on `task` (the run's task or one of its eval variants) at one task
// length; appends one entry to each metric of `out`.
// With several ranks in `comm`, the evaluation batches are shared among them (batch i on
// rank i mod N) and the metrics summed on rank 0 in batch order, so that `out` there is
// bit-identical to one process's; other ranks' `out` is left unchanged.
void evaluate_length(PreparedRun& run, const Task& task, int length, EvalSeries& out);
void evaluate_length(PreparedRun& run, Transformer& model, const Task& task, int length,
                     EvalSeries& out, dist::Communicator& comm);
// Copies the trained model's parameters into an encoder variant's model.
void load_trained_parameters(const PreparedRun& run, Transformer& variant_model);

}  // namespace poslab
