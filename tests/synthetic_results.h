#pragma once
// A run's results file written by the real writer (write_results) from made-up numbers, so
// that report and reader tests can set exactly the values they check without training.
#include <cstdint>
#include <string>

#include "io/results.h"
#include "io/run_record.h"

namespace poslab::testing {

// One run of experiment "synthetic": 2 evaluation lengths (4, 8), 3 log steps, one probe
// (absolute_position with mae, r2) and one eval variant "long". Runs that differ only in
// `seed` are seeds of one configuration for `poslab report`.
inline RunRecord synthetic_run(const std::string& run_name, std::uint64_t seed) {
  RunRecord r;
  r.experiment_name = "synthetic";
  r.run_name = run_name;
  r.encoder = "learned";
  r.task = "copy";
  r.config_yaml = "name: synthetic\nseed: " + std::to_string(seed) + "\nrun: " + run_name + "\n";
  r.seed = seed;
  r.parameter_count = 1234;
  r.step = {5, 10, 15};
  r.loss = {2.0, 1.5, 1.2};
  r.lr = {1e-3, 1e-3, 1e-3};
  r.grad_norm = {1.0, 0.8, 0.7};
  r.tokens_per_second = {1000, 1100, 1200};
  r.elapsed_seconds = {0.1, 0.2, 0.3};
  r.eval.length = {4, 8};
  r.eval.sequence_length = {9, 17};
  r.eval.loss = {1.0, 2.0};
  r.eval.token_accuracy = {0.5, 0.25};
  r.eval.exact_match = {0.1, 0.0};
  r.eval.perplexity = {2.7, 7.4};
  EvalSeries variant = r.eval;
  variant.variant = "long";
  variant.task_options = "length: 8\n";
  r.eval_variants.push_back(variant);
  r.encoder_arrays.push_back({"position_matrix", {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}, {4, 2}, "[L, d]"});
  ProbeRecord probe;
  probe.name = "absolute_position";
  probe.scalars = {{"mae", 0.5}, {"r2", 0.9}};
  probe.arrays.push_back({"fold", {0, 1, 0, 1}, {4}, "[m] fold ids"});
  r.probes.push_back(probe);
  return r;
}

}  // namespace poslab::testing
