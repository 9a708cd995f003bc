// Property tests of the relative schemes (shaw, t5, alibi) against their formulas written
// out again (docs/design.md, "Math conventions"): ALiBi slopes and bias matrices, T5 buckets
// worked out by hand, T5's table shared across layers, and Shaw's clipping. Gradients are
// checked elsewhere (encoder_gradcheck_test, model_gradcheck_test, parity_test).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "encoders/alibi_slopes.h"
#include "encoders/relative_bucket.h"
#include "f64/encoder_fixture.h"
#include "f64/gradcheck.h"

namespace poslab {
namespace {

using testing::random_vector;

// An encoder with its parameters declared and allocated (all zero).
struct Built {
  std::unique_ptr<PositionalEncoder> encoder;
  ParameterSet params;
  Built(const std::string& name, const ModelDims& dims, const std::string& options = "") {
    encoder = testing::try_build_encoder(name, dims, options);
    if (!encoder) throw std::runtime_error(name + " refused " + options);
    encoder->declare_parameters(params);
    params.allocate();
  }
  double* value(const std::string& param) {
    const int h = params.find(param);
    if (h < 0) throw std::runtime_error("no parameter " + param);
    return params.value(h);
  }
  // The score bias alone: the hook applied to zero logits, [B, H, T, T].
  std::vector<double> score_bias(int layer, const std::vector<double>& q,
                                 const std::vector<double>& k, const AttnDims& d) {
    std::vector<double> logits(d.score_size(), 0.0);
    encoder->score_bias_forward(layer, q.data(), k.data(), logits.data(), d);
    return logits;
  }
};

std::size_t at(const AttnDims& d, int b, int h, int i, int j) {
  return ((std::size_t(b) * d.H + h) * d.T + i) * d.T + j;
}

// ---- ALiBi ------------------------------------------------------------------------------

TEST(RelativeAlibi, SlopesForEightHeadsArePowersOfTwo) {
  // H = 8: m_h = 2^(-8h/8) = 2^-h, h = 1..8.
  const auto m = alibi_slopes(8);
  ASSERT_EQ(m.size(), 8u);
  for (int h = 1; h <= 8; ++h) EXPECT_DOUBLE_EQ(m[h - 1], std::pow(2.0, -h)) << "head " << h;
}

TEST(RelativeAlibi, SlopesForSixHeadsInterleave) {
  // H = 6 is not a power of two: P = 4 gives 2^(-8h/4) = 2^-2, 2^-4, 2^-6, 2^-8; the two
  // missing heads take the odd-h slopes of the 8-head sequence, 2^-1 and 2^-3.
  const std::vector<double> expected = {std::pow(2.0, -2), std::pow(2.0, -4), std::pow(2.0, -6),
                                        std::pow(2.0, -8), std::pow(2.0, -1), std::pow(2.0, -3)};
  const auto m = alibi_slopes(6);
  ASSERT_EQ(m.size(), expected.size());
  for (std::size_t h = 0; h < m.size(); ++h) EXPECT_DOUBLE_EQ(m[h], expected[h]) << "head " << h;
}

TEST(RelativeAlibi, SlopesForThreeHeadsAsInTheParityFixtures) {
  // P = 2: 2^-4, 2^-8; then the first odd-h slope of the 4-head sequence, 2^-2.
  const auto m = alibi_slopes(3);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_DOUBLE_EQ(m[0], std::pow(2.0, -4));
  EXPECT_DOUBLE_EQ(m[1], std::pow(2.0, -8));
  EXPECT_DOUBLE_EQ(m[2], std::pow(2.0, -2));
}

// The bias added for T = 5, H = 2 (slopes 2^-4, 2^-8) in both kinds: -m_h (i - j) on and
// below the diagonal; above it, -m_h (j - i) when bidirectional and nothing when causal
// (those logits are masked after the hook).
TEST(RelativeAlibi, BiasMatrixCausalAndBidirectional) {
  for (bool causal : {true, false}) {
    SCOPED_TRACE(causal ? "causal" : "bidirectional");
    Built alibi("alibi", ModelDims{8, 2, 4, 2, causal});
    EXPECT_EQ(alibi.params.count(), 0u);  // no parameters
    const AttnDims d{2, 2, 5, 4, causal};
    const auto q = random_vector(d.qk_size(), 1), k = random_vector(d.qk_size(), 2);
    const auto bias = alibi.score_bias(0, q, k, d);
    const double m[2] = {1.0 / 16, 1.0 / 256};
    for (int b = 0; b < d.B; ++b)
      for (int h = 0; h < d.H; ++h)
        for (int i = 0; i < d.T; ++i)
          for (int j = 0; j < d.T; ++j) {
            double expected = 0;
            if (j <= i) expected = -m[h] * (i - j);
            else if (!causal) expected = -m[h] * (j - i);
            EXPECT_DOUBLE_EQ(bias[at(d, b, h, i, j)], expected) << b << h << i << j;
          }
    // encode() writes the same bias [H, L, L] (the full formula, also above the diagonal).
    for (const auto& a : alibi.encoder->encode(5))
      if (a.name == "bias") {
        ASSERT_EQ(a.shape, (std::vector<std::size_t>{2, 5, 5}));
        for (int h = 0; h < 2; ++h)
          for (int i = 0; i < 5; ++i)
            for (int j = 0; j < 5; ++j)
              EXPECT_DOUBLE_EQ(a.data[(h * 5 + i) * 5 + j], -m[h] * std::abs(i - j));
      }
  }
}

TEST(RelativeAlibi, DescribeGivesTheSlopes) {
  Built alibi("alibi", ModelDims{48, 6, 8, 1, true});
  const auto arrays = alibi.encoder->describe();
  ASSERT_EQ(arrays.size(), 1u);
  EXPECT_EQ(arrays[0].name, "slopes");
  EXPECT_EQ(arrays[0].shape, (std::vector<std::size_t>{6}));
  EXPECT_EQ(arrays[0].data, alibi_slopes(6));
}

// ---- T5 buckets ---------------------------------------------------------------------------

// Causal, defaults (32, 128): n = max(-rp, 0), all 32 buckets look back; max_exact = 16.
//   n < 16: bucket n.
//   n >= 16: 16 + floor(log(n/16) / log(128/16) * (32 - 16)) = 16 + floor(16 log_8(n/16)),
//   capped at 31.
TEST(RelativeT5, BucketsCausalDefaults) {
  const std::vector<std::pair<int, int>> cases = {
      {0, 0},     // n = 0
      {-1, 1},    // n = 1
      {-15, 15},  // n = 15: the last exact bucket
      {-16, 16},  // n = 16: 16 + floor(16 log_8 1) = 16 + 0
      {-20, 17},  // 16 + floor(16 · ln 1.25 / ln 8) = 16 + floor(16 · 0.1073) = 16 + 1
      {-32, 21},  // 16 + floor(16 · log_8 2) = 16 + floor(16/3 = 5.33) = 21
      {-64, 26},  // 16 + floor(16 · log_8 4) = 16 + floor(32/3 = 10.67) = 26
      {-127, 31}, // 16 + floor(16 · ln 7.9375 / ln 8) = 16 + floor(16 · 0.99622 = 15.94) = 31
      {-128, 31}, // 16 + 16 = 32, capped at 31
      {-500, 31}, // far beyond max_distance: capped
      {3, 0},     // a later key (masked in a causal model): n = max(-3, 0) = 0
  };
  for (auto [rp, bucket] : cases) EXPECT_EQ(t5_bucket(rp, false, 32, 128), bucket) << "rp " << rp;
}

// Bidirectional, defaults (32, 128): 16 buckets per direction, rp > 0 (key after the
// query) adds 16; n = |rp|; max_exact = 8; for n >= 8:
//   8 + floor(log(n/8) / log(128/8) * (16 - 8)) = 8 + floor(8 log_16(n/8)), capped at 15.
TEST(RelativeT5, BucketsBidirectionalDefaults) {
  const std::vector<std::pair<int, int>> cases = {
      {0, 0},       // n = 0, looking back (rp <= 0): lower half
      {-3, 3},      // n = 3 < 8: exact
      {3, 16 + 3},  // the same distance ahead: upper half
      {-7, 7},      // last exact bucket
      {8, 16 + 8},  // n = 8: 8 + floor(8 log_16 1) = 8
      {-16, 10},    // 8 + floor(8 · log_16 2 = 2) = 10: exactly on a boundary
      {16, 16 + 10},
      {-20, 10},    // 8 + floor(8 · ln 2.5 / ln 16 = 2.64) = 10
      {40, 16 + 12},  // 8 + floor(8 · ln 5 / ln 16 = 4.64) = 12
      {-63, 13},    // 8 + floor(8 · ln 7.875 / ln 16 = 5.95) = 13
      {-64, 14},    // 8 + floor(8 · log_16 8 = 6) = 14: on a boundary again
      {-127, 15},   // 8 + floor(8 · ln 15.875 / ln 16 = 7.98) = 15
      {-500, 15},   // capped at 15
      {500, 31},    // capped at 15, upper half
  };
  for (auto [rp, bucket] : cases) EXPECT_EQ(t5_bucket(rp, true, 32, 128), bucket) << "rp " << rp;
}

// The parity fixtures' (8, 6), listed in tests/fixtures/parity/README.md.
// Causal: max_exact 4; n = 4: 4 + floor(4 log_1.5 1) = 4; n = 5: 4 + floor(4 · 0.55) = 6;
// n = 6: 4 + 4 = 8, capped at 7.  Bidirectional: 4 per direction, max_exact 2;
// n = 2: 2; n = 3: 2 + floor(2 log_3 1.5 = 0.74) = 2; n >= 4: 2 + floor(2 log_3 2 = 1.26) = 3.
TEST(RelativeT5, BucketsOfTheParityFixtures) {
  const std::vector<int> causal = {0, 1, 2, 3, 4, 6, 7};  // n = i - j = 0..6
  for (int n = 0; n <= 6; ++n) EXPECT_EQ(t5_bucket(-n, false, 8, 6), causal[n]) << "n " << n;
  const std::vector<int> bidirectional = {3, 3, 3, 2, 2, 1, 0, 5, 6, 6, 7, 7, 7};  // rp -6..6
  for (int rp = -6; rp <= 6; ++rp)
    EXPECT_EQ(t5_bucket(rp, true, 8, 6), bidirectional[rp + 6]) << "rp " << rp;
}

// ---- T5 encoder ---------------------------------------------------------------------------

// logits[b,h,i,j] += bias[bucket(j - i), h], for every layer from the one table.
TEST(RelativeT5, BiasIsTheTableEntryOfTheBucketInEveryLayer) {
  for (bool causal : {true, false}) {
    SCOPED_TRACE(causal ? "causal" : "bidirectional");
    Built t5("t5", ModelDims{8, 2, 4, 3, causal}, "num_buckets: 6, max_distance: 5");
    ASSERT_EQ(t5.params.infos().size(), 1u);  // one table for all three layers
    EXPECT_EQ(t5.params.infos()[0].name, "encoder.bias");
    EXPECT_EQ(t5.params.infos()[0].shape, (std::vector<int>{6, 2}));
    EXPECT_FALSE(t5.params.infos()[0].weight_decay);
    const auto init = random_vector(12, 3);
    std::copy(init.begin(), init.end(), t5.value("encoder.bias"));

    const AttnDims d{2, 2, 9, 4, causal};
    const auto q = random_vector(d.qk_size(), 4), k = random_vector(d.qk_size(), 5);
    const auto layer0 = t5.score_bias(0, q, k, d);
    for (int layer = 1; layer < 3; ++layer) EXPECT_EQ(t5.score_bias(layer, q, k, d), layer0);
    for (int b = 0; b < d.B; ++b)
      for (int h = 0; h < d.H; ++h)
        for (int i = 0; i < d.T; ++i)
          for (int j = 0; j < d.T; ++j) {
            const double expected =
                causal && j > i ? 0.0 : init[t5_bucket(j - i, !causal, 6, 5) * 2 + h];
            EXPECT_EQ(layer0[at(d, b, h, i, j)], expected) << b << h << i << j;
          }
  }
}

// Every layer's backward adds into the one shared gradient.
TEST(RelativeT5, LayersAccumulateIntoTheSharedGradient) {
  Built t5("t5", ModelDims{8, 2, 4, 2, false}, "num_buckets: 6, max_distance: 5");
  const AttnDims d{2, 2, 7, 4, false};
  const auto q = random_vector(d.qk_size(), 6), k = random_vector(d.qk_size(), 7);
  const auto g = random_vector(d.score_size(), 8);
  std::vector<double> dq(d.qk_size(), 0), dk(d.qk_size(), 0);
  t5.encoder->score_bias_backward(0, q.data(), k.data(), g.data(), dq.data(), dk.data(), d);
  const auto once = t5.params.grads();
  t5.encoder->score_bias_backward(1, q.data(), k.data(), g.data(), dq.data(), dk.data(), d);
  for (std::size_t n = 0; n < once.size(); ++n) EXPECT_DOUBLE_EQ(t5.params.grads()[n], 2 * once[n]);
  // By hand: dbias[c, h] = Σ_{b,i,j: bucket(j-i) = c} g[b,h,i,j]; dq and dk untouched.
  std::vector<double> expected(12, 0.0);
  for (int b = 0; b < d.B; ++b)
    for (int h = 0; h < d.H; ++h)
      for (int i = 0; i < d.T; ++i)
        for (int j = 0; j < d.T; ++j) expected[t5_bucket(j - i, true, 6, 5) * 2 + h] += g[at(d, b, h, i, j)];
  for (int n = 0; n < 12; ++n) EXPECT_NEAR(once[n], expected[n], 1e-12);
  for (double x : dq) EXPECT_EQ(x, 0.0);
  for (double x : dk) EXPECT_EQ(x, 0.0);
}

TEST(RelativeT5, RejectsBucketsThatCannotBeSplit) {
  // Bidirectional with 2 buckets leaves 1 per direction and none of them exact.
  EXPECT_THROW(testing::try_build_encoder("t5", ModelDims{8, 2, 4, 2, false}, "num_buckets: 2"), ConfigError);
  // max_distance must lie beyond the exact buckets (16 when causal with 32 buckets).
  EXPECT_THROW(testing::try_build_encoder("t5", ModelDims{8, 2, 4, 2, true}, "max_distance: 16"), ConfigError);
  EXPECT_NE(testing::try_build_encoder("t5", ModelDims{8, 2, 4, 2, true}, "max_distance: 17"), nullptr);
}

TEST(RelativeT5, DescribeAndEncode) {
  Built t5("t5", ModelDims{8, 2, 4, 2, false});  // defaults 32 / 128
  const auto arrays = t5.encoder->describe();
  auto find = [](const std::vector<NamedArray>& v, const std::string& name) -> const NamedArray& {
    for (const auto& a : v)
      if (a.name == name) return a;
    throw std::runtime_error("no array " + name);
  };
  EXPECT_EQ(find(arrays, "bias").shape, (std::vector<std::size_t>{32, 2}));
  const auto& rp = find(arrays, "relative_position");
  const auto& bucket = find(arrays, "bucket_of_distance");
  ASSERT_EQ(rp.shape, (std::vector<std::size_t>{257}));  // rp = -128 .. 128
  ASSERT_EQ(bucket.shape, rp.shape);
  for (std::size_t n = 0; n < rp.data.size(); ++n)
    EXPECT_EQ(bucket.data[n], t5_bucket(int(rp.data[n]), true, 32, 128));
  EXPECT_EQ(find(arrays, "bias_by_distance").shape, (std::vector<std::size_t>{2, 257}));
  EXPECT_EQ(find(t5.encoder->encode(6), "bias").shape, (std::vector<std::size_t>{2, 6, 6}));
}

// ---- Shaw ---------------------------------------------------------------------------------

TEST(RelativeShaw, TablesPerLayerSharedByTheHeads) {
  Built shaw("shaw", ModelDims{8, 2, 4, 3, true}, "clip: 2");
  ASSERT_EQ(shaw.params.infos().size(), 6u);
  for (int l = 0; l < 3; ++l)
    for (const char* which : {"key", "value"}) {
      const int h = shaw.params.find("encoder.layers." + std::to_string(l) + "." + which);
      ASSERT_GE(h, 0);
      EXPECT_EQ(shaw.params.info(h).shape, (std::vector<int>{5, 4}));  // [2K+1, dh]
      EXPECT_FALSE(shaw.params.info(h).weight_decay);
    }
}

// Only one row of the key table is non-zero: the bias q_i·a/sqrt(dh) must appear exactly at
// the (i, j) whose clipped distance selects that row. Row 0 serves every j - i <= -K, row
// 2K every j - i >= K, and an inner row exactly one distance.
TEST(RelativeShaw, KeyClippingSelectsTheEndRowsBeyondK) {
  const int K = 2;
  for (bool causal : {true, false}) {
    SCOPED_TRACE(causal ? "causal" : "bidirectional");
    Built shaw("shaw", ModelDims{8, 2, 4, 2, causal}, "clip: 2");
    const AttnDims d{2, 2, 8, 4, causal};
    const auto q = random_vector(d.qk_size(), 9), k = random_vector(d.qk_size(), 10);
    const std::vector<double> a = {0.5, -1.0, 2.0, 0.25};
    for (int row : {0, 1, K, 2 * K - 1, 2 * K}) {
      SCOPED_TRACE("row " + std::to_string(row));
      double* key = shaw.value("encoder.layers.1.key");
      std::fill(key, key + (2 * K + 1) * 4, 0.0);
      std::copy(a.begin(), a.end(), key + row * 4);
      const auto bias = shaw.score_bias(1, q, k, d);
      for (int b = 0; b < d.B; ++b)
        for (int h = 0; h < d.H; ++h)
          for (int i = 0; i < d.T; ++i)
            for (int j = 0; j < d.T; ++j) {
              const int r = j - i;
              const bool selected = row == 0 ? r <= -K : row == 2 * K ? r >= K : r == row - K;
              double qa = 0;
              for (int c = 0; c < 4; ++c) qa += q[((b * d.H + h) * d.T + i) * 4 + c] * a[c];
              const double expected = selected && !(causal && j > i) ? qa / 2.0 : 0.0;
              EXPECT_NEAR(bias[at(d, b, h, i, j)], expected, 1e-14) << b << h << i << j;
            }
    }
  }
}

// Only one row of the value table is non-zero: out_i gains (Σ of α_ij over the j that row
// serves) · a.
TEST(RelativeShaw, ValueClippingSelectsTheEndRowsBeyondK) {
  const int K = 2;
  for (bool causal : {true, false}) {
    SCOPED_TRACE(causal ? "causal" : "bidirectional");
    Built shaw("shaw", ModelDims{8, 2, 4, 2, causal}, "clip: 2");
    const AttnDims d{1, 2, 8, 4, causal};
    auto probs = random_vector(d.score_size(), 11);
    for (int h = 0; h < d.H; ++h)
      for (int i = 0; i < d.T; ++i)
        for (int j = 0; j < d.T; ++j) {
          double& p = probs[at(d, 0, h, i, j)];
          p = causal && j > i ? 0.0 : std::abs(p);
        }
    const std::vector<double> a = {1.0, -2.0, 0.5, 3.0};
    for (int row : {0, K, 2 * K}) {
      SCOPED_TRACE("row " + std::to_string(row));
      double* value = shaw.value("encoder.layers.0.value");
      std::fill(value, value + (2 * K + 1) * 4, 0.0);
      std::copy(a.begin(), a.end(), value + row * 4);
      std::vector<double> out(d.qk_size(), 0.0);
      shaw.encoder->value_bias_forward(0, probs.data(), out.data(), d);
      for (int h = 0; h < d.H; ++h)
        for (int i = 0; i < d.T; ++i) {
          double mass = 0;
          for (int j = 0; j < d.T; ++j) {
            const int r = j - i;
            if (row == 0 ? r <= -K : row == 2 * K ? r >= K : r == 0) mass += probs[at(d, 0, h, i, j)];
          }
          for (int c = 0; c < 4; ++c)
            EXPECT_NEAR(out[(h * d.T + i) * 4 + c], mass * a[c], 1e-14) << h << i << c;
        }
    }
  }
}

TEST(RelativeShaw, EncodeGivesTheClippedIndexMatrix) {
  Built shaw("shaw", ModelDims{8, 2, 4, 2, false}, "clip: 2");
  for (const auto& a : shaw.encoder->encode(6))
    if (a.name == "relative_index") {
      ASSERT_EQ(a.shape, (std::vector<std::size_t>{6, 6}));
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j)
          EXPECT_EQ(a.data[i * 6 + j], std::min(std::max(j - i, -2), 2) + 2) << i << j;
    }
  int tables = 0;
  for (const auto& a : shaw.encoder->describe())
    if (a.name.rfind("layers.", 0) == 0) {
      EXPECT_EQ(a.shape, (std::vector<std::size_t>{5, 4}));
      ++tables;
    }
  EXPECT_EQ(tables, 4);  // key and value for each of 2 layers
}

// ---- All three ----------------------------------------------------------------------------

TEST(RelativeEncoders, HaveNoPositionMatrix) {
  for (const char* name : {"shaw", "t5", "alibi"}) {
    Built e(name, ModelDims{8, 2, 4, 2, true});
    EXPECT_FALSE(e.encoder->position_matrix(8).has_value()) << name;
  }
}

#ifdef _OPENMP
// Parameter gradients are reduced per (b, h) and then added in a fixed order, so they are
// bitwise the same whatever the number of threads.
TEST(RelativeEncoders, ParameterGradientsDoNotDependOnTheThreadCount) {
  for (const char* name : {"shaw", "t5"}) {
    SCOPED_TRACE(name);
    const AttnDims d{3, 2, 11, 4, false};
    const auto q = random_vector(d.qk_size(), 12), k = random_vector(d.qk_size(), 13);
    const auto g = random_vector(d.score_size(), 14), dout = random_vector(d.qk_size(), 15);
    auto probs = random_vector(d.score_size(), 16);
    for (double& p : probs) p = std::abs(p);
    auto grads_with = [&](int threads) {
      Built e(name, ModelDims{8, 2, 4, 2, false}, std::string(name) == "shaw" ? "clip: 3" : "");
      const int saved = omp_get_max_threads();
      omp_set_num_threads(threads);
      std::vector<double> dq(d.qk_size(), 0), dk(d.qk_size(), 0), dprobs(d.score_size(), 0);
      e.encoder->score_bias_backward(1, q.data(), k.data(), g.data(), dq.data(), dk.data(), d);
      if (e.encoder->has_value_bias())
        e.encoder->value_bias_backward(1, probs.data(), dout.data(), dprobs.data(), d);
      omp_set_num_threads(saved);
      return e.params.grads();
    };
    EXPECT_EQ(grads_with(1), grads_with(4));
  }
}
#endif

}  // namespace
}  // namespace poslab
