#pragma once
// A task makes batches of (inputs, targets, loss mask) at a requested length from its own
// seeded RNG, and knows its vocabulary and model kind. Metrics are computed generically
// from the loss mask (see train/metrics.h): loss, token accuracy, exact match (every
// masked token of an example right), perplexity.
#include <cstdint>
#include <memory>
#include <map>
#include <string>
#include <vector>

#include "core/registry.h"
#include "core/rng.h"

namespace poslab {

enum class ModelKind { Causal, Bidirectional };
enum class Split { Train, Eval };

// Flat [B, T] arrays, row-major: element (b, t) is at b * T + t. Token id 0 is PAD in
// every task; padding goes on the right with loss mask 0.
struct Batch {
  int batch_size = 0;
  int seq_len = 0;
  std::vector<std::int32_t> inputs;   // token ids fed to the model
  std::vector<std::int32_t> targets;  // token id to predict at each position
  std::vector<std::uint8_t> loss_mask;  // 1 where the position is scored
  // [seq_len] positions the encoder reads, shared by the batch; empty = 0..seq_len-1.
  // Tasks leave it empty; the run loop fills it for randomized positions
  // (encoders/randomized_positions.h).
  std::vector<int> positions;
};

class Task {
 public:
  virtual ~Task() = default;
  virtual int vocab_size() const = 0;
  virtual ModelKind kind() const = 0;
  // Whether exact match (all scored tokens of an example right) is a meaningful metric.
  virtual bool has_exact_match() const = 0;
  // The task's own unit of length ("length" in YAML and eval.lengths): e.g. the number of
  // symbols to copy, or the context length in characters for text.
  // The training range of lengths; each example draws its length uniformly from it.
  virtual int min_train_length() const = 0;
  virtual int max_train_length() const = 0;
  // Model sequence length needed for an example of task length `length` (batches of
  // mixed lengths are padded to the longest, with loss mask 0 on padding).
  virtual int sequence_length(int length) const = 0;
  // A batch whose examples have task lengths drawn uniformly from [min_length, max_length].
  virtual Batch make_batch(Rng& rng, Split split, int batch_size, int min_length,
                           int max_length) const = 0;
  // Throws ConfigError (naming the option that limits it) if examples of task length
  // `length` cannot be made, e.g. more key-value pairs than distinct keys. Called for the
  // training and every evaluation length before training starts.
  virtual void check_length(int /*length*/) const {}
  // Human-readable rendering of a token id (for logs and examples).
  virtual std::string token_name(int id) const { return std::to_string(id); }
};

using TaskRegistry = Registry<Task>;
#define POSLAB_REGISTER_TASK(ClassName, Name, Summary, OptionList)                   \
  static const ::poslab::Registrar<::poslab::TaskRegistry> registrar_##ClassName{     \
      {Name, Summary, OptionList,                                                     \
       [](const ::poslab::Options& o) -> std::unique_ptr<::poslab::Task> {            \
         return std::make_unique<ClassName>(o);                                       \
       }, __FILE__}};

// How the generic task tests exercise a task, declared next to its registration so that a
// new task is tested without editing any list (docs/extending.md):
//   tests/tasks_test.cpp     EveryTask.*: shapes, id ranges, padding, the causal shift,
//                            seeding and option errors, on `options`
//   tests/training_test.cpp  TaskLearning: a tiny model trained on `learning_options`
//                            (with `learning_train` overrides) must bring the held-out
//                            loss clearly below the untrained model's
// Options are YAML flow maps without `name`; "{corpus}" stands for a small test text file.
struct TaskTestSettings {
  std::string options;           // a small instance for the generator checks
  bool exact_fit = true;         // examples of length (L, L) fill sequence_length(L) exactly
  std::string learning_options;  // a tiny instance a 2-layer model learns in 200 steps
  std::string learning_train = "{}";  // train overrides for the learning run, e.g. {steps: 1000}
};

class TaskTestSettingsRegistry {
 public:
  static std::map<std::string, TaskTestSettings>& instance() {
    static std::map<std::string, TaskTestSettings> settings;
    return settings;
  }
};

#define POSLAB_TASK_TEST_SETTINGS(ClassName, Name, ...)                               \
  static const bool test_settings_##ClassName = [] {                                  \
    ::poslab::TaskTestSettingsRegistry::instance()[Name] = ::poslab::TaskTestSettings{__VA_ARGS__}; \
    return true;                                                                      \
  }();

}  // namespace poslab
