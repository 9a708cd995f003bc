#pragma once
// Experiment configuration: YAML files with `include:`, `--set key.path=value` overrides,
// a `runs:` list, and strict validation. Every error is a ConfigError whose message is one
// line: "<file>: <key.path>: expected <what>, got <what>" — the CLI prints it and exits 2.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <optional>
#include <string>
#include <vector>

namespace poslab {

// A configuration or usage error: exit code 2, nothing written.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Which file set each key path ("model.d_model" -> "configs/models/small.yaml"; keys set by
// --set map to "--set"). Shared by all nodes of one resolved configuration.
using KeyOrigins = std::map<std::string, std::string>;

// A YAML node plus its key path and where it came from, so that any consumer (the
// experiment parser or a plugin) can report an error that names file and key.
class ConfigNode {
 public:
  ConfigNode() = default;
  ConfigNode(YAML::Node node, std::string path, std::shared_ptr<const KeyOrigins> origins,
             std::string fallback_file);
  ConfigNode(const ConfigNode&) = default;
  // Rebinds this handle. (YAML::Node's own operator= writes through into the tree the node
  // belongs to, so `n = n.child("x")` would otherwise corrupt the configuration.)
  ConfigNode& operator=(const ConfigNode& other);

  const YAML::Node& yaml() const { return node_; }
  const std::string& path() const { return path_; }
  // The file that set this key (or the nearest parent key that has an origin).
  std::string file() const;

  bool has(const std::string& key) const;
  ConfigNode child(const std::string& key) const;  // an undefined node if absent
  std::vector<std::string> keys() const;            // mapping keys in document order
  // The index-th element of a sequence, path "path[index]" (undefined if out of range).
  ConfigNode item(std::size_t index) const;
  // Another tree reported as if it stood at this node's path and file (a section built
  // from this one, e.g. a task section with an eval variant's overrides applied);
  // `more_origins` names the files of keys that came from elsewhere.
  ConfigNode derived(YAML::Node node, const KeyOrigins& more_origins = {}) const;

  // Throws ConfigError("<file>: <path>: <message>").
  [[noreturn]] void fail(const std::string& message) const;

 private:
  YAML::Node node_;
  std::string path_;
  std::shared_ptr<const KeyOrigins> origins_;
  std::string fallback_file_;
};

// ---- Upper bounds shared by the schema and the plugins --------------------------------
// Every size a configuration can set has an upper bound, so that a typo (an extra zero,
// 2^31-1) is refused with a message that states the bound instead of overflowing an int
// or failing an allocation after training. The memory estimate (model/memory_estimate.h)
// then refuses shapes that are in bounds but do not fit in this machine's memory.

// Task lengths (task.length, task.min_length, eval.lengths): the longest model sequence
// any task makes from it (counting: 4n + 106) still fits an int, and so does B·T.
inline constexpr int kMaxTaskLength = 1'000'000;
// OpenMP threads (train.threads, --threads); far above any machine's core count, far
// below what makes libgomp fail to create its thread pool.
inline constexpr int kMaxThreads = 1024;

// Run names (and --suffix) become file names "<dir>/<run>.h5" and temporary names
// "<run>.h5.tmp.<pid>.<random>", which must stay under the usual 255-byte limit.
inline constexpr std::size_t kMaxRunNameBytes = 120;
// Empty if `name` is a safe file name: 1 to kMaxRunNameBytes bytes of [A-Za-z0-9._-], not
// starting with '.'; otherwise what is wrong with it ("contains '/'"), for a message.
std::string file_name_problem(const std::string& name);
// `text` with control characters and non-ASCII bytes escaped (\x07), cut after `max_bytes`
// with "...", so that a hostile value cannot break a one-line message.
std::string printable(const std::string& text, std::size_t max_bytes = 60);

// One option a plugin accepts. Declared once; used for parsing, validation and `poslab list`.
struct OptionSpec {
  // Section: a nested mapping of `fields` (e.g. an encoder's `randomized: {max_position:
  // 2048}`); absent means off (Options::section returns null), and default_value is only
  // what `poslab list` shows.
  enum class Type { Int, Float, String, Bool, IntList, Section };
  std::string name;
  Type type = Type::Int;
  std::string default_value;  // as YAML text; empty means the option is required
  std::string help;
  double min = -std::numeric_limits<double>::infinity();  // inclusive, numbers and list items
  double max = std::numeric_limits<double>::infinity();
  std::vector<std::string> choices = {};  // allowed values of a String option, if non-empty
  std::vector<OptionSpec> fields = {};    // the options of a Section
};

// Validated option values (defaults filled in).
class Options {
 public:
  int get_int(const std::string& name) const;
  double get_float(const std::string& name) const;
  const std::string& get_string(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  const std::vector<int>& get_int_list(const std::string& name) const;
  // The node an option came from (undefined if defaulted), for later errors such as
  // "encoder.max_length: 64 is shorter than the longest evaluation sequence (129)".
  const ConfigNode& node(const std::string& name) const;
  // A Section option's values, or null when the section was not given (or not declared:
  // plugins that share a section read it without knowing whether they declared it).
  const Options* section(const std::string& name) const;

 private:
  friend Options parse_options(const ConfigNode&, const std::vector<OptionSpec>&,
                               const std::vector<std::string>&);
  std::map<std::string, int> ints_;
  std::map<std::string, double> floats_;
  std::map<std::string, std::string> strings_;
  std::map<std::string, bool> bools_;
  std::map<std::string, std::vector<int>> int_lists_;
  std::map<std::string, ConfigNode> nodes_;
  std::map<std::string, std::shared_ptr<const Options>> sections_;
};

// Parses `node` (a mapping, or undefined = all defaults) against `specs`. Keys listed in
// `ignored` (e.g. "name") are skipped. Unknown key, wrong type, out of range, not one of
// the choices, missing required option -> ConfigError naming file and key path.
Options parse_options(const ConfigNode& node, const std::vector<OptionSpec>& specs,
                      const std::vector<std::string>& ignored = {"name"});

// "name (int, default 2, >= 1): help" lines for `poslab list`.
std::string describe_options(const std::vector<OptionSpec>& specs);

// ---- The experiment -------------------------------------------------------------------

struct PluginSpec {
  std::string name;  // registry name, e.g. "learned"
  ConfigNode node;   // the whole section (the plugin parses its own keys)
};

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
