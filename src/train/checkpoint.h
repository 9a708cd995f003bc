#pragma once
// Checkpoints: everything the training loop carries from one step to the next, written
// atomically to <dir>/<run>.ckpt.h5 (file_kind "checkpoint"), so that a resumed run
// continues bit for bit as if it had never stopped (same binary, same thread count).
//
// Layout (docs/design.md, "HDF5 layouts"):
//   attrs  file_kind, poslab_version, git_commit, run_name, next_step, adam_steps,
//          threads, rng_state (hex), window_loss, window_tokens, window_steps,
//          elapsed_seconds, last_finite_loss, skipped_steps, consecutive_skips
//   /config                 the run's resolved YAML (a resume must request the same)
//   /params, /adam_m, /adam_v   flat buffers [parameter count], float64 (exact for float)
//   /train/{step,loss,lr,grad_norm,tokens_per_second,elapsed_seconds}  the curve so far
#include <cmath>
#include <string>

#include "core/rng.h"
#include "io/config.h"
#include "io/run_record.h"
#include "core/parameters.h"
#include "train/adamw.h"
#include "core/real.h"  // POSLAB_REAL_NAMESPACE

namespace poslab::inline POSLAB_REAL_NAMESPACE {

// The training loop's state between steps (besides parameters and optimizer moments).
struct TrainLoopState {
  int next_step = 0;                // first step not yet taken
  Rng batch_rng{0};                 // the training-batch stream, positioned at next_step
  double window_loss = 0;           // sums of the current logging window
  long window_tokens = 0;
  int window_steps = 0;
  double elapsed_before = 0;        // training seconds before this process resumed
  double last_finite_loss = NAN;    // for the divergence message (NaN: none yet)
  int skipped_steps = 0;            // train.on_nonfinite: skip_step
  int consecutive_skips = 0;
};

// <dir>/<run>.ckpt.h5
std::string checkpoint_path(const std::string& dir, const std::string& run_name);

// Writes atomically (temp file renamed when complete). `record` holds the /train curve.
void write_checkpoint(const std::string& path, const RunSpec& spec, const TrainLoopState& state,
                      const ParameterSet& params, const AdamW& optimizer, const RunRecord& record);

// Why the checkpoint at `path` cannot continue the run whose resolved configuration is
// `resolved_yaml`: "" if it can; else one clause (not a checkpoint, another poslab build,
// another configuration). Throws ConfigError if the file cannot be read.
std::string checkpoint_mismatch(const std::string& path, const std::string& resolved_yaml);

// Restores state, parameters, optimizer and the /train curve from `path`. Throws ConfigError
// (one line, naming the file) if it is not a checkpoint, was written by another poslab
// build, or for another configuration than `spec`.
void read_checkpoint(const std::string& path, const RunSpec& spec, TrainLoopState& state,
                     ParameterSet& params, AdamW& optimizer, RunRecord& record);

}  // namespace poslab
