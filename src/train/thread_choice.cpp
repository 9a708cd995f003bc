#include "train/thread_choice.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "model/step_flops.h"
#include "sys/cpu_budget.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {

double run_step_flops(const TransformerConfig& model, const TrainSpec& train, int ranks, int seq_len) {
  const long per_piece = std::max(1L, long(train.batch_size) / std::max(1, ranks) / std::max(1, train.micro_batches));
  return training_step_flops(model, per_piece, seq_len);
}

int auto_threads(double step_flops, int usable_cpus, int ranks_per_node, int max_threads,
                 const char* omp_num_threads) {
  if (omp_num_threads != nullptr) {
    // run_preflight's check_thread_count refused out-of-range values before training.
    const std::string text = omp_num_threads;
    char* end = nullptr;
    const long first = std::strtol(text.c_str(), &end, 10);
    if (end != text.c_str() && first >= 1 && first <= kMaxThreads && (*end == '\0' || *end == ','))
      return int(first);
  }
  int cpus = thread_share(usable_cpus, 1, ranks_per_node);
  if (max_threads > 0) cpus = std::min(cpus, max_threads);
  return auto_thread_count(step_flops, cpus);
}

}  // namespace poslab
