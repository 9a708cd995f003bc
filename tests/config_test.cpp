// Tests for src/io/config: ConfigNode paths and origins, option parsing, and experiment
// loading (includes, overrides, runs, validation messages).
#include "io/config.h"
#include "core/registry.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

namespace poslab {
namespace {

namespace fs = std::filesystem;
using Type = OptionSpec::Type;

std::string fixture(const std::string& name) {
  return std::string(POSLAB_SOURCE_DIR) + "/tests/data/config/" + name;
}

// Writes a one-off experiment file for the cases that differ from minimal.yaml by a line.
std::string write_temp(const std::string& name, const std::string& text) {
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("poslab_config_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path path = dir / name;
  std::ofstream(path) << text;
  return path.string();
}

// Runs `body`, expects a ConfigError and returns its message.
std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ConfigError";
  return "";
}

std::string load_error(const std::string& path, const std::vector<std::string>& sets = {}) {
  return error_of([&] { load_experiment(path, sets); });
}

// A minimal valid experiment followed by `extra` lines.
std::string experiment_with(const std::string& name, const std::string& extra) {
  return write_temp(name, "name: t\ntask: {name: copy}\n" + extra);
}

// ---- ConfigNode --------------------------------------------------------------------------

TEST(ConfigNode, ChildOfMissingKeyKeepsPathAndFile) {
  auto origins = std::make_shared<KeyOrigins>(KeyOrigins{{"model", "a.yaml"}});
  const ConfigNode root(YAML::Load("model: {layers: 2}"), "", origins, "exp.yaml");
  const ConfigNode missing = root.child("model").child("d_model");
  EXPECT_FALSE(missing.yaml().IsDefined());
  EXPECT_EQ(missing.path(), "model.d_model");
  EXPECT_EQ(missing.file(), "a.yaml");  // walks up to "model"
  EXPECT_EQ(root.child("train").file(), "exp.yaml");  // no origin: the fallback
  EXPECT_EQ(error_of([&] { missing.fail("boom"); }), "a.yaml: model.d_model: boom");
  EXPECT_EQ(error_of([&] { root.fail("boom"); }), "exp.yaml: boom");
}

TEST(ConfigNode, FileWalksUpThroughSequenceItems) {
  auto origins = std::make_shared<KeyOrigins>(
      KeyOrigins{{"probes", "p.yaml"}, {"a.b", "b.yaml"}, {"a", "a.yaml"}});
  const ConfigNode root(YAML::Load("probes: [{name: x}]\na: {b: {c: 1}}"), "", origins, "f");
  EXPECT_EQ(root.child("probes").item(0).child("k").path(), "probes[0].k");
  EXPECT_EQ(root.child("probes").item(0).child("k").file(), "p.yaml");
  EXPECT_EQ(root.child("a").child("b").child("c").file(), "b.yaml");
  EXPECT_EQ(root.child("a").child("z").file(), "a.yaml");
  EXPECT_FALSE(root.child("probes").item(5).yaml().IsDefined());
}

TEST(ConfigNode, KeysInDocumentOrderAndHas) {
  const ConfigNode root(YAML::Load("b: 1\na: 2\nc: 3"), "", nullptr, "f");
  EXPECT_EQ(root.keys(), (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_TRUE(root.has("a"));
  EXPECT_FALSE(root.has("d"));
  EXPECT_FALSE(root.child("a").has("x"));  // a scalar has no keys, and does not throw
}

TEST(ConfigNode, AssignmentRebindsInsteadOfWritingIntoTheTree) {
  const YAML::Node tree = YAML::Load("a: {b: 1}");
  ConfigNode node(tree, "", nullptr, "f");
  node = node.child("a");
  EXPECT_EQ(node.path(), "a");
  EXPECT_TRUE(tree["a"].IsMap());  // the tree still has its root mapping
  EXPECT_EQ(tree["a"]["b"].as<int>(), 1);
}

// ---- parse_options / describe_options -------------------------------------------------------

std::vector<OptionSpec> sample_specs() {
  return {{"max_length", Type::Int, "512", "rows of the table", 1},
          {"scale", Type::Float, "0.5", "a factor", 0, 1},
          {"kind", Type::String, "cosine", "schedule", -INFINITY, INFINITY, {"cosine", "constant"}},
          {"on", Type::Bool, "true", "switch"},
          {"lengths", Type::IntList, "[8, 16]", "lengths", 1},
          {"label", Type::String, "", "required text"}};
}

ConfigNode section(const std::string& yaml) {
  return ConfigNode(YAML::Load(yaml), "encoder",
                    std::make_shared<KeyOrigins>(KeyOrigins{{"encoder", "enc.yaml"}}), "exp.yaml");
}

TEST(ParseOptions, DefaultsAndTheirNodes) {
  const Options o = parse_options(section("{name: learned, label: x}"), sample_specs());
  EXPECT_EQ(o.get_int("max_length"), 512);
  EXPECT_DOUBLE_EQ(o.get_float("scale"), 0.5);
  EXPECT_EQ(o.get_string("kind"), "cosine");
  EXPECT_TRUE(o.get_bool("on"));
  EXPECT_EQ(o.get_int_list("lengths"), (std::vector<int>{8, 16}));
  EXPECT_EQ(o.get_string("label"), "x");
  // A defaulted option's node is the undefined child, still naming key path and file.
  EXPECT_FALSE(o.node("max_length").yaml().IsDefined());
  EXPECT_EQ(o.node("max_length").path(), "encoder.max_length");
  EXPECT_EQ(o.node("max_length").file(), "enc.yaml");
  EXPECT_TRUE(o.node("label").yaml().IsDefined());
}

TEST(ParseOptions, GivenValues) {
  const Options o = parse_options(
      section("{max_length: 64, scale: 1, kind: constant, on: false, lengths: 32, label: y}"),
      sample_specs());
  EXPECT_EQ(o.get_int("max_length"), 64);
  EXPECT_DOUBLE_EQ(o.get_float("scale"), 1.0);  // an integer is a valid float
  EXPECT_EQ(o.get_string("kind"), "constant");
  EXPECT_FALSE(o.get_bool("on"));
  EXPECT_EQ(o.get_int_list("lengths"), (std::vector<int>{32}));  // scalar = one-element list
}

TEST(ParseOptions, UndeclaredGetterIsAProgrammingError) {
  const Options o = parse_options(section("{label: x}"), sample_specs());
  EXPECT_THROW(o.get_int("nope"), std::logic_error);
  EXPECT_THROW(o.get_float("max_length"), std::logic_error);  // declared, but as an int
  EXPECT_THROW(o.node("nope"), std::logic_error);
}

TEST(ParseOptions, Errors) {
  const auto err = [](const std::string& yaml) {
    return error_of([&] { parse_options(section(yaml), sample_specs()); });
  };
  EXPECT_EQ(err("{label: x, max_lenght: 3}"),
            "enc.yaml: encoder.max_lenght: unknown key; expected one of: max_length, scale, kind, "
            "on, lengths, label");
  EXPECT_EQ(err("{}"), "enc.yaml: encoder.label: required option missing");
  EXPECT_EQ(err("[1, 2]"), "enc.yaml: encoder: expected a mapping, got a list");
  EXPECT_EQ(err("{label: x, max_length: 0}"),
            "enc.yaml: encoder.max_length: expected an integer >= 1, got 0");
  EXPECT_EQ(err("{label: x, max_length: 1.5}"),
            "enc.yaml: encoder.max_length: expected an integer >= 1, got 1.5");
  EXPECT_EQ(err("{label: x, max_length: abc}"),
            "enc.yaml: encoder.max_length: expected an integer >= 1, got 'abc'");
  EXPECT_EQ(err("{label: x, max_length: true}"),
            "enc.yaml: encoder.max_length: expected an integer >= 1, got true");
  EXPECT_EQ(err("{label: x, max_length: '64'}"),
            "enc.yaml: encoder.max_length: expected an integer >= 1, got '64' (a quoted string)");
  EXPECT_EQ(err("{label: x, scale: 2}"),
            "enc.yaml: encoder.scale: expected a number between 0 and 1, got 2");
  EXPECT_EQ(err("{label: x, kind: foo}"),
            "enc.yaml: encoder.kind: expected one of: cosine, constant, got 'foo'");
  EXPECT_EQ(err("{label: x, on: yes}"), "enc.yaml: encoder.on: expected true or false, got 'yes'");
  EXPECT_EQ(err("{label: x, lengths: [8, 0]}"),
            "enc.yaml: encoder.lengths[1]: expected an integer >= 1, got 0");
  EXPECT_EQ(err("{label: x, lengths: {a: 1}}"),
            "enc.yaml: encoder.lengths: expected a list of integers >= 1, got a mapping");
  EXPECT_EQ(err("{label: [x]}"), "enc.yaml: encoder.label: expected a string, got a list");
}

TEST(ParseOptions, NumberGrammar) {
  const std::vector<OptionSpec> specs = {{"i", Type::Int, "0", ""}, {"f", Type::Float, "0", ""}};
  const auto parse = [&](const std::string& yaml) { return parse_options(section(yaml), specs); };
  EXPECT_EQ(parse("{i: -12}").get_int("i"), -12);
  EXPECT_EQ(parse("{i: +7}").get_int("i"), 7);
  EXPECT_EQ(parse("{i: 010}").get_int("i"), 10);  // decimal, not octal
  EXPECT_DOUBLE_EQ(parse("{f: 1e-3}").get_float("f"), 1e-3);
  EXPECT_DOUBLE_EQ(parse("{f: .5}").get_float("f"), 0.5);
  EXPECT_DOUBLE_EQ(parse("{f: -2.}").get_float("f"), -2.0);
  EXPECT_DOUBLE_EQ(parse("{f: 3E+2}").get_float("f"), 300.0);
  for (const std::string bad : {"0x10", "1e3", "99999999999", "1_000", "''"})
    EXPECT_THROW(parse("{i: " + bad + "}"), ConfigError) << bad;
  for (const std::string bad : {".", "1e", "e3", ".inf", "nan", "1.2.3", "0x1p3", "1e999"})
    EXPECT_THROW(parse("{f: " + bad + "}"), ConfigError) << bad;
}

TEST(ParseOptions, UndefinedNodeMeansAllDefaults) {
  const ConfigNode root(YAML::Load("{}"), "", nullptr, "f");
  const Options o = parse_options(root.child("encoder"), {{"n", Type::Int, "3", "", 1}});
  EXPECT_EQ(o.get_int("n"), 3);
  EXPECT_EQ(o.node("n").path(), "encoder.n");
}

TEST(ParseOptions, BadDefaultIsAProgrammingError) {
  EXPECT_THROW(parse_options(section("{}"), {{"n", Type::Int, "0", "", 1}}), std::logic_error);
}

TEST(DescribeOptions, OneLinePerOption) {
  EXPECT_EQ(describe_options(sample_specs()),
            "  max_length (int, default 512, >= 1): rows of the table\n"
            "  scale (float, default 0.5, between 0 and 1): a factor\n"
            "  kind (string, default cosine, one of cosine|constant): schedule\n"
            "  on (bool, default true): switch\n"
            "  lengths (int list, default [8, 16], >= 1): lengths\n"
            "  label (string, required): required text\n");
  EXPECT_EQ(describe_options({}), "");
}

// ---- load_experiment: includes ----------------------------------------------------------------

TEST(LoadExperiment, MinimalHasDefaults) {
  const auto runs = load_experiment(fixture("minimal.yaml"), {});
  ASSERT_EQ(runs.size(), 1u);
  const RunSpec& r = runs[0];
  EXPECT_EQ(r.experiment_name, "minimal");
  EXPECT_EQ(r.run_name, "minimal");
  EXPECT_EQ(r.seed, 0u);
  EXPECT_EQ(r.task.name, "copy");
  EXPECT_EQ(r.task.node.path(), "task");
  EXPECT_EQ(r.encoder.name, "none");
  EXPECT_EQ(r.encoder.node.path(), "encoder");
  EXPECT_TRUE(r.probes.empty());
  EXPECT_EQ(r.model.d_model, ModelSpec{}.d_model);
  EXPECT_EQ(r.train.steps, TrainSpec{}.steps);
  EXPECT_TRUE(r.eval.lengths.empty());
  EXPECT_EQ(r.output.dir, fs::path(fixture("results")).lexically_normal().string());
  EXPECT_EQ(r.source_file, fixture("minimal.yaml"));
  // The resolved YAML reloads and carries the defaults it ran with.
  const YAML::Node resolved = YAML::Load(r.resolved_yaml);
  EXPECT_EQ(resolved["name"].as<std::string>(), "minimal");
  EXPECT_EQ(resolved["model"]["d_model"].as<int>(), ModelSpec{}.d_model);
  EXPECT_EQ(resolved["encoder"]["name"].as<std::string>(), "none");
}

TEST(LoadExperiment, IncludesMergeInOrderAndDeep) {
  const RunSpec r = load_experiment(fixture("merge.yaml"), {}).at(0);
  EXPECT_EQ(r.model.layers, 2);       // from model_small.yaml
  EXPECT_EQ(r.model.d_model, 64);     // merge.yaml overrides model_small.yaml
  EXPECT_EQ(r.model.heads, 4);        // deep merge keeps sibling keys
  EXPECT_EQ(r.train.steps, 50);       // train_fast.yaml is included later, so it wins
  EXPECT_EQ(r.train.batch_size, 8);   // ... but keeps model_small.yaml's other train keys
  EXPECT_DOUBLE_EQ(r.train.lr, 0.005);
  EXPECT_EQ(r.eval.lengths, (std::vector<int>{4}));  // sequences replace, never concatenate
  EXPECT_EQ(r.output.dir, fs::path(fixture("out")).lexically_normal().string());
  // Origins: each key names the file that last set it.
  EXPECT_EQ(r.root.child("model").child("layers").file(),
            fs::path(fixture("parts/model_small.yaml")).lexically_normal().string());
  EXPECT_EQ(r.root.child("model").child("d_model").file(), fixture("merge.yaml"));
  EXPECT_EQ(r.root.child("train").child("steps").file(),
            fs::path(fixture("parts/train_fast.yaml")).lexically_normal().string());
  EXPECT_EQ(r.resolved_yaml.find("include"), std::string::npos);
  // A merged mapping keeps the file that introduced it, for keys nobody set.
  EXPECT_EQ(r.root.child("model").child("attention").file(),
            fs::path(fixture("parts/model_small.yaml")).lexically_normal().string());
  EXPECT_EQ(r.root.child("task").child("seed").file(), fixture("merge.yaml"));
}

TEST(LoadExperiment, NestedIncludeRelativeToIncludingFile) {
  const RunSpec r = load_experiment(fixture("nested.yaml"), {}).at(0);
  EXPECT_EQ(r.model.layers, 3);    // parts/nested.yaml over parts/model_small.yaml
  EXPECT_EQ(r.model.d_model, 32);  // found via a path relative to parts/, not the experiment
  EXPECT_EQ(r.train.steps, 100);
}

TEST(LoadExperiment, IncludeCycleIsAnError) {
  const std::string msg = load_error(fixture("cycle_a.yaml"));
  EXPECT_NE(msg.find("include cycle"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cycle_b.yaml: include: "), std::string::npos) << msg;
}

TEST(LoadExperiment, MissingIncludeNamesIncludingFile) {
  const std::string resolved =
      fs::path(fixture("parts/does_not_exist.yaml")).lexically_normal().string();
  EXPECT_EQ(load_error(fixture("missing_include.yaml")),
            fixture("missing_include.yaml") + ": include: cannot open '" + resolved + "'");
}

TEST(LoadExperiment, MissingFile) {
  EXPECT_EQ(load_error(fixture("nope.yaml")), fixture("nope.yaml") + ": cannot open file");
  EXPECT_EQ(load_error(fixture("")), fixture("") + ": cannot open file");  // a directory
}

TEST(LoadExperiment, MalformedYamlHasLineNumber) {
  const std::string msg = load_error(fixture("malformed.yaml"));
  EXPECT_EQ(msg.rfind(fixture("malformed.yaml") + ": line 3, column ", 0), 0u) << msg;
}

TEST(LoadExperiment, BadIncludeValue) {
  const std::string path = experiment_with("bad_include.yaml", "include: {a: 1}\n");
  EXPECT_EQ(load_error(path),
            path + ": include: expected a file name or a list of file names, got a mapping");
}

TEST(LoadExperiment, DuplicateKeyIsAnError) {
  const std::string path = experiment_with("dup_key.yaml", "model: {layers: 2, layers: 3}\n");
  EXPECT_EQ(load_error(path), path + ": model.layers: duplicate key");
}

// ---- load_experiment: validation ------------------------------------------------------------

TEST(LoadExperiment, UnknownTopLevelKey) {
  const std::string path = experiment_with("unknown_top.yaml", "modle: {layers: 2}\n");
  const std::string msg = load_error(path);
  EXPECT_EQ(msg.rfind(path + ": modle: unknown key; expected one of: include, name,", 0), 0u) << msg;
  EXPECT_NE(msg.find("runs"), std::string::npos) << msg;
}

TEST(LoadExperiment, UnknownNestedKeyNamesFileAndPath) {
  const std::string path = experiment_with("unknown_nested.yaml", "model: {d_modle: 32}\n");
  const std::string msg = load_error(path);
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.d_modle"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown key"), std::string::npos) << msg;
  EXPECT_NE(msg.find("d_model"), std::string::npos) << msg;  // lists what is allowed
}

TEST(LoadExperiment, ErrorNamesTheIncludedFileThatSetTheKey) {
  EXPECT_EQ(load_error(fixture("typo_included.yaml")),
            fs::path(fixture("parts/typo_model.yaml")).lexically_normal().string() +
                ": model.d_modle: unknown key; expected one of: layers, d_model, heads, d_ff, "
                "tied_embeddings, attention, init_std");
}

TEST(LoadExperiment, WrongTypeRangeAndChoice) {
  std::string path = experiment_with("wrong_type.yaml", "model: {layers: abc}\n");
  EXPECT_EQ(load_error(path),
            path + ": model.layers: expected an integer between 1 and 64, got 'abc'");
  path = experiment_with("out_of_range.yaml", "train: {batch_size: 0}\n");
  EXPECT_EQ(load_error(path),
            path + ": train.batch_size: expected an integer between 1 and 65536, got 0");
  path = experiment_with("choice.yaml", "train: {schedule: linear}\n");
  EXPECT_EQ(load_error(path),
            path + ": train.schedule: expected one of: cosine, constant, got 'linear'");
  path = experiment_with("exclusive.yaml", "train: {lr: 0}\n");
  EXPECT_EQ(load_error(path), path + ": train.lr: expected a number > 0, got 0");
  path = experiment_with("beta.yaml", "train: {beta2: 1}\n");
  EXPECT_EQ(load_error(path), path + ": train.beta2: expected a number in [0, 1), got 1");
  path = experiment_with("heads.yaml", "model: {d_model: 64, heads: 5}\n");
  EXPECT_EQ(load_error(path), path + ": model.heads: expected a divisor of d_model (64), got 5");
  path = experiment_with("empty_lengths.yaml", "eval: {lengths: []}\n");
  EXPECT_EQ(load_error(path),
            path + ": eval.lengths: expected a non-empty list of integers >= 1, got an empty list");
}

TEST(LoadExperiment, RequiredSections) {
  std::string path = write_temp("no_name.yaml", "task: {name: copy}\n");
  EXPECT_EQ(load_error(path), path + ": name: required option missing");
  path = write_temp("no_task.yaml", "name: t\n");
  EXPECT_EQ(load_error(path), path + ": task: required section missing; expected a mapping with a name");
  path = write_temp("task_no_name.yaml", "name: t\ntask: {length: 3}\n");
  EXPECT_EQ(load_error(path), path + ": task.name: required option missing");
  path = experiment_with("probe_no_name.yaml", "probes: [{name: similarity}, {folds: 3}]\n");
  EXPECT_EQ(load_error(path), path + ": probes[1].name: required option missing");
  path = write_temp("top_list.yaml", "- 1\n- 2\n");
  EXPECT_EQ(load_error(path), path + ": expected a mapping at the top level, got a list");
}

// ---- load_experiment: --set overrides -------------------------------------------------------

TEST(LoadExperiment, OverridesIntListString) {
  const RunSpec r = load_experiment(fixture("merge.yaml"),
                                    {"model.d_model=128", "eval.lengths=[16, 64]",
                                     "train.schedule=constant", "description=hello world"})
                        .at(0);
  EXPECT_EQ(r.model.d_model, 128);
  EXPECT_EQ(r.eval.lengths, (std::vector<int>{16, 64}));
  EXPECT_EQ(r.train.schedule, "constant");
  EXPECT_EQ(r.model.layers, 2);  // siblings of an overridden key survive
  EXPECT_EQ(r.root.child("model").child("d_model").file(), "--set");
  EXPECT_EQ(YAML::Load(r.resolved_yaml)["model"]["d_model"].as<int>(), 128);
  EXPECT_EQ(YAML::Load(r.resolved_yaml)["description"].as<std::string>(), "hello world");
}

TEST(LoadExperiment, OverridesAreValidated) {
  EXPECT_EQ(load_error(fixture("minimal.yaml"), {"model.d_modle=3"}),
            "--set: model.d_modle: unknown key; expected one of: layers, d_model, heads, d_ff, "
            "tied_embeddings, attention, init_std");
  EXPECT_EQ(load_error(fixture("minimal.yaml"), {"model.layers=0"}),
            "--set: model.layers: expected an integer between 1 and 64, got 0");
  const std::string msg = load_error(fixture("minimal.yaml"), {"modle.layers=2"});
  EXPECT_EQ(msg.rfind("--set: modle: unknown key; expected one of: name,", 0), 0u) << msg;
  EXPECT_NE(msg.find("model"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("runs"), std::string::npos) << msg;  // not settable from the command line
}

TEST(LoadExperiment, MalformedOverrides) {
  for (const std::string bad : {"model.d_model", "=3", "model..d=3", ".a=1", "a.=1"})
    EXPECT_EQ(load_error(fixture("minimal.yaml"), {bad}),
              "--set: '" + bad + "': expected key.path=value");
  EXPECT_NE(load_error(fixture("minimal.yaml"), {"runs=[]"}).find("cannot be overridden"),
            std::string::npos);
}

// ---- load_experiment: runs ---------------------------------------------------------------------

TEST(LoadExperiment, RunsExpandOntoTheBase) {
  const auto runs = load_experiment(fixture("runs.yaml"), {"train.steps=5"});
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].run_name, "nope");
  EXPECT_EQ(runs[0].experiment_name, "compare");
  EXPECT_EQ(runs[0].encoder.name, "none");
  EXPECT_EQ(runs[0].model.d_model, 64);
  EXPECT_EQ(runs[1].run_name, "learned");
  EXPECT_EQ(runs[1].encoder.name, "learned");
  EXPECT_EQ(runs[1].encoder.node.child("max_length").yaml().as<int>(), 64);
  EXPECT_EQ(runs[1].model.d_model, 128);  // per-run override
  EXPECT_EQ(runs[1].model.heads, 4);      // deep-merged with the base
  for (const auto& r : runs) {
    EXPECT_EQ(r.seed, 7u);
    EXPECT_EQ(r.train.steps, 5);  // --set wins over base and runs
    ASSERT_EQ(r.probes.size(), 2u);
    EXPECT_EQ(r.probes[0].name, "absolute_position");
    EXPECT_EQ(r.probes[0].node.path(), "probes[0]");
    EXPECT_EQ(r.probes[0].node.file(), fixture("runs.yaml"));
    const YAML::Node resolved = YAML::Load(r.resolved_yaml);
    EXPECT_FALSE(resolved["runs"].IsDefined());
    EXPECT_EQ(resolved["name"].as<std::string>(), "compare");
  }
  EXPECT_EQ(runs[1].root.child("model").child("d_model").file(), fixture("runs.yaml"));
}

TEST(LoadExperiment, ResolvedYamlLoadsAgainAsTheSameRun) {
  const RunSpec first = load_experiment(fixture("runs.yaml"), {"eval.lengths=[16, 32]"}).at(1);
  const std::string path = write_temp("resolved.yaml", first.resolved_yaml);
  const auto again = load_experiment(path, {});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].resolved_yaml, first.resolved_yaml);
  EXPECT_EQ(again[0].model.d_model, 128);
  EXPECT_EQ(again[0].encoder.name, "learned");
  EXPECT_EQ(again[0].eval.lengths, (std::vector<int>{16, 32}));
  EXPECT_EQ(first.resolved_yaml.rfind("name: compare\nseed: 7\ntask:", 0), 0u) << first.resolved_yaml;
}

TEST(LoadExperiment, RunErrors) {
  EXPECT_EQ(load_error(fixture("runs_duplicate.yaml")),
            fixture("runs_duplicate.yaml") + ": runs[2].name: duplicate run name 'a' (also runs[0])");
  std::string path = experiment_with("run_no_name.yaml", "runs: [{model: {layers: 2}}]\n");
  EXPECT_EQ(load_error(path), path + ": runs[0].name: required option missing");
  path = experiment_with("run_include.yaml", "runs: [{name: a, include: x.yaml}]\n");
  EXPECT_NE(load_error(path).find(path + ": runs[0].include: unknown key"), std::string::npos);
  path = experiment_with("run_bad_value.yaml", "runs: [{name: a}, {name: b, model: {layers: 0}}]\n");
  EXPECT_EQ(load_error(path),
            path + ": model.layers: expected an integer between 1 and 64, got 0 (in run 'b')");
  path = experiment_with("runs_empty.yaml", "runs: []\n");
  EXPECT_NE(load_error(path).find("runs: expected a non-empty list"), std::string::npos);
}

}  // namespace
}  // namespace poslab

namespace poslab {
namespace {

// A plugin registered under a name that is taken stops the program at start-up, naming
// both files, instead of silently replacing the first.
TEST(RegistryDeathTest, DuplicateNameAbortsNamingBothFiles) {
  using Toy = Registry<int>;
  Toy::instance().add({"toy", "a toy", {}, nullptr, "first.cpp"});
  EXPECT_DEATH(Toy::instance().add({"toy", "another toy", {}, nullptr, "second.cpp"}),
               "plugin name 'toy' is registered twice: in first.cpp and in second.cpp");
}

}  // namespace
}  // namespace poslab
