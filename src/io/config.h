#pragma once
// Experiment configuration: YAML files with `include:`, `--set key.path=value` overrides,
// a `runs:` list, and strict validation. Every error is a ConfigError whose message is one
// line: "<file>: <key.path>: expected <what>, got <what>" — the CLI prints it and exits 2.
// The pieces below the experiment live in core/ (ConfigNode, options, limits, text
// helpers); loading files is io/config_tree, --set is io/config_overrides.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config_node.h"
#include "core/limits.h"
#include "core/options.h"

namespace poslab {

// ---- The experiment -------------------------------------------------------------------

struct ModelSpec {
  int layers = 2;
  int d_model = 64;
  int heads = 4;
  int d_ff = 256;
  bool tied_embeddings = true;
  std::string attention = "auto";  // auto (the task's kind) | causal | bidirectional
  double init_std = 0.02;
};

struct TrainSpec {
  int steps = 1000;
  int batch_size = 32;
  // Gradient accumulation: each rank's share of the batch is split into this many micro
  // batches, run one after another, their gradients summed in order; one optimizer step.
  int micro_batches = 1;
  double lr = 1e-3;
  double min_lr_ratio = 0.1;  // cosine decays to lr * min_lr_ratio
  int warmup_steps = 100;
  std::string schedule = "cosine";  // cosine | constant
  double weight_decay = 0.01;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double grad_clip = 1.0;  // 0 = off
  int log_every = 50;
  // 0 = auto (`threads: auto`, the default): chosen per run from the work per step and the
  // CPUs this process may use (sys/cpu_budget.h, train/run.cpp); > 0: exactly that many.
  int threads = 0;
  std::string on_nonfinite = "stop";  // stop | skip_step: what a NaN/inf loss or gradient does
};

// The trained model evaluated once more on a variant of its task or of its encoder: the
// run's task section with some options overridden (e.g. flip_flop's eval_p_ignore: 0.98),
// and/or the run's encoder section with options overridden under `encoder:` (e.g. RoPE's
// interpolation: 4 applied at evaluation only), at every evaluation length. Results go to
// /eval/variants/<name>/.
struct EvalVariant {
  std::string name;            // letters, digits, '_' and '-'
  std::string overrides_yaml;  // the overridden options, as written
  PluginSpec task;             // the run's task section with the task overrides applied
  std::optional<PluginSpec> encoder;  // the run's encoder section with `encoder:` applied
  // No task option overridden: the variant reads the same evaluation batches as the task
  // as trained (same seeded stream), so differences are the encoder change alone.
  bool same_task = false;
};

struct EvalSpec {
  std::vector<int> lengths;  // task lengths to evaluate at (may exceed training)
  int batches = 4;
  int batch_size = 64;
  // > 0: a batch holds at most this many tokens, so one configuration can list lengths from
  // 128 to 65,536: sequences per batch = clamp(tokens / sequence length, 1, batch_size).
  int tokens = 0;
  std::vector<EvalVariant> variants;
};

// Sequences per evaluation batch at a model sequence length (see EvalSpec::tokens).
inline int eval_batch_size(const EvalSpec& e, int sequence_length) {
  if (e.tokens <= 0 || sequence_length <= 0) return e.batch_size;
  const int by_tokens = e.tokens / sequence_length;
  return by_tokens < 1 ? 1 : (by_tokens < e.batch_size ? by_tokens : e.batch_size);
}

struct OutputSpec {
  std::string dir = "results";  // relative paths are relative to the experiment file
  bool checkpoint = false;       // write /model/ parameters
  int checkpoint_every = 0;      // steps between resumable checkpoints (0 = only on SIGINT/SIGTERM)
};

struct RunSpec {
  std::string experiment_name;
  std::string run_name;  // unique within an experiment; the results file is <dir>/<run>.h5
  std::uint64_t seed = 0;
  PluginSpec task;
  PluginSpec encoder;
  std::vector<PluginSpec> probes;
  ModelSpec model;
  TrainSpec train;
  EvalSpec eval;
  OutputSpec output;
  std::string source_file;    // the experiment YAML
  std::string resolved_yaml;  // this run's fully resolved YAML (no include:, no runs:)
  ConfigNode root;            // this run's resolved root, for plugin-level errors
};

// Loads an experiment: resolves includes (relative to the including file, merged in order,
// the including file last so it wins), applies `overrides` ("a.b.c=value", value parsed
// as YAML), expands `runs:` (each item is deep-merged onto the base; needs a unique
// `name`), and validates every section that is not a plugin's. Plugin sections (task,
// encoder, probes) are checked by their plugins when they are built.
std::vector<RunSpec> load_experiment(const std::string& path,
                                     const std::vector<std::string>& overrides);

}  // namespace poslab
