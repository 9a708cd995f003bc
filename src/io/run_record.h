#pragma once
// Everything one run produces, as plain doubles, ready for the results file. Filled by the
// experiment runner; written by write_results (io/results.h).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/named_array.h"

namespace poslab {

struct ProbeRecord {
  std::string name;
  std::map<std::string, double> scalars;
  std::vector<NamedArray> arrays;
  std::string note;  // why a probe did not run, if it did not
};

// Mean loss by position at one evaluation length, in buckets [start, end) of positions.
struct LossByPosition {
  std::vector<double> bucket_start, bucket_end, loss, tokens;
};

// Metrics of one evaluation pass, one entry per evaluation length.
struct EvalSeries {
  std::string variant;       // "" = the task as trained; else the eval.variants name
  std::string task_options;  // a variant's task-option overrides, as YAML
  std::vector<double> length, sequence_length, loss, token_accuracy, exact_match, perplexity;
  std::vector<LossByPosition> by_position;  // one per length (none for a diverged run)
};

struct RunRecord {
  std::string experiment_name, run_name, encoder, task, config_yaml;
  std::uint64_t seed = 0;
  long parameter_count = 0;
  // "complete", or "diverged" (a non-finite loss or gradient stopped training, or the
  // evaluation loss was non-finite); status_detail says where. Root attributes.
  std::string status = "complete", status_detail;
  int skipped_steps = 0;  // train.on_nonfinite: skip_step
  int threads = 1;
  int ranks = 1;                      // MPI ranks that trained it (data parallel)
  double communication_seconds = 0;   // of training, in gradient reductions (ranks > 1)
  // /train/, one entry per log step
  std::vector<double> step, loss, lr, grad_norm, tokens_per_second, elapsed_seconds;
  EvalSeries eval;                        // /eval/
  std::vector<EvalSeries> eval_variants;  // /eval/variants/<name>/
  bool has_exact_match = true;
  int train_length = 0;  // the task's longest training length (task units); 0 = unknown
  std::vector<NamedArray> encoder_arrays;  // /encoder/
  std::vector<ProbeRecord> probes;         // /probes/<name>/
  std::vector<NamedArray> model_params;    // /model/ when checkpointing
};

}  // namespace poslab
