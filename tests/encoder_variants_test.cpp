// eval.variants with `encoder:` options: the trained model evaluated with its encoder's
// options changed at evaluation only (e.g. RoPE position interpolation), on the same
// evaluation batches as the model as trained.
#include <gtest/gtest.h>

#include "cli_util.h"
#include "train/run.h"

namespace poslab {
namespace {

std::vector<RunSpec> rope_experiment(std::vector<std::string> sets) {
  sets.insert(sets.begin(), {"encoder.name=rope", "eval.lengths=[19, 30]"});
  return load_experiment(testing::data_path("experiments/determinism.yaml"), sets);
}

// The variant's model must be the trained model: an override that changes nothing gives
// the as-trained numbers bit for bit, and a real stretch gives exactly what a model built
// with that option and the trained parameters gives.
TEST(EncoderVariants, EvaluateTheTrainedParametersWithTheChangedOption) {
  auto specs = rope_experiment(
      {"eval.variants={same: {encoder: {interpolation: 1}}, pi4: {encoder: {interpolation: 4}}}"});
  PreparedRun run = prepare_run(specs.at(0));
  const RunRecord record = train_and_evaluate(run, TrainOptions{});
  ASSERT_EQ(record.eval_variants.size(), 2u);
  const EvalSeries& pi4 = record.eval_variants[0].variant == "pi4" ? record.eval_variants[0]
                                                                     : record.eval_variants[1];
  const EvalSeries& same = record.eval_variants[0].variant == "same" ? record.eval_variants[0]
                                                                       : record.eval_variants[1];
  EXPECT_EQ(same.loss, record.eval.loss);
  EXPECT_EQ(same.token_accuracy, record.eval.token_accuracy);
  EXPECT_NE(pi4.loss, record.eval.loss);
  EXPECT_NE(pi4.task_options.find("interpolation"), std::string::npos);

  // The same evaluation by hand: a run whose encoder has interpolation 4, given the
  // trained parameters.
  auto stretched_specs = rope_experiment({"encoder.interpolation=4"});
  PreparedRun stretched = prepare_run(stretched_specs.at(0));
  stretched.model->params().values() = run.model->params().values();
  for (std::size_t i = 0; i < run.eval_lengths.size(); ++i) {
    EvalSeries by_hand;
    // An encoder-only variant reads the as-trained evaluation batches.
    evaluate_length(stretched, *stretched.task, run.eval_lengths[i], by_hand);
    EXPECT_EQ(by_hand.loss[0], pi4.loss[i]) << "length " << run.eval_lengths[i];
  }
}

TEST(EncoderVariants, RefuseOptionsThatChangeTheEncoderOrItsParameters) {
  const auto fails_with = [](const std::vector<std::string>& sets, const std::string& encoder,
                             const std::string& expected) {
    try {
      auto specs = load_experiment(testing::data_path("experiments/determinism.yaml"),
                                   [&] {
                                     auto s = sets;
                                     s.insert(s.begin(), "encoder.name=" + encoder);
                                     return s;
                                   }());
      prepare_run(specs.at(0));
      ADD_FAILURE() << "no error for " << sets.back();
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  };
  fails_with({"eval.variants={v: {encoder: {name: alibi}}}"}, "rope",
             "eval.variants.v.encoder.name: a variant keeps the run's encoder");
  fails_with({"eval.variants={v: {encoder: {}}}"}, "rope", "eval.variants.v.encoder: expected a non-empty mapping");
  fails_with({"eval.variants={v: {encoder: 3}}"}, "rope", "eval.variants.v.encoder: expected a non-empty mapping");
  fails_with({"eval.variants={v: {encoder: {interpolaton: 4}}}"}, "rope", "interpolaton");
  fails_with({"eval.variants={v: {encoder: {interpolation: -1}}}"}, "rope", "interpolation");
  // A longer learned table is a different model, not a different reading of the same one.
  fails_with({"encoder.max_length=64", "eval.variants={v: {encoder: {max_length: 128}}}"}, "learned",
             "eval.variants.v.encoder: these encoder options change the model's parameters");
  // Lengths are checked with the variant's encoder too.
  fails_with({"encoder.max_length=64", "eval.variants={v: {encoder: {max_length: 20}}}"}, "learned",
             "eval.variants.v.encoder.max_length");
}

}  // namespace
}  // namespace poslab
