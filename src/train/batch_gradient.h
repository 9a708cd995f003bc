#pragma once
// The gradient of one training step's batch, over micro batches and MPI ranks.
//
// The global batch [B, T] (drawn identically on every rank) is cut into P = ranks ×
// micro_batches row blocks of B / P sequences, all padded to the batch's T. Rank r takes
// blocks r·m .. r·m + m − 1 (m = micro_batches) and runs them one after another; each
// block's backward divides by the scored tokens of the WHOLE batch, so that the sum of
// the blocks' gradients is the gradient of the batch's mean loss. A rank sums its blocks
// in order; the ranks' sums are added on rank 0 in rank order and broadcast
// (dist/collectives.h), so every rank ends with the same gradient bits and the result
// never depends on timing. With one rank and m = 1 this is the plain step of before.
//
// Numbers: with ranks × m = P the result equals, up to float rounding of the sums, the
// step with P = 1; with m = 1 per rank it is bit-identical to one process with
// micro_batches = ranks (same additions in the same order).
#include <vector>

#include "core/real.h"
#include "dist/communicator.h"
#include "model/transformer.h"
#include "tasks/task.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {

struct BatchGradient {
  double loss = 0;          // mean loss over the batch's scored tokens (all ranks)
  double comm_seconds = 0;  // time spent in the reductions (0 with one rank)
  // With several ranks: a stop signal seen by any rank before the reduction, agreed by all
  // (its number where this rank saw it, else SIGTERM), so that all stop at the same step.
  int stop_signal = 0;
};

class BatchGradientComputer {
 public:
  // Throws std::invalid_argument unless batch_size is a multiple of ranks × micro_batches
  // (the CLI checks this first and reports it as a configuration error).
  BatchGradientComputer(dist::Communicator& comm, int micro_batches);
  // Leaves the batch's gradient in model.params().grads() on every rank. `local_stop` is
  // the stop signal this rank has seen (0 = none); only used with several ranks.
  BatchGradient compute(Transformer& model, const Batch& batch, int local_stop = 0);

 private:
  dist::Communicator& comm_;
  int micro_batches_;
  RealBuffer sum_;                     // this rank's running sum over its blocks
  std::vector<Real> reduce_scratch_;   // rank 0: every rank's sum
  std::vector<double> loss_scratch_;   // every rank's block losses and stop flag
};

}  // namespace poslab
