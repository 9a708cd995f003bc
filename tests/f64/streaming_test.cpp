// The streaming forward (Transformer::forward_inference: tiled attention, online softmax,
// the encoders' tile hooks) against the materialized forward (the training path), in
// double precision: logits and loss agree to 1e-12 relative for every registered encoder,
// causal and bidirectional, at lengths that are not multiples of the tile sizes, with the
// default tiles (128 × 128), 64 × 64 and tiny ones (5 queries × 7 keys, 8 × 3) so that
// every kind of tile occurs (diagonal, below it, rows before the tile, far-away key runs). Options make the
// encoders' long-distance paths run at these lengths: CoPE clamps at p_max 4, Shaw clips at
// 3, T5's max_distance is 20. Every scheme that declares `randomized` runs again with
// randomized positions (a sorted random subset of 0..399 per length, the `_randomized`
// cases): both paths read the same position array.
#include <gtest/gtest.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "encoders/cope_positions.h"
#include "encoders/randomized_positions.h"
#include "f64/gradcheck.h"
#include "f64/tiny_model.h"
#include "model/transformer.h"

namespace poslab {
namespace {

using testing::EncoderCase;

constexpr int kMaxPosition = 400;

// A sorted random subset of 0..kMaxPosition-1 for length T (empty: 0..T-1).
std::vector<int> positions_for(const EncoderCase& c, int T) {
  if (!c.randomized) return {};
  Rng rng(1000 + T);
  return draw_positions(rng, T, kMaxPosition);
}
const int* data_or_null(const std::vector<int>& v) { return v.empty() ? nullptr : v.data(); }

std::string options_for_kind(const std::string& encoder, bool randomized) {
  if (encoder == "learned") return randomized ? "max_length: 400" : "max_length: 160";
  if (encoder == "cope") return "p_max: 4";
  if (encoder == "shaw") return "clip: 3";
  if (encoder == "t5") return "num_buckets: 8, max_distance: 20";
  if (encoder == "fire") return "L_init: 8";  // queries below and beyond the threshold
  if (encoder == "xpos") return "scale_base: 64";
  return "";
}

std::string options_for(const std::string& encoder, bool randomized = false) {
  std::string o = options_for_kind(encoder, randomized);
  if (randomized) o += std::string(o.empty() ? "" : ", ") + "randomized: {max_position: 400}";
  return o;
}


// A small model with every parameter random (so attention is far from uniform and every
// bias table matters), or null when the encoder refuses the model kind.
std::unique_ptr<Transformer> random_model(const EncoderCase& c) {
  TransformerConfig mc = testing::tiny_config(c.causal, c.causal);
  mc.vocab_size = 11;  // wider than the tiny shape: tiles of several rows and columns
  mc.d_model = 16;
  mc.d_ff = 24;
  auto model = testing::build_model(mc, c.encoder, options_for(c.encoder, c.randomized));
  if (model) testing::randomize_parameters(*model, 7, 0.5);
  return model;
}

struct Batch {
  std::vector<std::int32_t> ids, targets;
  std::vector<std::uint8_t> mask;
};

Batch random_batch(int B, int T, int V) {
  Batch b;
  const auto r = testing::random_vector(std::size_t(3) * B * T, 100 + T, 1.0);
  for (int n = 0; n < B * T; ++n) {
    b.ids.push_back(std::min(V - 1, int((r[n] + 1) / 2 * V)));
    b.targets.push_back(std::min(V - 1, int((r[B * T + n] + 1) / 2 * V)));
    b.mask.push_back(r[2 * B * T + n] > -0.6);
  }
  return b;
}

double max_abs(const std::vector<double>& x) {
  double m = 0;
  for (double v : x) m = std::max(m, std::abs(v));
  return m;
}

class StreamingForward : public ::testing::TestWithParam<EncoderCase> {};

TEST_P(StreamingForward, EqualsMaterializedForward) {
  auto model = random_model(GetParam());
  if (!model) GTEST_SKIP() << "not defined for this model kind";
  const int B = 2, V = model->config().vocab_size;
  for (int T : {1, 37, 150}) {
    const Batch batch = random_batch(B, T, V);
    const std::vector<int> positions = positions_for(GetParam(), T);
    const std::size_t n = std::size_t(B) * T * V;
    const Real* m = model->forward(batch.ids.data(), B, T, data_or_null(positions));
    const std::vector<double> materialized(m, m + n);
    const double materialized_loss = model->loss(batch.targets.data(), batch.mask.data());
    ASSERT_GT(max_abs(materialized), 0.1);
    for (AttentionTiles tiles :
         {AttentionTiles{}, AttentionTiles{64, 64}, AttentionTiles{5, 7}, AttentionTiles{8, 3}}) {
      const std::string what = "T " + std::to_string(T) + ", tiles " +
                               std::to_string(tiles.queries) + "x" + std::to_string(tiles.keys);
      const Real* s = model->forward_inference(batch.ids.data(), B, T, tiles, data_or_null(positions));
      double worst = 0;
      for (std::size_t i = 0; i < n; ++i) worst = std::max(worst, std::abs(s[i] - materialized[i]));
      EXPECT_LE(worst, 1e-12 * max_abs(materialized)) << what << ": max |logit difference|";
      const double loss = model->loss(batch.targets.data(), batch.mask.data());
      EXPECT_LE(std::abs(loss - materialized_loss), 1e-12 * std::abs(materialized_loss))
          << what << ": loss " << loss << " vs " << materialized_loss;
    }
  }
}

// Each output row is computed by one thread in a fixed order: the thread count does not
// change a bit.
TEST_P(StreamingForward, IndependentOfThreadCount) {
  auto model = random_model(GetParam());
  if (!model) GTEST_SKIP() << "not defined for this model kind";
  const int B = 2, T = 70, V = model->config().vocab_size;
  const Batch batch = random_batch(B, T, V);
  const std::vector<int> positions = positions_for(GetParam(), T);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const Real* one = model->forward_inference(batch.ids.data(), B, T, {16, 16}, data_or_null(positions));
  const std::vector<double> single(one, one + std::size_t(B) * T * V);
  omp_set_num_threads(3);
  const Real* many = model->forward_inference(batch.ids.data(), B, T, {16, 16}, data_or_null(positions));
  omp_set_num_threads(threads);
  for (std::size_t i = 0; i < single.size(); ++i)
    ASSERT_EQ(single[i], many[i]) << "logit " << i << " differs with 3 threads";
}


INSTANTIATE_TEST_SUITE_P(AllEncoders, StreamingForward, ::testing::ValuesIn(testing::every_encoder_case()),
                         [](const auto& info) { return case_name(info.param); });

// The tile hooks alone, on random q, k and probabilities: visiting the tiles as the
// streaming attention does (query blocks of 5, key tiles of 7 from the diagonal backwards,
// state zeroed per block), score_bias_tile adds what score_bias_forward adds to the same
// entries, and value_bias_tile accumulates what value_bias_forward adds.
class TileHooks : public ::testing::TestWithParam<EncoderCase> {};

TEST_P(TileHooks, MatchTheMaterializedHooks) {
  ModelDims dims{8, 2, 4, 2, GetParam().causal};
  auto encoder = testing::try_build_encoder(GetParam().encoder, dims,
                                            options_for(GetParam().encoder, GetParam().randomized));
  if (!encoder) GTEST_SKIP() << "not defined for this model kind";
  const std::vector<int> positions = positions_for(GetParam(), 37);
  encoder->set_positions(data_or_null(positions), 37);
  ParameterSet params;
  encoder->declare_parameters(params);
  params.allocate();
  const auto values = testing::random_vector(params.count(), 5, 0.8);
  std::copy(values.begin(), values.end(), params.values().begin());

  const AttnDims d{2, 2, 37, 4, GetParam().causal};
  const int layer = 1, T = d.T, Bq = 5, Bk = 7;
  const auto q = testing::random_vector(d.qk_size(), 1, 1.5), k = testing::random_vector(d.qk_size(), 2, 1.5);
  const double scale = 1 / std::sqrt(double(d.dh));
  std::vector<double> z(d.score_size()), biased, probs = testing::random_vector(d.score_size(), 3, 1.0);
  for (int bh = 0; bh < d.B * d.H; ++bh)
    for (int i = 0; i < T; ++i)
      for (int j = 0; j < T; ++j) {
        double dot = 0;
        for (int c = 0; c < d.dh; ++c) dot += q[(bh * T + i) * d.dh + c] * k[(bh * T + j) * d.dh + c];
        z[(std::size_t(bh) * T + i) * T + j] = dot * scale;
        double& p = probs[(std::size_t(bh) * T + i) * T + j];
        p = (d.causal && j > i) ? 0 : std::abs(p);
      }
  biased = z;
  if (encoder->has_score_bias()) encoder->score_bias_forward(layer, q.data(), k.data(), biased.data(), d);
  std::vector<double> out(d.qk_size(), 0.0);
  if (encoder->has_value_bias()) encoder->value_bias_forward(layer, probs.data(), out.data(), d);

  std::vector<double> state(encoder->tile_state_size(Bq, Bk)), scores(Bq * Bk), weights(Bq * Bk),
      acc(Bq * d.dh);
  double worst_score = 0, worst_value = 0;
  for (int bh = 0; bh < d.B * d.H; ++bh)
    for (int i0 = 0; i0 < T; i0 += Bq) {
      AttnTile t;
      t.layer = layer;
      t.b = bh / d.H;
      t.h = bh % d.H;
      t.i0 = i0;
      t.i1 = std::min(T, i0 + Bq);
      t.T = T;
      t.dh = d.dh;
      t.causal = d.causal;
      t.q = q.data() + std::size_t(bh) * T * d.dh;
      t.k = k.data() + std::size_t(bh) * T * d.dh;
      const int key_end = d.causal ? t.i1 : T;
      t.j0 = 0;
      t.j1 = key_end;
      std::fill(state.begin(), state.end(), 0.0);
      std::fill(acc.begin(), acc.end(), 0.0);
      encoder->begin_query_block(t, state.data());
      for (int j0 = (key_end - 1) / Bk * Bk; j0 >= 0; j0 -= Bk) {
        t.j0 = j0;
        t.j1 = std::min(key_end, j0 + Bk);
        for (int r = 0; r < t.rows(); ++r)
          for (int c = 0; c < t.cols(); ++c) {
            const std::size_t at = (std::size_t(bh) * T + t.i0 + r) * T + j0 + c;
            scores[r * Bk + c] = z[at];
            weights[r * Bk + c] = probs[at];
          }
        if (encoder->has_score_bias()) encoder->score_bias_tile(t, scores.data(), Bk, state.data());
        if (encoder->has_value_bias())
          encoder->value_bias_tile(t, weights.data(), Bk, acc.data(), state.data());
        for (int r = 0; r < t.rows(); ++r)
          for (int c = 0; c < t.key_end(r) - j0; ++c)
            worst_score = std::max(worst_score,
                                   std::abs(scores[r * Bk + c] -
                                            biased[(std::size_t(bh) * T + t.i0 + r) * T + j0 + c]));
      }
      for (int r = 0; r < t.rows(); ++r)
        for (int c = 0; c < d.dh; ++c)
          worst_value = std::max(worst_value, std::abs(acc[r * d.dh + c] -
                                                       out[(std::size_t(bh) * T + t.i0 + r) * d.dh + c]));
    }
  EXPECT_LE(worst_score, 1e-12) << "score_bias_tile vs score_bias_forward";
  EXPECT_LE(worst_value, 1e-12) << "value_bias_tile vs value_bias_forward";
  if (encoder->has_score_bias()) {  // the bias is really there (not a vacuous comparison)
    double bias = 0;
    for (std::size_t i = 0; i < z.size(); ++i) bias = std::max(bias, std::abs(biased[i] - z[i]));
    EXPECT_GT(bias, 0.01);
  }
  if (encoder->has_value_bias()) {
    EXPECT_GT(max_abs(out), 0.01);
  }
}

INSTANTIATE_TEST_SUITE_P(AllEncoders, TileHooks, ::testing::ValuesIn(testing::every_encoder_case()),
                         [](const auto& info) { return case_name(info.param); });

// The CoPE cases above run with clamping active: at p_max 4 the tile test's queries count
// past 4 gated keys well inside 37 keys (cope_positions is the encoder's own position code).
TEST(StreamingCope, ClampingIsActiveInTheTileTest) {
  const int T = 37, dh = 4;
  const auto q = testing::random_vector(std::size_t(T) * dh, 1, 1.5),
             k = testing::random_vector(std::size_t(T) * dh, 2, 1.5);
  std::vector<double> z(std::size_t(T) * T), p(z.size());
  for (int i = 0; i < T; ++i)
    for (int j = 0; j < T; ++j) {
      double dot = 0;
      for (int c = 0; c < dh; ++c) dot += q[i * dh + c] * k[j * dh + c];
      z[std::size_t(i) * T + j] = dot / 2;
    }
  cope_positions(z.data(), T, 4.0, p.data());
  int clamped = 0, unclamped = 0;
  for (int i = 0; i < T; ++i)
    for (int j = 0; j <= i; ++j) (p[std::size_t(i) * T + j] >= 4.0 ? clamped : unclamped)++;
  EXPECT_GT(clamped, 100);
  EXPECT_GT(unclamped, 100);
}

TEST(StreamingForward, BackwardAndActivationsRefusedAfterInference) {
  auto model = random_model({"shaw", true});
  const int B = 1, T = 9;
  const Batch batch = random_batch(B, T, model->config().vocab_size);
  model->forward_inference(batch.ids.data(), B, T);
  EXPECT_TRUE(std::isfinite(model->loss(batch.targets.data(), batch.mask.data())));
  EXPECT_THROW(model->backward(batch.targets.data(), batch.mask.data()), std::logic_error);
  EXPECT_THROW(model->hidden_state(0), std::logic_error);
  EXPECT_THROW(model->attention(0), std::logic_error);
  // A training forward makes them available again.
  model->forward(batch.ids.data(), B, T);
  model->params().zero_grads();
  EXPECT_NO_THROW(model->backward(batch.targets.data(), batch.mask.data()));
}

}  // namespace
}  // namespace poslab
