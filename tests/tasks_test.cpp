// Tests of the task plugins. Ground truth is recomputed here from the generated tokens
// (decoded through token_name), never by calling the generators' internals: e.g. the
// counting test parses the program back and runs it, the flip-flop test replays the
// memory, the text test finds each window in the file.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "io/config.h"
#include "tasks/task.h"

namespace poslab {
namespace {

const std::string kCorpus = std::string(POSLAB_SOURCE_DIR) + "/tests/data/tiny_corpus.txt";

ConfigNode node_from(const std::string& yaml, const std::string& file = "test.yaml") {
  return ConfigNode(YAML::Load(yaml), "task", std::make_shared<KeyOrigins>(), file);
}

std::unique_ptr<Task> build(const std::string& name, const std::string& yaml,
                            const std::string& file = "test.yaml") {
  return TaskRegistry::instance().build(PluginSpec{name, node_from(yaml, file)});
}

// Message of the ConfigError thrown by building the task ("" if none was thrown).
std::string build_error(const std::string& name, const std::string& yaml,
                        const std::string& file = "test.yaml") {
  try {
    build(name, yaml, file);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// One example row of a batch, with tokens rendered by the task.
struct Row {
  std::vector<int> inputs, targets;
  std::vector<std::uint8_t> mask;
  std::vector<std::string> in_names, target_names;
};

Row row(const Task& task, const Batch& batch, int b) {
  Row r;
  for (int t = 0; t < batch.seq_len; ++t) {
    const std::size_t i = std::size_t(b) * batch.seq_len + t;
    r.inputs.push_back(batch.inputs[i]);
    r.targets.push_back(batch.targets[i]);
    r.mask.push_back(batch.loss_mask[i]);
    r.in_names.push_back(task.token_name(batch.inputs[i]));
    r.target_names.push_back(task.token_name(batch.targets[i]));
  }
  return r;
}

// Index of the first input named `name`, or -1.
int find_input(const Row& r, const std::string& name) {
  auto it = std::find(r.in_names.begin(), r.in_names.end(), name);
  return it == r.in_names.end() ? -1 : static_cast<int>(it - r.in_names.begin());
}

std::vector<int> masked_positions(const Row& r) {
  std::vector<int> out;
  for (int t = 0; t < int(r.mask.size()); ++t)
    if (r.mask[t]) out.push_back(t);
  return out;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Writes `bytes` to a fresh file in the temp directory and removes it at scope exit.
struct TempFile {
  explicit TempFile(const std::string& name, const std::string& bytes)
      : path((std::filesystem::temp_directory_path() / ("poslab_tasks_test_" + name)).string()) {
    std::ofstream(path, std::ios::binary) << bytes;
  }
  ~TempFile() { std::filesystem::remove(path); }
  std::string path;
};

// ---- Properties every task must have --------------------------------------------------

struct Case {
  std::string name;
  std::string yaml;
  bool exact_fit;  // every example fills sequence_length(L) exactly (no padding at L, L)
};

std::string with_corpus(std::string yaml) {
  for (std::size_t at; (at = yaml.find("{corpus}")) != std::string::npos;)
    yaml.replace(at, 8, kCorpus);
  return yaml;
}

// Every registered task, with the settings it declares next to its registration
// (POSLAB_TASK_TEST_SETTINGS in its file); a task without them gets an empty case, which
// EveryTask.DeclaresTestSettings reports.
std::vector<Case> all_cases() {
  std::vector<Case> out;
  const auto& settings = TaskTestSettingsRegistry::instance();
  for (const auto& name : TaskRegistry::instance().names()) {
    const auto it = settings.find(name);
    if (it == settings.end()) {
      out.push_back({name, "", true});
      continue;
    }
    // The task's name goes in front of its declared options.
    YAML::Node options = YAML::Load(with_corpus(it->second.options));
    options["name"] = name;
    YAML::Emitter text;
    text << YAML::Flow << options;
    out.push_back({name, text.c_str(), it->second.exact_fit});
  }
  return out;
}

class EveryTask : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(GetParam().yaml.empty())
        << "task '" << GetParam().name << "' declares no POSLAB_TASK_TEST_SETTINGS next to its "
        << "registration (see src/tasks/task.h and docs/extending.md)";
    task = build(GetParam().name, GetParam().yaml);
  }
  std::unique_ptr<Task> task;
};

// Checks that hold for any batch: shapes, id ranges, padding and the causal shift.
void check_batch(const Task& task, const Batch& batch, int batch_size, int max_length) {
  const int T = task.sequence_length(max_length);
  ASSERT_EQ(batch.batch_size, batch_size);
  ASSERT_EQ(batch.seq_len, T);
  ASSERT_EQ(batch.inputs.size(), std::size_t(batch_size) * T);
  ASSERT_EQ(batch.targets.size(), std::size_t(batch_size) * T);
  ASSERT_EQ(batch.loss_mask.size(), std::size_t(batch_size) * T);
  for (int b = 0; b < batch_size; ++b) {
    const Row r = row(task, batch, b);
    int scored = 0;
    bool in_padding = false;
    for (int t = 0; t < T; ++t) {
      ASSERT_GE(r.inputs[t], 0);
      ASSERT_LT(r.inputs[t], task.vocab_size());
      ASSERT_GE(r.targets[t], 0);
      ASSERT_LT(r.targets[t], task.vocab_size());
      ASSERT_LE(r.mask[t], 1);
      scored += r.mask[t];
      const bool pad = r.in_names[t] == "<pad>";
      // Padding is one block at the end, never scored, with PAD targets.
      if (in_padding) {
        ASSERT_TRUE(pad) << "row " << b << " t " << t;
      }
      in_padding = pad;
      if (pad) {
        EXPECT_EQ(r.mask[t], 0);
        EXPECT_EQ(r.target_names[t], "<pad>");
      } else {
        EXPECT_NE(r.target_names[t], "<pad>");
      }
      // Causal: the target at t is the input at t + 1 (within the example).
      if (task.kind() == ModelKind::Causal && t + 1 < T && r.in_names[t + 1] != "<pad>") {
        EXPECT_EQ(r.targets[t], r.inputs[t + 1]) << "row " << b << " t " << t;
      }
      // Bidirectional (mlm): unscored positions show the original token.
      if (task.kind() == ModelKind::Bidirectional && !r.mask[t]) {
        EXPECT_EQ(r.inputs[t], r.targets[t]);
      }
    }
    EXPECT_GE(scored, 1) << "row " << b << " has nothing to score";
  }
}

TEST_P(EveryTask, IsRegisteredWithATrainingRange) {
  const auto* entry = TaskRegistry::instance().find(GetParam().name);
  ASSERT_NE(entry, nullptr);
  EXPECT_FALSE(entry->summary.empty());
  EXPECT_LE(task->min_train_length(), task->max_train_length());
  EXPECT_EQ(task->token_name(0), "<pad>");
}

TEST_P(EveryTask, ExactLengthsGiveTheRequestedSequenceLength) {
  Rng rng(1);
  const int lengths[] = {task->min_train_length(), task->max_train_length(),
                         2 * task->max_train_length()};  // 2x: extrapolation
  for (int L : lengths) {
    for (Split split : {Split::Train, Split::Eval}) {
      const Batch batch = task->make_batch(rng, split, 16, L, L);
      check_batch(*task, batch, 16, L);
      if (GetParam().exact_fit) {
        for (int b = 0; b < 16; ++b)  // no padding: the last position is real
          EXPECT_NE(task->token_name(batch.inputs[(b + 1) * batch.seq_len - 1]), "<pad>");
      }
    }
  }
}

TEST_P(EveryTask, MixedLengthsArePaddedToTheLongest) {
  Rng rng(2);
  const int lo = task->min_train_length(), hi = task->max_train_length();
  const Batch batch = task->make_batch(rng, Split::Train, 64, lo, hi);
  check_batch(*task, batch, 64, hi);
  // Examples really differ in length: the amount of padding varies between rows.
  std::set<int> pads;
  for (int b = 0; b < 64; ++b) {
    int n = 0;
    for (int t = 0; t < batch.seq_len; ++t) n += batch.inputs[b * batch.seq_len + t] == 0;
    pads.insert(n);
  }
  EXPECT_GT(pads.size(), 1u);
}

TEST_P(EveryTask, SameSeedSameBatchesDifferentSeedDifferent) {
  for (Split split : {Split::Train, Split::Eval}) {
    Rng a(42), b(42), c(43);
    const int hi = task->max_train_length();
    for (int step = 0; step < 3; ++step) {
      const Batch x = task->make_batch(a, split, 8, 1 + hi / 2, hi);
      const Batch y = task->make_batch(b, split, 8, 1 + hi / 2, hi);
      const Batch z = task->make_batch(c, split, 8, 1 + hi / 2, hi);
      EXPECT_EQ(x.inputs, y.inputs);
      EXPECT_EQ(x.targets, y.targets);
      EXPECT_EQ(x.loss_mask, y.loss_mask);
      EXPECT_NE(x.inputs, z.inputs);
    }
  }
  // A second instance built from the same options makes the same batches too.
  auto twin = build(GetParam().name, GetParam().yaml);
  Rng a(7), b(7);
  EXPECT_EQ(task->make_batch(a, Split::Train, 4, 3, 5).inputs,
            twin->make_batch(b, Split::Train, 4, 3, 5).inputs);
}

TEST_P(EveryTask, RejectsMinLengthAboveLength) {
  YAML::Node yaml = YAML::Load(GetParam().yaml);
  yaml["min_length"] = yaml["length"].as<int>() + 1;
  const std::string message = build_error(GetParam().name, YAML::Dump(yaml));
  EXPECT_NE(message.find("task.min_length"), std::string::npos) << message;
  EXPECT_NE(message.find("test.yaml"), std::string::npos) << message;
}

TEST_P(EveryTask, RejectsUnknownKeys) {
  YAML::Node yaml = YAML::Load(GetParam().yaml);
  yaml["lenght"] = 3;
  EXPECT_NE(build_error(GetParam().name, YAML::Dump(yaml)).find("lenght"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Tasks, EveryTask, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(TaskOptions, EveryTaskHasAWorkingConfigFragment) {
  for (const auto& [name, entry] : TaskRegistry::instance().entries()) {
    // docs/extending.md's walk-through task has its fragment beside it, extracted from the
    // page like its source (build/walkthrough/); every other task's is in configs/tasks/.
    const auto slash = entry.source_file.rfind('/');
    const std::string file =
        entry.source_file.find("walkthrough/") != std::string::npos
            ? entry.source_file.substr(0, slash + 1) + name + ".yaml"
            : std::string(POSLAB_SOURCE_DIR) + "/configs/tasks/" + name + ".yaml";
    ASSERT_TRUE(std::filesystem::exists(file)) << file;
    const YAML::Node yaml = YAML::LoadFile(file);
    ASSERT_EQ(yaml.size(), 1u) << file << ": expected only a task: section";
    ASSERT_EQ(yaml["task"]["name"].as<std::string>(), name);
    const ConfigNode node(yaml["task"], "task", std::make_shared<KeyOrigins>(), file);
    auto task = TaskRegistry::instance().build(PluginSpec{name, node});
    Rng rng(0);
    check_batch(*task,
                task->make_batch(rng, Split::Eval, 4, 2 * task->max_train_length(),
                                 2 * task->max_train_length()),
                4, 2 * task->max_train_length());
  }
}

TEST(TaskOptions, MinLengthDefaultsToLength) {
  auto task = build("copy", "{name: copy, length: 12}");
  EXPECT_EQ(task->min_train_length(), 12);
  EXPECT_EQ(task->max_train_length(), 12);
}

// ---- copy, reverse, sort: the answer follows from the symbols before SEP -------------

// Symbols before the separator and the scored targets, for the copy-like tasks.
struct PromptAnswer {
  std::vector<std::string> prompt, answer;
};

PromptAnswer split_at_separator(const Row& r, const std::string& sep) {
  PromptAnswer pa;
  const int s = find_input(r, sep);
  EXPECT_GE(s, 0);
  pa.prompt.assign(r.in_names.begin(), r.in_names.begin() + s);
  const auto masked = masked_positions(r);
  // The scored positions are exactly the ones from SEP on, one per answer symbol.
  for (std::size_t k = 0; k < masked.size(); ++k) EXPECT_EQ(masked[k], s + int(k));
  for (int t : masked) pa.answer.push_back(r.target_names[t]);
  return pa;
}

TEST(CopyLikeTasks, AnswersFollowFromThePrompt) {
  for (const std::string name : {"copy", "reverse", "sort"}) {
    auto task = build(name, "{length: 9, min_length: 1, vocab: 12}");
    Rng rng(3);
    const Batch batch = task->make_batch(rng, Split::Train, 64, 1, 9);
    for (int b = 0; b < 64; ++b) {
      PromptAnswer pa = split_at_separator(row(*task, batch, b), "<sep>");
      std::vector<std::string> expected = pa.prompt;
      if (name == "reverse") std::reverse(expected.begin(), expected.end());
      if (name == "sort")
        std::sort(expected.begin(), expected.end(),
                  [](const auto& x, const auto& y) { return std::stoi(x) < std::stoi(y); });
      EXPECT_EQ(pa.answer, expected) << name << " row " << b;
      for (const auto& s : pa.prompt) EXPECT_LT(std::stoi(s), 12);
    }
  }
}

TEST(SelectiveCopy, AnswerIsTheContentInOrder) {
  auto task = build("selective_copy", "{length: 16, min_length: 1, noise_rate: 0.7}");
  Rng rng(4);
  const Batch batch = task->make_batch(rng, Split::Train, 200, 1, 16);
  int blanks = 0, positions = 0;
  for (int b = 0; b < 200; ++b) {
    PromptAnswer pa = split_at_separator(row(*task, batch, b), "<sep>");
    std::vector<std::string> content;
    for (const auto& s : pa.prompt) {
      if (s == "_")
        ++blanks;
      else
        content.push_back(s);
    }
    positions += int(pa.prompt.size());
    EXPECT_FALSE(content.empty());
    EXPECT_EQ(pa.answer, content);
  }
  EXPECT_NEAR(double(blanks) / positions, 0.7, 0.05);
}

// content: K (the CoPE paper's protocol): exactly K symbols at a uniformly random K-subset
// of the n positions. Checked against what such a subset implies, independently of how it
// is drawn: each position holds content with probability K/n, and two given positions
// both hold content with probability K(K-1)/(n(n-1)) (1/11 here; blanks drawn one by one
// with the same density would give (K/n)^2 = 1/9).
TEST(SelectiveCopy, FixedContentIsAUniformSubsetOfThePositions) {
  constexpr int n = 12, K = 4, rows = 20000;
  auto task = build("selective_copy", "{length: 12, content: 4, vocab: 5}");
  EXPECT_EQ(task->sequence_length(n), n + K);
  Rng rng(21);
  const Batch batch = task->make_batch(rng, Split::Train, rows, n, n);
  std::vector<int> at(n, 0), symbol(5, 0);
  int first_two = 0;
  for (int b = 0; b < rows; ++b) {
    PromptAnswer pa = split_at_separator(row(*task, batch, b), "<sep>");
    ASSERT_EQ(int(pa.prompt.size()), n);
    std::vector<std::string> content;
    for (int i = 0; i < n; ++i) {
      if (pa.prompt[i] == "_") continue;
      content.push_back(pa.prompt[i]);
      ++at[i];
      ++symbol[std::stoi(pa.prompt[i])];
    }
    ASSERT_EQ(int(content.size()), K) << "row " << b;
    ASSERT_EQ(pa.answer, content) << "row " << b;
    first_two += pa.prompt[0] != "_" && pa.prompt[1] != "_";
  }
  // Binomial counts: 5 standard deviations.
  const double p = double(K) / n, sd = std::sqrt(rows * p * (1 - p));
  for (int i = 0; i < n; ++i) EXPECT_NEAR(at[i], rows * p, 5 * sd) << "position " << i;
  const double q = double(K * (K - 1)) / (n * (n - 1));
  EXPECT_NEAR(first_two, rows * q, 5 * std::sqrt(rows * q * (1 - q)));
  for (int v = 0; v < 5; ++v)
    EXPECT_NEAR(symbol[v], rows * K / 5.0, 5 * std::sqrt(rows * K * 0.2 * 0.8)) << "symbol " << v;
}

TEST(SelectiveCopy, FixedContentRefusesShortLengthsAndANoiseRate) {
  EXPECT_NE(build_error("selective_copy", "{length: 3, content: 4}").find("task.min_length"),
            std::string::npos);
  EXPECT_NE(build_error("selective_copy", "{length: 8, content: 4, noise_rate: 0.5}")
                .find("task.noise_rate: content: 4 fixes the blanks"),
            std::string::npos);
  // An evaluation length below K (e.g. a "dense" split with fewer positions than symbols).
  auto task = build("selective_copy", "{length: 8, content: 4}");
  EXPECT_THROW(task->check_length(3), ConfigError);
  EXPECT_NO_THROW(task->check_length(4));
}

TEST(AssociativeRecall, AnswerIsTheQueriedKeysValue) {
  auto task = build("associative_recall", "{length: 10, min_length: 1, keys: 12, values: 5}");
  Rng rng(5);
  const Batch batch = task->make_batch(rng, Split::Train, 100, 1, 10);
  for (int b = 0; b < 100; ++b) {
    const Row r = row(*task, batch, b);
    const int sep = find_input(r, "<sep>");
    ASSERT_GT(sep, 0);
    ASSERT_EQ(sep % 2, 0);
    std::map<std::string, std::string> table;
    for (int t = 0; t < sep; t += 2) {
      EXPECT_EQ(r.in_names[t][0], 'k');
      EXPECT_EQ(r.in_names[t + 1][0], 'v');
      EXPECT_TRUE(table.emplace(r.in_names[t], r.in_names[t + 1]).second) << "repeated key";
    }
    const auto masked = masked_positions(r);
    ASSERT_EQ(masked, std::vector<int>{sep + 1});
    const std::string query = r.in_names[sep + 1];
    ASSERT_TRUE(table.count(query)) << query;
    EXPECT_EQ(r.target_names[sep + 1], table[query]);
  }
}

TEST(AssociativeRecall, LengthAboveKeysIsAConfigError) {
  EXPECT_NE(build_error("associative_recall", "{length: 9, keys: 8}").find("task.length"),
            std::string::npos);
  // Evaluation beyond the key alphabet cannot make distinct keys either.
  auto task = build("associative_recall", "{length: 8, keys: 8}");
  Rng rng(0);
  EXPECT_THROW(task->make_batch(rng, Split::Eval, 2, 9, 9), ConfigError);
}

// ---- counting (variant poslab_v1; the authors' rules: counting_test.cpp) ------------

TEST(Counting, AnswerIsTheValueOfTheExecutedProgram) {
  auto task = build("counting", "{length: 60, min_length: 1, variables: 3, variant: poslab_v1}");
  Rng rng(6);
  const Batch batch = task->make_batch(rng, Split::Train, 300, 1, 60);
  std::map<std::string, int> statement_kinds;
  std::set<int> answers;
  for (int b = 0; b < 300; ++b) {
    const Row r = row(*task, batch, b);
    std::map<std::string, int> value;
    int t = 0;
    // Initialisation: `a = 0 ; b = 0 ; c = 0 ;`
    for (const std::string v : {"a", "b", "c"}) {
      ASSERT_EQ(r.in_names[t], v);
      ASSERT_EQ(r.in_names[t + 1], "=");
      ASSERT_EQ(r.in_names[t + 2], "0");
      ASSERT_EQ(r.in_names[t + 3], ";");
      value[v] = 0;
      t += 4;
    }
    // Statements until `print`.
    while (r.in_names[t] != "print") {
      if (r.in_names[t] == "pass") {
        ASSERT_EQ(r.in_names[t + 1], ";");
        ++statement_kinds["pass"];
        t += 2;
      } else if (r.in_names[t + 1] == "++") {
        ASSERT_EQ(r.in_names[t + 2], ";");
        value[r.in_names[t]] = std::min(10, value.at(r.in_names[t]) + 1);
        ++statement_kinds["++"];
        t += 3;
      } else {
        ASSERT_EQ(r.in_names[t + 1], "=");
        ASSERT_EQ(r.in_names[t + 2], "0");
        ASSERT_EQ(r.in_names[t + 3], ";");
        value.at(r.in_names[t]) = 0;
        ++statement_kinds["="];
        t += 4;
      }
    }
    const std::string asked = r.in_names[t + 1];
    ASSERT_EQ(masked_positions(r), std::vector<int>{t + 1});
    EXPECT_EQ(r.target_names[t + 1], std::to_string(value.at(asked)));
    answers.insert(value.at(asked));
  }
  // Sampled with weights reset 1 : pass 50 : increment 7.
  const double total = statement_kinds["pass"] + statement_kinds["++"] + statement_kinds["="];
  EXPECT_NEAR(statement_kinds["pass"] / total, 50.0 / 58, 0.02);
  EXPECT_NEAR(statement_kinds["++"] / total, 7.0 / 58, 0.02);
  EXPECT_GT(answers.size(), 3u);
}

TEST(Counting, ValuesSaturateAtTen) {
  // One variable and long programs: some answers must hit the cap, none exceed it.
  auto task = build("counting", "{length: 400, variant: poslab_v1}");
  Rng rng(7);
  const Batch batch = task->make_batch(rng, Split::Train, 50, 400, 400);
  int tens = 0;
  for (int b = 0; b < 50; ++b) {
    const Row r = row(*task, batch, b);
    const auto masked = masked_positions(r);
    ASSERT_EQ(masked.size(), 1u);
    const int answer = std::stoi(r.target_names[masked[0]]);
    EXPECT_LE(answer, 10);
    tens += answer == 10;
  }
  EXPECT_GT(tens, 0);
}

// ---- flip_flop: replay the memory --------------------------------------------------

struct FlipFlopStats {
  int instructions = 0, ignores = 0;
};

FlipFlopStats check_flip_flop(const Task& task, const Batch& batch) {
  FlipFlopStats stats;
  for (int b = 0; b < batch.batch_size; ++b) {
    const Row r = row(task, batch, b);
    // Instruction k is input 2k; its bit is target 2k (the next token).
    std::string memory;
    int n = 0;
    while (2 * n < batch.seq_len && r.in_names[2 * n] != "<pad>") ++n;
    EXPECT_EQ(r.in_names[0], "w");
    EXPECT_EQ(r.in_names[2 * (n - 1)], "r");
    for (int k = 0; k < n; ++k) {
      const std::string& instruction = r.in_names[2 * k];
      const std::string& bit = r.target_names[2 * k];
      EXPECT_TRUE(bit == "0" || bit == "1");
      EXPECT_EQ(r.mask[2 * k], instruction == "r" ? 1 : 0);
      if (2 * k + 1 < batch.seq_len) {
        EXPECT_EQ(r.mask[2 * k + 1], 0);
      }
      if (instruction == "w") memory = bit;
      if (instruction == "r") {
        EXPECT_EQ(bit, memory);
      }
      if (k > 0 && k < n - 1) {
        ++stats.instructions;
        stats.ignores += instruction == "i";
      }
    }
  }
  return stats;
}

TEST(FlipFlop, ReadsReturnTheLastWrittenBit) {
  auto task = build("flip_flop", "{length: 64, min_length: 2, p_ignore: 0.5}");
  Rng rng(8);
  const FlipFlopStats s = check_flip_flop(*task, task->make_batch(rng, Split::Train, 100, 2, 64));
  EXPECT_NEAR(double(s.ignores) / s.instructions, 0.5, 0.03);
}

TEST(FlipFlop, EvalSplitUsesEvalPIgnore) {
  auto task = build("flip_flop", "{length: 64, p_ignore: 0.8, eval_p_ignore: 0.98}");
  Rng rng(9);
  const FlipFlopStats train =
      check_flip_flop(*task, task->make_batch(rng, Split::Train, 100, 64, 64));
  const FlipFlopStats eval =
      check_flip_flop(*task, task->make_batch(rng, Split::Eval, 100, 64, 64));
  EXPECT_NEAR(double(train.ignores) / train.instructions, 0.8, 0.02);
  EXPECT_NEAR(double(eval.ignores) / eval.instructions, 0.98, 0.01);
  // Without eval_p_ignore, evaluation uses the training density.
  auto same = build("flip_flop", "{length: 64, p_ignore: 0.1}");
  const FlipFlopStats dense =
      check_flip_flop(*same, same->make_batch(rng, Split::Eval, 100, 64, 64));
  EXPECT_NEAR(double(dense.ignores) / dense.instructions, 0.1, 0.02);
}

TEST(FlipFlop, LengthOneIsRejected) {
  EXPECT_NE(build_error("flip_flop", "{length: 1}"), "");
  EXPECT_NE(build_error("flip_flop", "{length: 8, min_length: 1}"), "");
}

// ---- text and mlm: windows are pieces of the file ----------------------------------

// Undo the escaping of token_name for corpus characters.
std::string unescape(const std::string& name) {
  if (name == "\\n") return "\n";
  if (name == "\\t") return "\t";
  if (name == "\\r") return "\r";
  if (name == "\\\\") return "\\";
  return name;
}

// The file split by characters (UTF-8 lead bytes), the last `fraction` held out.
std::pair<std::string, std::string> split_file(const std::string& bytes, double fraction) {
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < bytes.size(); ++i)
    if ((static_cast<unsigned char>(bytes[i]) & 0xC0) != 0x80) starts.push_back(i);
  const std::size_t n_eval = std::llround(fraction * double(starts.size()));
  const std::size_t cut = starts[starts.size() - n_eval];
  return {bytes.substr(0, cut), bytes.substr(cut)};
}

std::string decode(const Task& task, const std::vector<int>& ids) {
  std::string s;
  for (int id : ids) s += unescape(task.token_name(id));
  return s;
}

TEST(Text, WindowsComeFromTheRightPartOfTheFile) {
  auto task = build("text", "{length: 40, path: '" + kCorpus + "'}");
  const auto [train, held_out] = split_file(file_bytes(kCorpus), 0.1);
  for (Split split : {Split::Train, Split::Eval}) {
    Rng rng(10);
    const Batch batch = task->make_batch(rng, split, 50, 40, 40);
    for (int b = 0; b < 50; ++b) {
      const Row r = row(*task, batch, b);
      EXPECT_EQ(masked_positions(r).size(), 40u);  // every position scored
      std::vector<int> window = r.inputs;
      window.push_back(r.targets.back());
      const std::string text = decode(*task, window);
      EXPECT_EQ(text.find("<unk>"), std::string::npos);
      const std::string& part = split == Split::Train ? train : held_out;
      EXPECT_NE(part.find(text), std::string::npos) << "'" << text << "' not in its part";
    }
  }
  EXPECT_FALSE(task->has_exact_match());
  // The vocabulary is the distinct characters plus PAD and UNK (é, ï are one token each).
  EXPECT_LT(task->vocab_size(), 70);
}

TEST(Text, HeldOutCharactersUnseenInTrainingAreUnknown) {
  std::string content;
  for (int i = 0; i < 30; ++i) content += "ab";
  for (int i = 0; i < 10; ++i) content += "az";  // the last 20 characters, held out
  TempFile file("unk.txt", content);
  auto task = build("text", "{length: 8, eval_fraction: 0.25, path: '" + file.path + "'}");
  EXPECT_EQ(task->vocab_size(), 4);  // PAD, UNK, a, b
  Rng rng(11);
  const Batch batch = task->make_batch(rng, Split::Eval, 4, 8, 8);
  const std::string text = decode(*task, row(*task, batch, 0).inputs);
  EXPECT_NE(text.find("<unk>"), std::string::npos) << text;
  EXPECT_EQ(text.find("b"), std::string::npos) << text;
}

TEST(Text, RelativePathIsResolvedAgainstTheExperimentFile) {
  const std::string experiment = std::string(POSLAB_SOURCE_DIR) + "/tests/some_experiment.yaml";
  EXPECT_NO_THROW(build("text", "{length: 16, path: data/tiny_corpus.txt}", experiment));
  const std::string message = build_error("text", "{length: 16, path: data/tiny_corpus.txt}");
  EXPECT_NE(message.find("task.path"), std::string::npos) << message;  // relative to test.yaml
}

TEST(Text, BadFilesAreConfigErrors) {
  const std::string missing = build_error("text", "{path: /nonexistent/poslab/corpus.txt}");
  EXPECT_NE(missing.find("task.path"), std::string::npos) << missing;
  EXPECT_NE(missing.find("cannot open"), std::string::npos) << missing;
  EXPECT_NE(build_error("mlm", "{path: /nonexistent/poslab/corpus.txt}"), "");
  EXPECT_NE(build_error("text", "{length: 4}").find("path"), std::string::npos);  // required

  TempFile latin1("latin1.txt", std::string("caf\xe9 au lait, caf\xe9 noir, caf\xe9 cr\xe8me"));
  const std::string bad = build_error("text", "{length: 4, path: '" + latin1.path + "'}");
  EXPECT_NE(bad.find("UTF-8"), std::string::npos) << bad;

  TempFile tiny("tiny.txt", "a short file");
  EXPECT_NE(build_error("text", "{length: 64, path: '" + tiny.path + "'}").find("task.path"),
            std::string::npos);
}

TEST(Mlm, BertMaskingStatistics) {
  auto task = build("mlm", "{length: 64, path: '" + kCorpus + "'}");
  EXPECT_EQ(task->kind(), ModelKind::Bidirectional);
  const auto [train, held_out] = split_file(file_bytes(kCorpus), 0.1);
  Rng rng(12);
  const int B = 400, T = 64;
  const Batch batch = task->make_batch(rng, Split::Train, B, T, T);
  long selected = 0, masked = 0, unchanged = 0, replaced = 0;
  for (int b = 0; b < B; ++b) {
    const Row r = row(*task, batch, b);
    EXPECT_NE(train.find(decode(*task, r.targets)), std::string::npos);  // original text
    for (int t = 0; t < T; ++t) {
      if (!r.mask[t]) continue;
      ++selected;
      if (r.in_names[t] == "<mask>")
        ++masked;
      else if (r.inputs[t] == r.targets[t])
        ++unchanged;
      else
        ++replaced;
    }
  }
  const double n = double(B) * T;
  // 4-sigma binomial tolerances.
  auto tolerance = [](double p, double count) { return 4 * std::sqrt(p * (1 - p) / count); };
  EXPECT_NEAR(selected / n, 0.15, tolerance(0.15, n));
  EXPECT_NEAR(masked / double(selected), 0.8, tolerance(0.8, selected));
  // A random replacement may draw the original character: "unchanged" is a bit above 10%.
  EXPECT_NEAR(replaced / double(selected), 0.1, tolerance(0.1, selected) + 0.01);
  EXPECT_NEAR(unchanged / double(selected), 0.1, tolerance(0.1, selected) + 0.01);
}

TEST(Mlm, EvalWindowsComeFromTheHeldOutTail) {
  auto task = build("mlm", "{length: 32, path: '" + kCorpus + "'}");
  const auto [train, held_out] = split_file(file_bytes(kCorpus), 0.1);
  Rng rng(13);
  const Batch batch = task->make_batch(rng, Split::Eval, 20, 32, 32);
  for (int b = 0; b < 20; ++b)
    EXPECT_NE(held_out.find(decode(*task, row(*task, batch, b).targets)), std::string::npos);
}

}  // namespace
}  // namespace poslab
