#pragma once
// The numbers `poslab report` shows for one results file, read with every dataset checked
// against the schema (docs/design.md, "HDF5 layouts"): a metric with a different number of
// values than /eval/length, a non-integer length, a /train series shorter or longer than
// /train/step is an error naming the file and the dataset, never an over-read.
#include <map>
#include <string>
#include <vector>

namespace poslab {

struct RunSummary {
  std::string run_name, encoder;
  // The run name without the sweep's "__seed-<seed>" label (root attribute seed), for the
  // label of its row.
  std::string name_without_seed;
  // The experiment and the resolved configuration without its seed (io/seed_group.h):
  // runs that share it are repetitions (seeds) of one configuration.
  std::string group_key;
  // The root attribute status == "diverged", or a non-finite /train/loss (files from
  // before `status`): training ended in non-finite numbers, so the final metrics say
  // nothing about the configuration.
  bool diverged = false;
  // Column name -> value; NaN where the value is not defined (exact_match of a task that
  // has none, a probe that did not run) or not finite in the file.
  //   "<metric>@<length>"            /eval/<metric> at that evaluation length
  //   "<metric>@<length>/<variant>"  the same under /eval/variants/<variant>/
  //   "<probe>.<name>"               attribute <name> of /probes/<probe>/
  //   "tokens/s"                     mean of /train/tokens_per_second
  std::map<std::string, double> values;
};

// `metrics` are /eval dataset names (loss, token_accuracy, ...); `probe_metrics` are
// "probe.metric" names. Throws ConfigError "<path>: <dataset>: <what>; expected <what>"
// for a file that is not a run's results (file_kind), has an unsupported schema_version
// or does not match the schema.
RunSummary read_run_summary(const std::string& path, const std::vector<std::string>& metrics,
                            const std::vector<std::string>& probe_metrics);

}  // namespace poslab
