// Every task can be learned: a short run of a tiny model brings the held-out loss at the
// training length clearly below the untrained model's (same evaluation batches).
#include <gtest/gtest.h>

#include "cli_util.h"
#include "train/run.h"

namespace poslab {
namespace {

class TaskLearning : public ::testing::TestWithParam<std::string> {};

TEST_P(TaskLearning, LossFallsClearlyBelowItsStart) {
  const auto specs = load_experiment(testing::data_path("experiments/learning.yaml"),
                                     {"train.threads=1"});
  for (const auto& spec : specs) {
    if (spec.run_name != GetParam()) continue;
    PreparedRun run = prepare_run(spec);
    EvalSeries untrained;
    evaluate_length(run, *run.task, run.eval_lengths[0], untrained);
    const RunRecord r = train_and_evaluate(run, nullptr);
    ASSERT_EQ(r.eval.loss.size(), 1u);
    EXPECT_LT(r.eval.loss[0], 0.75 * untrained.loss[0])
        << GetParam() << ": held-out loss " << untrained.loss[0] << " -> " << r.eval.loss[0];
    return;
  }
  FAIL() << "no run named " << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Tasks, TaskLearning,
                         ::testing::Values("copy", "reverse", "sort", "selective_copy", "counting",
                                           "flip_flop", "associative_recall", "text", "mlm"));

TEST(Trainer, EveryRegisteredTaskHasALearningRun) {
  const auto specs = load_experiment(testing::data_path("experiments/learning.yaml"), {});
  for (const auto& name : TaskRegistry::instance().names()) {
    bool found = false;
    for (const auto& s : specs) found |= (s.task.name == name);
    EXPECT_TRUE(found) << "tests/data/experiments/learning.yaml has no run for task " << name;
  }
}

}  // namespace
}  // namespace poslab
