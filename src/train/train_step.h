#pragma once
// One optimizer step of the training loop: the batch's gradient, the global gradient-norm
// clip, the scheduled learning rate and the AdamW update, in that order. train_and_evaluate
// calls it for every step; tests call it on fixed batches (tests/f64/first_losses_test.cpp),
// so that they check the trainer's own sequence of operations, not a copy of it.
#include "io/config.h"
#include "model/transformer.h"
#include "tasks/task.h"
#include "train/adamw.h"
#include "train/batch_gradient.h"
#include "core/real.h"  // POSLAB_REAL_NAMESPACE

namespace poslab::inline POSLAB_REAL_NAMESPACE {

struct StepResult {
  BatchGradient gradient;  // loss (mean over the batch's scored tokens), comm time, stop signal
  double grad_norm = 0;    // global L2 norm of the gradient BEFORE clipping (what runs record)
  double lr = 0;           // the schedule's learning rate at this step
  bool updated = false;    // false: loss or gradient norm non-finite, parameters untouched
};

// Step `step` (0-based) of a run with settings `ts`: gradient of `batch` into
// model.params().grads(), clipped to ts.grad_clip, then one AdamW update with
// learning_rate(step, ts...) unless the loss or the gradient norm is NaN/inf (the caller
// decides what a non-finite step means, see train.on_nonfinite).
StepResult train_step(Transformer& model, BatchGradientComputer& gradient, AdamW& optimizer,
                      const TrainSpec& ts, int step, const Batch& batch, int local_stop = 0);

}  // namespace poslab
