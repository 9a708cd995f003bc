// Evaluation runs the streaming forward (Transformer::forward_inference). In float it gives
// the loss the materialized (training) forward gives on the same evaluation batches, to
// 1e-5 relative, for every registered encoder, at a length within one key tile and one
// spanning two.
#include <gtest/gtest.h>

#include <cmath>

#include "cli_util.h"
#include "train/run.h"

namespace poslab {
namespace {

class StreamingEvaluation : public ::testing::TestWithParam<std::string> {};

TEST_P(StreamingEvaluation, SameLossAsTheMaterializedForward) {
  auto specs = load_experiment(testing::data_path("experiments/determinism.yaml"),
                               {"encoder.name=" + GetParam(), "eval.lengths=[19, 61]",
                                "eval.batches=2"});
  PreparedRun run = prepare_run(specs.at(0));
  // Weights far from the N(0, 0.02) start, so that attention is sharp and position matters.
  Rng rng(5);
  for (Real& v : run.model->params().values()) v += Real(0.3 * rng.normal());
  for (int length : run.eval_lengths) {
    EvalSeries streamed;
    evaluate_length(run, *run.task, length, streamed);

    // The same batches (same stream) through the materialized forward.
    Rng eval_rng = Rng::derive(run.spec.seed, "eval/" + std::to_string(length));
    double loss_sum = 0, tokens = 0;  // the mean over scored tokens, as MetricSums takes it
    for (int i = 0; i < run.spec.eval.batches; ++i) {
      Batch batch = run.task->make_batch(eval_rng, Split::Eval, run.spec.eval.batch_size, length,
                                         length);
      run.model->forward(batch.inputs.data(), batch.batch_size, batch.seq_len);
      double scored = 0;
      for (std::uint8_t m : batch.loss_mask) scored += m;
      loss_sum += scored * run.model->loss(batch.targets.data(), batch.loss_mask.data());
      tokens += scored;
    }
    const double materialized = loss_sum / tokens;
    ASSERT_EQ(streamed.loss.size(), 1u);
    EXPECT_NEAR(streamed.loss[0], materialized, 1e-5 * materialized)
        << GetParam() << " at length " << length;
    EXPECT_GT(materialized, 0.5);  // a real loss, not a degenerate one
  }
}

INSTANTIATE_TEST_SUITE_P(AllEncoders, StreamingEvaluation,
                         ::testing::ValuesIn(EncoderRegistry::instance().names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace poslab
