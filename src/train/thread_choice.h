#pragma once
// The OpenMP thread count of a training run: `train.threads` when it is a count, else the
// `auto` choice (sys/cpu_budget.h) from this run's work per step.
#include "io/config.h"
#include "model/transformer.h"
#include "core/real.h"  // POSLAB_REAL_NAMESPACE

namespace poslab::inline POSLAB_REAL_NAMESPACE {

// FLOPs of one training step as one process computes it: its share of the batch
// (batch_size / ranks, cut into micro_batches pieces that run one after another, so a
// parallel region sees one piece) at the longest training sequence. model/step_flops.h.
double run_step_flops(const TransformerConfig& model, const TrainSpec& train, int ranks, int seq_len);

// What `threads: auto` means for one process:
//  - OMP_NUM_THREADS set (a count, or a nesting list whose first entry is used): that —
//    the user chose, as with any OpenMP program;
//  - else auto_thread_count(step_flops, cpus) with cpus = the CPUs this process may use
//    divided among the MPI ranks on this machine, and at most `max_threads` when that is
//    > 0 (poslab sweep --jobs N hands each child its share that way).
// `omp_num_threads` is the environment variable's value (nullptr = unset), passed in so
// that tests need not change the environment.
int auto_threads(double step_flops, int usable_cpus, int ranks_per_node, int max_threads,
                 const char* omp_num_threads);

}  // namespace poslab
