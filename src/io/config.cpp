// The experiment schema: validates each resolved run (the sections poslab owns: model,
// train, eval, output; plugin sections are checked by their plugins), expands `runs:`, and
// load_experiment ties loading (io/config_tree), --set (io/config_overrides) and the schema
// together. See config.h for the contract.
#include "io/config.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>

#include "core/config_text.h"
#include "io/config_overrides.h"
#include "io/config_tree.h"

namespace poslab {

namespace fs = std::filesystem;

// ---- Validation of one run ------------------------------------------------------------

namespace {

using Type = OptionSpec::Type;
constexpr double kInf = std::numeric_limits<double>::infinity();

const std::vector<std::string> kTopLevelKeys = {
    "include", "name",   "description", "seed",   "task", "encoder", "model",
    "train",   "eval",   "output",      "probes", "runs", "grid"};

// The keys a run item (and a resolved run) may hold: everything but include and runs.
std::vector<std::string> run_keys() {
  std::vector<std::string> keys;
  for (const auto& key : kTopLevelKeys)
    if (key != "include" && key != "runs") keys.push_back(key);
  return keys;
}

// Upper bounds of the sizes this file owns (task lengths and threads: core/limits.h). Generous
// for any model this laboratory trains on a CPU; their job is to turn a typo into a
// message that states the bound instead of an int overflow or a failed allocation.
constexpr int kMaxLayers = 64;
constexpr int kMaxWidth = 65536;  // d_model, d_ff
constexpr int kMaxHeads = 1024;
constexpr int kMaxSteps = 100'000'000;
constexpr int kMaxBatch = 65536;  // train.batch_size, eval.batch_size
constexpr int kMaxEvalBatches = 100000;
constexpr int kMaxListItems = 1000;  // eval.lengths (each is one evaluation pass)

std::string text_of(int v) { return std::to_string(v); }
std::string text_of(double v) { return format_number(v); }
std::string text_of(bool v) { return v ? "true" : "false"; }

// Defaults come from the spec structs in config.h so that they are written down once.
std::vector<OptionSpec> top_level_options() {
  return {{"name", Type::String, "", "experiment name"},
          {"description", Type::String, "''", "free text"},
          {"seed", Type::Int, "0", "seed of every random stream of the run", 0}};
}

std::vector<OptionSpec> model_options() {
  const ModelSpec d;
  return {{"layers", Type::Int, text_of(d.layers), "transformer blocks", 1, kMaxLayers},
          {"d_model", Type::Int, text_of(d.d_model), "model width", 1, kMaxWidth},
          {"heads", Type::Int, text_of(d.heads), "attention heads (must divide d_model)", 1,
           kMaxHeads},
          {"d_ff", Type::Int, text_of(d.d_ff), "MLP hidden width", 1, kMaxWidth},
          {"tied_embeddings", Type::Bool, text_of(d.tied_embeddings),
           "share the token embedding with the output head"},
          {"attention", Type::String, d.attention, "attention mask", -kInf, kInf,
           {"auto", "causal", "bidirectional"}},
          {"init_std", Type::Float, text_of(d.init_std), "std of weight initialisation (> 0)", 0}};
}

std::vector<OptionSpec> train_options() {
  const TrainSpec d;
  return {{"steps", Type::Int, text_of(d.steps), "optimiser steps", 1, kMaxSteps},
          {"batch_size", Type::Int, text_of(d.batch_size), "sequences per step", 1, kMaxBatch},
          {"micro_batches", Type::Int, text_of(d.micro_batches),
           "gradient accumulation: pieces of the batch run one after another (divides batch_size)",
           1, kMaxBatch},
          {"lr", Type::Float, text_of(d.lr), "peak learning rate (> 0)", 0},
          {"min_lr_ratio", Type::Float, text_of(d.min_lr_ratio), "final lr / peak lr (cosine)", 0, 1},
          {"warmup_steps", Type::Int, text_of(d.warmup_steps), "linear warmup steps", 0,
           kMaxSteps},
          {"schedule", Type::String, d.schedule, "learning-rate schedule", -kInf, kInf,
           {"cosine", "constant"}},
          {"weight_decay", Type::Float, text_of(d.weight_decay), "AdamW weight decay", 0},
          {"beta1", Type::Float, text_of(d.beta1), "AdamW beta1, in [0, 1)", 0},
          {"beta2", Type::Float, text_of(d.beta2), "AdamW beta2, in [0, 1)", 0},
          {"eps", Type::Float, text_of(d.eps), "AdamW epsilon (> 0)", 0},
          {"grad_clip", Type::Float, text_of(d.grad_clip), "global gradient-norm clip (0 = off)", 0},
          {"log_every", Type::Int, text_of(d.log_every), "steps between log lines", 1, kMaxSteps},
          {"threads", Type::String, "auto",
           "OpenMP threads: auto (from the work per step and the CPUs this process may use; "
           "0 means the same) or a count"},
          {"on_nonfinite", Type::String, d.on_nonfinite,
           "a non-finite loss or gradient: stop the run (diverged) or skip that step's update",
           -kInf, kInf, {"stop", "skip_step"}}};
}

std::vector<OptionSpec> eval_options() {
  const EvalSpec d;
  return {{"lengths", Type::IntList, "[]", "evaluation lengths (empty = the training length)", 1,
           kMaxTaskLength},
          {"batches", Type::Int, text_of(d.batches), "batches per length", 1, kMaxEvalBatches},
          {"batch_size", Type::Int, text_of(d.batch_size), "sequences per batch", 1, kMaxBatch},
          {"tokens", Type::Int, text_of(d.tokens),
           "tokens per batch at most (0 = off): sequences per batch = tokens / sequence length, "
           "between 1 and batch_size", 0, std::numeric_limits<int>::max()}};
}

std::vector<OptionSpec> output_options() {
  const OutputSpec d;
  return {{"dir", Type::String, "'" + d.dir + "'", "results folder (relative to the experiment file)"},
          {"checkpoint", Type::Bool, text_of(d.checkpoint), "write model parameters"},
          {"checkpoint_every", Type::Int, text_of(d.checkpoint_every),
           "steps between resumable checkpoints <run>.ckpt.h5 (0 = only when interrupted)", 0}};
}

// Bounds that OptionSpec's inclusive min/max cannot say.
void require_positive(const Options& options, const std::string& name) {
  const double value = options.get_float(name);
  if (!(value > 0))
    options.node(name).fail("expected a number > 0, got " + describe_got(options.node(name).yaml()));
}

void require_below_one(const Options& options, const std::string& name) {
  if (!(options.get_float(name) < 1))
    options.node(name).fail("expected a number in [0, 1), got " +
                            describe_got(options.node(name).yaml()));
}

ModelSpec parse_model(const ConfigNode& node) {
  const Options o = parse_options(node, model_options(), {});
  ModelSpec m;
  m.layers = o.get_int("layers");
  m.d_model = o.get_int("d_model");
  m.heads = o.get_int("heads");
  m.d_ff = o.get_int("d_ff");
  m.tied_embeddings = o.get_bool("tied_embeddings");
  m.attention = o.get_string("attention");
  m.init_std = o.get_float("init_std");
  require_positive(o, "init_std");
  if (m.d_model % m.heads != 0)
    o.node("heads").fail("expected a divisor of d_model (" + std::to_string(m.d_model) +
                         "), got " + std::to_string(m.heads));
  return m;
}

// train.threads: "auto" or an integer 0..kMaxThreads, 0 being auto (TrainSpec::threads).
int parse_thread_count(const ConfigNode& where, const std::string& text) {
  if (text == "auto") return 0;
  const std::optional<long long> count = is_quoted(where.yaml()) ? std::nullopt : parse_integer(text);
  if (!count || *count < 0 || *count > kMaxThreads)
    where.fail("expected auto or an integer between 0 and " + std::to_string(kMaxThreads) +
               " (0 = auto), got " + describe_got(where.yaml()));
  return int(*count);
}

TrainSpec parse_train(const ConfigNode& node) {
  const Options o = parse_options(node, train_options(), {});
  TrainSpec t;
  t.steps = o.get_int("steps");
  t.batch_size = o.get_int("batch_size");
  t.micro_batches = o.get_int("micro_batches");
  if (t.batch_size % t.micro_batches != 0)
    o.node("micro_batches").fail("expected a divisor of train.batch_size (" +
                                 std::to_string(t.batch_size) + "), got " +
                                 std::to_string(t.micro_batches));
  t.lr = o.get_float("lr");
  t.min_lr_ratio = o.get_float("min_lr_ratio");
  t.warmup_steps = o.get_int("warmup_steps");
  t.schedule = o.get_string("schedule");
  t.weight_decay = o.get_float("weight_decay");
  t.beta1 = o.get_float("beta1");
  t.beta2 = o.get_float("beta2");
  t.eps = o.get_float("eps");
  t.grad_clip = o.get_float("grad_clip");
  t.log_every = o.get_int("log_every");
  t.threads = parse_thread_count(o.node("threads"), o.get_string("threads"));
  t.on_nonfinite = o.get_string("on_nonfinite");
  require_positive(o, "lr");
  require_positive(o, "eps");
  require_below_one(o, "beta1");
  require_below_one(o, "beta2");
  return t;
}

// `section` with `overrides`' keys set on top (a copy); the section's own keys keep the
// file that set them, so a relative `path` stays relative to the file it was written in.
PluginSpec with_overrides(const PluginSpec& section, const ConfigNode& overrides,
                          const std::vector<std::string>& keys) {
  YAML::Node merged = YAML::Clone(section.node.yaml());
  for (const auto& key : keys) merged[key] = YAML::Clone(overrides.child(key).yaml());
  KeyOrigins inherited;
  for (const auto& key : section.node.keys())
    if (std::find(keys.begin(), keys.end(), key) == keys.end())
      inherited[overrides.path() + "." + key] = section.node.child(key).file();
  return PluginSpec{section.name, overrides.derived(merged, inherited)};
}

// eval.variants: {name: {task option: value, ..., encoder: {encoder option: value, ...}}}
// -> the run's task (and encoder) with each variant's options applied (the plugins
// validate them when the run is prepared).
std::vector<EvalVariant> parse_eval_variants(const ConfigNode& variants, const PluginSpec& task,
                                             const PluginSpec& encoder) {
  std::vector<EvalVariant> out;
  if (is_absent(variants.yaml())) return out;
  if (!variants.yaml().IsMap())
    variants.fail("expected a mapping from variant name to task options, e.g. {sparse: {eval_p_ignore: 0.98}}, got " +
                  describe_got(variants.yaml()));
  if (variants.yaml().size() > kMaxVariants)
    variants.fail("expected at most " + std::to_string(kMaxVariants) + " variants, got " +
                  std::to_string(variants.yaml().size()));
  // Each variant is a copy of the task and encoder sections.
  const std::size_t section_nodes = expanded_size(task.node.yaml(), kMaxConfigNodes) +
                                    expanded_size(encoder.node.yaml(), kMaxConfigNodes);
  if (section_nodes * variants.yaml().size() > kMaxExpandedNodes)
    variants.fail("expected variants x nodes of the task and encoder sections to be at most " +
                  std::to_string(kMaxExpandedNodes) + ", got " +
                  std::to_string(variants.yaml().size()) + " x " + std::to_string(section_nodes));
  for (const auto& name : variants.keys()) {
    const ConfigNode overrides = variants.child(name);
    if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
                            std::string::npos)
      overrides.fail("expected a variant name of letters, digits, '_' and '-'");
    if (!overrides.yaml().IsMap() || overrides.yaml().size() == 0)
      overrides.fail("expected a non-empty mapping of task options (and/or encoder: {options}), got " +
                     describe_got(overrides.yaml()));
    if (overrides.has("name"))
      overrides.child("name").fail("a variant keeps the run's task; expected task options only");
    std::vector<std::string> task_keys;
    for (const auto& key : overrides.keys())
      if (key != "encoder") task_keys.push_back(key);
    EvalVariant v{name, "", with_overrides(task, overrides, task_keys), std::nullopt, task_keys.empty()};
    if (overrides.has("encoder")) {
      const ConfigNode enc = overrides.child("encoder");
      if (!enc.yaml().IsMap() || enc.yaml().size() == 0)
        enc.fail("expected a non-empty mapping of encoder options, e.g. {interpolation: 4}, got " +
                 describe_got(enc.yaml()));
      if (enc.has("name"))
        enc.child("name").fail("a variant keeps the run's encoder; expected encoder options only");
      v.encoder = with_overrides(encoder, enc, enc.keys());
    }
    YAML::Emitter text;
    text << YAML::Flow << overrides.yaml();
    v.overrides_yaml = text.c_str();
    out.push_back(std::move(v));
  }
  return out;
}

EvalSpec parse_eval(const ConfigNode& node, const PluginSpec& task, const PluginSpec& encoder) {
  const Options o = parse_options(node, eval_options(), {"variants"});
  EvalSpec e;
  e.lengths = o.get_int_list("lengths");
  // Leaving lengths out means "the training length"; writing an empty list is a mistake.
  if (e.lengths.empty() && node.has("lengths"))
    o.node("lengths").fail("expected a non-empty list of integers >= 1, got an empty list");
  if (e.lengths.size() > std::size_t(kMaxListItems))
    o.node("lengths").fail("expected at most " + std::to_string(kMaxListItems) +
                           " evaluation lengths, got " + std::to_string(e.lengths.size()));
  e.batches = o.get_int("batches");
  e.batch_size = o.get_int("batch_size");
  e.tokens = o.get_int("tokens");
  e.variants = parse_eval_variants(node.child("variants"), task, encoder);
  return e;
}

OutputSpec parse_output(const ConfigNode& node, const std::string& source_file) {
  const Options o = parse_options(node, output_options(), {});
  OutputSpec out;
  const std::string& dir = o.get_string("dir");
  if (dir.empty()) o.node("dir").fail("expected a folder name, got ''");
  out.dir = (fs::path(source_file).parent_path() / dir).lexically_normal().string();
  out.checkpoint = o.get_bool("checkpoint");
  out.checkpoint_every = o.get_int("checkpoint_every");
  return out;
}

// A plugin section: a mapping whose `name` picks the plugin. Its other keys are the
// plugin's to check when it is built.
PluginSpec parse_plugin(const ConfigNode& node) {
  if (is_absent(node.yaml()))
    node.fail("required section missing; expected a mapping with a name");
  if (!node.yaml().IsMap())
    node.fail("expected a mapping with a name, got " + describe_got(node.yaml()));
  const ConfigNode name = node.child("name");
  if (!name.yaml().IsDefined()) name.fail("required option missing");
  if (!name.yaml().IsScalar() || name.yaml().Scalar().empty())
    name.fail("expected a name, got " + describe_got(name.yaml()));
  return PluginSpec{name.yaml().Scalar(), node};
}

std::vector<PluginSpec> parse_probes(const ConfigNode& node) {
  if (is_absent(node.yaml())) return {};
  if (!node.yaml().IsSequence())
    node.fail("expected a list of probe sections (mappings with a name), got " +
              describe_got(node.yaml()));
  std::vector<PluginSpec> probes;
  for (std::size_t i = 0; i < node.yaml().size(); ++i) probes.push_back(parse_plugin(node.item(i)));
  return probes;
}

// Run and experiment names become file names (<dir>/<run>.h5).
void check_run_name(const ConfigNode& where, const std::string& name) {
  const std::string problem = file_name_problem(name);
  if (!problem.empty())
    where.fail("expected a run name of at most " + std::to_string(kMaxRunNameBytes) +
               " letters, digits, '.', '_' or '-', not starting with '.' (it names the results "
               "file), got '" + printable(name) + "' (" + problem + ")");
}

// Fills the defaults of the sections poslab itself owns, so that the YAML written into a
// results file says every value the run used (plugin sections are left as written).
YAML::Node with_defaults(const YAML::Node& tree) {
  YAML::Node out = YAML::Clone(tree);
  // An empty-list default (eval.lengths) means "decided elsewhere" and is left out: written
  // explicitly it would not load again, since an explicit list must not be empty.
  const auto fill = [](YAML::Node section, const std::vector<OptionSpec>& specs) {
    for (const auto& spec : specs)
      if (!find_key(section, spec.name).IsDefined() && !spec.default_value.empty() &&
          spec.default_value != "[]")
        section[spec.name] = YAML::Load(spec.default_value);
  };
  fill(out, {top_level_options()[2]});  // seed; description stays absent when not given
  const std::pair<const char*, std::vector<OptionSpec>> sections[] = {
      {"model", model_options()},
      {"train", train_options()},
      {"eval", eval_options()},
      {"output", output_options()}};
  for (const auto& [key, specs] : sections) {
    if (is_absent(find_key(out, key))) out[key] = YAML::Node(YAML::NodeType::Map);
    fill(out[key], specs);
  }
  return out;
}

// Emits the top-level keys in schema order (includes are merged first, so document order
// would put model/train before name), which keeps the /config of every results file alike.
std::string emit(const YAML::Node& tree) {
  YAML::Node ordered(YAML::NodeType::Map);
  for (const auto& key : run_keys()) {
    const YAML::Node value = find_key(tree, key);
    if (value.IsDefined()) ordered[key] = value;
  }
  YAML::Emitter out;
  out << ordered;
  return std::string(out.c_str()) + "\n";
}

// Validates one resolved run tree and turns it into a RunSpec. `run_name` is empty when
// the experiment has no runs: list (the run is then named after the experiment).
RunSpec build_run(Tree tree, const std::string& run_name, const std::string& source_file) {
  // The encoder section is optional; its absence means the NoPE baseline.
  if (is_absent(find_key(tree.yaml, "encoder"))) {
    YAML::Node none(YAML::NodeType::Map);
    none["name"] = "none";
    tree.yaml["encoder"] = none;
  }
  auto origins = std::make_shared<const KeyOrigins>(std::move(tree.origins));
  const ConfigNode root(tree.yaml, "", origins, source_file);
  check_keys(root, run_keys());

  std::vector<std::string> sections;
  for (const auto& key : run_keys())
    if (key != "name" && key != "description" && key != "seed") sections.push_back(key);
  const Options top = parse_options(root, top_level_options(), sections);

  RunSpec run;
  run.experiment_name = top.get_string("name");
  run.run_name = run_name.empty() ? run.experiment_name : run_name;
  if (run_name.empty()) check_run_name(top.node("name"), run.run_name);
  run.seed = std::uint64_t(top.get_int("seed"));
  run.task = parse_plugin(root.child("task"));
  run.encoder = parse_plugin(root.child("encoder"));
  run.probes = parse_probes(root.child("probes"));
  run.model = parse_model(root.child("model"));
  run.train = parse_train(root.child("train"));
  run.eval = parse_eval(root.child("eval"), run.task, run.encoder);
  run.output = parse_output(root.child("output"), source_file);
  const ConfigNode grid = root.child("grid");
  if (!is_absent(grid.yaml()) && !grid.yaml().IsMap())
    grid.fail("expected a mapping, got " + describe_got(grid.yaml()));
  run.source_file = source_file;
  run.resolved_yaml = emit(with_defaults(tree.yaml));
  run.root = root;
  return run;
}

// ---- Runs expansion ----------------------------------------------------------------------

struct RunTree {
  std::string name;  // empty: the single implicit run
  Tree tree;
};

// Splits the base tree into one tree per `runs:` item (base deep-merged with the item);
// without runs:, the base itself is the only run.
std::vector<RunTree> expand_runs(const Tree& base, const std::string& source_file) {
  auto origins = std::make_shared<const KeyOrigins>(base.origins);
  const ConfigNode runs(find_key(base.yaml, "runs"), "runs", origins, source_file);
  Tree common{YAML::Clone(base.yaml), base.origins};
  common.yaml.remove("runs");
  erase_subtree(common.origins, "runs");
  if (!runs.yaml().IsDefined()) return {RunTree{"", common}};

  if (!runs.yaml().IsSequence() || runs.yaml().size() == 0)
    runs.fail("expected a non-empty list of runs (mappings with a name), got " +
              describe_got(runs.yaml()));
  // Each run is a copy of everything outside runs:.
  const std::size_t per_run = expanded_size(common.yaml, kMaxConfigNodes);
  if (per_run * runs.yaml().size() > kMaxExpandedNodes)
    runs.fail("expected runs x nodes outside runs: to be at most " +
              std::to_string(kMaxExpandedNodes) + ", got " + std::to_string(runs.yaml().size()) +
              " runs x " + std::to_string(per_run) + " nodes");
  const std::string runs_file = runs.file();
  std::map<std::string, std::size_t> seen;
  std::vector<RunTree> out;
  for (std::size_t i = 0; i < runs.yaml().size(); ++i) {
    const ConfigNode item = runs.item(i);
    if (!item.yaml().IsMap())
      item.fail("expected a mapping with a name, got " + describe_got(item.yaml()));
    check_keys(item, run_keys());
    const ConfigNode name = item.child("name");
    if (!name.yaml().IsDefined()) name.fail("required option missing");
    if (!name.yaml().IsScalar()) name.fail("expected a run name, got " + describe_got(name.yaml()));
    const std::string run_name = name.yaml().Scalar();
    check_run_name(name, run_name);
    const auto [it, inserted] = seen.emplace(run_name, i);
    if (!inserted)
      name.fail("duplicate run name '" + run_name + "' (also runs[" + std::to_string(it->second) + "])");

    YAML::Node changes = YAML::Clone(item.yaml());
    changes.remove("name");
    KeyOrigins change_origins;
    record_origins(changes, "", runs_file, change_origins);
    Tree run{YAML::Clone(common.yaml), common.origins};
    merge_into(run, changes, change_origins);
    out.push_back(RunTree{run_name, std::move(run)});
  }
  return out;
}

}  // namespace

std::vector<RunSpec> load_experiment(const std::string& path,
                                     const std::vector<std::string>& overrides) {
  std::vector<Override> sets;
  for (const auto& text : overrides) sets.push_back(parse_override(text));

  std::vector<std::pair<std::string, std::string>> stack;
  const Tree base = load_tree(path, stack);
  check_keys(ConfigNode(base.yaml, "", std::make_shared<const KeyOrigins>(base.origins), path),
             kTopLevelKeys);

  std::vector<RunSpec> specs;
  for (auto& [run_name, tree] : expand_runs(base, path)) {
    // --set is applied last, on every run, so that the command line always wins.
    for (const auto& set : sets) merge_into(tree, set.tree, set.origins);
    try {
      specs.push_back(build_run(std::move(tree), run_name, path));
    } catch (const ConfigError& e) {
      // The key path alone does not say which run the bad value ended up in.
      if (run_name.empty()) throw;
      throw ConfigError(std::string(e.what()) + " (in run '" + run_name + "')");
    }
  }
  return specs;
}

}  // namespace poslab
