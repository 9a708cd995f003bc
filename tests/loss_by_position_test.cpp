// Loss by position: every evaluation length's results hold the mean loss in position
// buckets [0, 8), [8, 16), [16, 32), ... whose token-weighted mean is the length's loss.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "cli_util.h"
#include "io/config.h"
#include "io/h5file.h"
#include "train/metrics.h"

namespace poslab {
namespace {

TEST(LossByPosition, BucketsDoubleInWidthAndCoverTheSequence) {
  const PositionProfile p(37);
  EXPECT_EQ(p.bucket_start, (std::vector<double>{0, 8, 16, 32}));
  EXPECT_EQ(p.bucket_end, (std::vector<double>{8, 16, 32, 37}));
  EXPECT_EQ(PositionProfile(8).bucket_end, (std::vector<double>{8}));
  EXPECT_TRUE(PositionProfile(0).bucket_start.empty());
}

TEST(LossByPosition, MeansOnlyScoredTokens) {
  PositionProfile p(10);
  const float loss[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  const std::uint8_t mask[] = {0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
  p.add(loss, mask, 2, 10);
  EXPECT_EQ(p.tokens, (std::vector<double>{10, 1}));
  const auto mean = p.mean_loss();
  EXPECT_DOUBLE_EQ(mean[0], (2 + 3 + 8.0) / 10);
  EXPECT_DOUBLE_EQ(mean[1], 9);
}

TEST(LossByPosition, ResultsFileHoldsItForEveryLengthAndItAveragesToTheLoss) {
  const auto out = testing::fresh_dir("loss_by_position");
  const auto r = testing::run_poslab("run " + testing::data_path("experiments/tiny.yaml") +
                                     " --only learned --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  H5Reader f((out / "learned.h5").string());
  const auto lengths = f.read("/eval/length"), losses = f.read("/eval/loss"),
             seq = f.read("/eval/sequence_length");
  ASSERT_EQ(lengths.size(), 2u);
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    const std::string g = "/eval/" + std::to_string(long(lengths[i]));
    const auto start = f.read(g + "/bucket_start"), end = f.read(g + "/bucket_end"),
               loss = f.read(g + "/loss_by_position"), tokens = f.read(g + "/tokens");
    ASSERT_FALSE(start.empty()) << g;
    EXPECT_EQ(start.front(), 0);
    EXPECT_GE(end.back(), seq[i]) << g << ": the buckets reach the end of the sequence";
    double sum = 0, n = 0;
    for (std::size_t k = 0; k < loss.size(); ++k)
      if (tokens[k] > 0) {
        sum += loss[k] * tokens[k];
        n += tokens[k];
      }
    ASSERT_GT(n, 0);
    EXPECT_NEAR(sum / n, losses[i], 1e-5 * losses[i]) << g;
  }
}

// eval.tokens bounds the tokens of an evaluation batch: with 1 token the batch holds one
// sequence (the minimum), so every length scores 1/8 of the tokens of batch_size 8.
TEST(EvalTokens, BatchesAreSizedByTokensBetweenOneAndBatchSize) {
  EXPECT_EQ(eval_batch_size(EvalSpec{{}, 4, 64, 0, {}}, 1000), 64);
  EXPECT_EQ(eval_batch_size(EvalSpec{{}, 4, 64, 4096, {}}, 1000), 4);
  EXPECT_EQ(eval_batch_size(EvalSpec{{}, 4, 64, 4096, {}}, 10), 64);
  EXPECT_EQ(eval_batch_size(EvalSpec{{}, 4, 64, 4096, {}}, 65536), 1);

  const auto scored = [](const std::string& sets) {
    const auto out = testing::fresh_dir("eval_tokens");
    const auto r = testing::run_poslab("run " + testing::data_path("experiments/tiny.yaml") +
                                       " --only none --out " + out.string() + " " + sets);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    H5Reader f((out / "none.h5").string());
    const auto t = f.read("/eval/8/tokens");
    return std::accumulate(t.begin(), t.end(), 0.0);
  };
  const double all = scored(""), one = scored("--set eval.tokens=1");
  ASSERT_GT(one, 0);
  EXPECT_EQ(all, 8 * one) << "tiny.yaml: eval.batch_size 8";
}

}  // namespace
}  // namespace poslab
