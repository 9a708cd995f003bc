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
  std::vector<std::vector<double>> tensors;  // params by tensor, key bias left out (below)
  std::vector<double> eval_loss;
};

// Each parameter tensor, except the key third of attn.qkv.bias: softmax ignores a bias
// added to every key, so its gradient is zero up to rounding and AdamW (which normalises
// the gradient) moves it by noise that differs with any change of summation order. It has
// no effect on the model's outputs, so it is not compared.
std::vector<std::vector<double>> comparable_tensors(const ParameterSet& params) {
  std::vector<std::vector<double>> out;
  for (const auto& info : params.infos()) {
    const Real* v = params.values().data() + info.offset;
    std::vector<double> t(v, v + info.size);
    if (info.name.find("attn.qkv.bias") != std::string::npos)
      t.erase(t.begin() + std::ptrdiff_t(info.size / 3), t.begin() + std::ptrdiff_t(2 * info.size / 3));
    out.push_back(std::move(t));
  }
  return out;
}

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
    return {r.loss, std::vector<Real>(v.begin(), v.end()), comparable_tensors(prepared.model->params()),
            r.eval.loss};
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
  if (norm == 0) return diff == 0 ? 0.0 : INFINITY;
  return std::sqrt(diff / norm);
}

// Float build: the micro batches' gradients are summed in another order than one batch's,
// so steps differ by rounding; after 50 AdamW steps losses differ by ~1e-8 and parameter
// tensors by ~1e-7 relative (measured), well inside 1e-5.
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
      for (std::size_t t = 0; t < whole.tensors.size(); ++t)
        EXPECT_LE(relative_difference(split.tensors[t], whole.tensors[t]), kTolerance)
            << run << " micro_batches " << micro << " tensor " << t;
      EXPECT_LE(relative_difference(split.eval_loss, whole.eval_loss), kTolerance) << run << " " << micro;
      // Not trivially equal: the sums really were taken in pieces.
      EXPECT_NE(split.params, whole.params) << run << " " << micro;
    }
  }
}

TEST(MicroBatches, BidirectionalModelTrainsLikeTheWholeBatch) {
  // Masked-LM on text: bidirectional attention, few scored tokens per sequence (so the
  // blocks' token counts differ and each block must be divided by the whole batch's). Its
  // lr 0.01 amplifies rounding more than the copy runs above: after 50 steps the parameter
  // tensors differ by up to 1.3e-5 relative (measured), so they are held to 1e-4 here; a
  // wrong normalisation would be off by whole percents.
  const Trained whole = train("mlm", 1, "experiments/mlm_tiny.yaml");
  const Trained split = train("mlm", 2, "experiments/mlm_tiny.yaml");
  for (std::size_t s = 0; s < whole.loss.size(); ++s)
    EXPECT_NEAR(split.loss[s], whole.loss[s], kTolerance * std::abs(whole.loss[s])) << "step " << s + 1;
  for (std::size_t t = 0; t < whole.tensors.size(); ++t)
    EXPECT_LE(relative_difference(split.tensors[t], whole.tensors[t]), 1e-4) << "tensor " << t;
  EXPECT_NE(split.params, whole.params);
}

TEST(MicroBatches, AreDeterministic) {
  const Trained a = train("learned", 2), b = train("learned", 2);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.eval_loss, b.eval_loss);
}

TEST(MicroBatches, MustDivideTheBatch) {
  const auto expect_one_line = [](const std::string& message, const std::string& where) {
    EXPECT_NE(message.find(where + "train.micro_batches: expected a divisor of train.batch_size (8), got 3"),
              std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  };
  try {
    load_experiment(testing::data_path("experiments/bad_micro_batches.yaml"), {});
    FAIL() << "micro_batches 3 with batch_size 8 accepted";
  } catch (const ConfigError& e) {
    expect_one_line(e.what(), "bad_micro_batches.yaml: ");
  }
  try {
    load_experiment(testing::data_path("experiments/tiny.yaml"), {"train.micro_batches=3"});
    FAIL() << "--set train.micro_batches=3 with batch_size 8 accepted";
  } catch (const ConfigError& e) {
    expect_one_line(e.what(), "--set: ");
  }
}

}  // namespace
}  // namespace poslab
