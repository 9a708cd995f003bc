// Every task can be learned: a short run of a tiny model brings the held-out loss at the
// training length clearly below the untrained model's (same evaluation batches).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "cli_util.h"
#include "tasks/task.h"
#include "train/run.h"

namespace poslab {
namespace {

class TaskLearning : public ::testing::TestWithParam<std::string> {};

// The run of one task: tests/data/experiments/learning.yaml (tiny model, short training)
// with the task's declared learning settings (POSLAB_TASK_TEST_SETTINGS).
TEST_P(TaskLearning, LossFallsClearlyBelowItsStart) {
  const auto& settings = TaskTestSettingsRegistry::instance();
  const auto it = settings.find(GetParam());
  ASSERT_NE(it, settings.end()) << "task '" << GetParam()
                                << "' declares no POSLAB_TASK_TEST_SETTINGS next to its registration";
  std::string options = it->second.learning_options;
  const std::string corpus = testing::data_path("tiny_corpus.txt");
  for (std::size_t at; (at = options.find("{corpus}")) != std::string::npos;)
    options.replace(at, 8, corpus);
  YAML::Node task = YAML::Load(options);
  task["name"] = GetParam();
  YAML::Emitter task_text;
  task_text << YAML::Flow << task;
  std::vector<std::string> sets{"train.threads=1", "task=" + std::string(task_text.c_str())};
  const YAML::Node train = YAML::Load(it->second.learning_train);
  for (const auto& kv : train)
    sets.push_back("train." + kv.first.as<std::string>() + "=" + kv.second.as<std::string>());
  const auto specs = load_experiment(testing::data_path("experiments/learning.yaml"), sets);
  PreparedRun run = prepare_run(specs.at(0));
  EvalSeries untrained;
  evaluate_length(run, *run.task, run.eval_lengths[0], untrained);
  const RunRecord r = train_and_evaluate(run, nullptr);
  ASSERT_EQ(r.eval.loss.size(), 1u);
  EXPECT_LT(r.eval.loss[0], 0.75 * untrained.loss[0])
      << GetParam() << ": held-out loss " << untrained.loss[0] << " -> " << r.eval.loss[0];
}

INSTANTIATE_TEST_SUITE_P(Tasks, TaskLearning,
                         ::testing::ValuesIn(TaskRegistry::instance().names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace poslab
