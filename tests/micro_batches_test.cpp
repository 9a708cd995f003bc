// train.micro_batches (gradient accumulation): the batch cut into pieces that run one after
// another gives the same training as the whole batch at once, up to float rounding of the
// gradient sums, and is itself deterministic.
#include <gtest/gtest.h>

#include <cmath>

#include "cli_util.h"
#include "io/config.h"
#include "train/run.h"

namespace poslab {
namespace {

struct Trained {
  std::vector<double> loss;  // per step (log_every 1)
  std::vector<Real> params;
  std::vector<double> eval_loss;
};

// The experiment's run `run` for 50 steps on one thread, with the given micro_batches.
Trained train(const std::string& run, int micro_batches,
              const std::string& experiment = "experiments/tiny.yaml") {
  const std::vector<std::string> sets = {"train.threads=1", "train.steps=50", "train.log_every=1",
                                         "train.micro_batches=" + std::to_string(micro_batches)};
  for (const auto& spec : load_experiment(testing::data_path(experiment), sets)) {
    if (spec.run_name != run) continue;
    PreparedRun prepared = prepare_run(spec);
    const RunRecord r = train_and_evaluate(prepared, nullptr);
    const auto& v = prepared.model->params().values();
    return {r.loss, std::vector<Real>(v.begin(), v.end()), r.eval.loss};
  }
  ADD_FAILURE() << "no run " << run;
  return {};
}

// ‖a − b‖ / ‖b‖
template <class T>
double relative_difference(const std::vector<T>& a, const std::vector<T>& b) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += (double(a[i]) - double(b[i])) * (double(a[i]) - double(b[i]));
    norm += double(b[i]) * double(b[i]);
  }
  return std::sqrt(diff / norm);
}

// Float build: the micro batches' gradients are summed in another order than one batch's,
// so steps differ by rounding (~1e-7 relative); over 50 AdamW steps that stays below 1e-5.
constexpr double kTolerance = 1e-5;

TEST(MicroBatches, SplitBatchTrainsLikeTheWholeBatch) {
  for (const std::string run : {"none", "learned"}) {
    const Trained whole = train(run, 1);
    for (int micro : {2, 4}) {
      const Trained split = train(run, micro);
      ASSERT_EQ(split.loss.size(), 50u);
      ASSERT_EQ(split.params.size(), whole.params.size());
      for (std::size_t s = 0; s < whole.loss.size(); ++s)
        EXPECT_NEAR(split.loss[s], whole.loss[s], kTolerance * std::abs(whole.loss[s]))
            << run << " micro_batches " << micro << " step " << s + 1;
      EXPECT_LE(relative_difference(split.params, whole.params), kTolerance) << run << " " << micro;
      EXPECT_LE(relative_difference(split.eval_loss, whole.eval_loss), kTolerance) << run << " " << micro;
      // Not trivially equal: the sums really were taken in pieces.
      EXPECT_NE(split.params, whole.params) << run << " " << micro;
    }
  }
}

TEST(MicroBatches, BidirectionalModelTrainsLikeTheWholeBatch) {
  // Masked-LM on text: bidirectional attention, few scored tokens per sequence.
  const Trained whole = train("mlm", 1, "experiments/learning.yaml");
  const Trained split = train("mlm", 2, "experiments/learning.yaml");
  for (std::size_t s = 0; s < whole.loss.size(); ++s)
    EXPECT_NEAR(split.loss[s], whole.loss[s], kTolerance * std::abs(whole.loss[s])) << "step " << s + 1;
  EXPECT_LE(relative_difference(split.params, whole.params), kTolerance);
}

TEST(MicroBatches, AreDeterministic) {
  const Trained a = train("learned", 2), b = train("learned", 2);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.eval_loss, b.eval_loss);
}

TEST(MicroBatches, MustDivideTheBatch) {
  try {
    load_experiment(testing::data_path("experiments/tiny.yaml"), {"train.micro_batches=3"});
    FAIL() << "micro_batches 3 with batch_size 8 accepted";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("tiny.yaml"), std::string::npos) << message;
    EXPECT_NE(message.find("train.micro_batches"), std::string::npos) << message;
    EXPECT_NE(message.find("divisor of train.batch_size (8), got 3"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace poslab
