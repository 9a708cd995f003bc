// The CoPE paper's baselines and the released code's options (issue #16), against their
// formulas written out again: `relative` (q_i·e[min(i − j, M − 1)] / sqrt(dh), one table
// shared by the layers or one per layer) and cope's divide_position_logits / init / npos.
// Gradients and PyTorch parity are checked by the generic suites (encoder_gradcheck_test,
// model_gradcheck_test, parity_test with relative_*.h5 and cope_released_causal.h5).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/rng.h"
#include "f64/encoder_fixture.h"
#include "f64/gradcheck.h"

namespace poslab {
namespace {

using testing::random_vector;

// Encoders built with their ConfigErrors let through (tests/f64/encoder_fixture.h).
auto* const build = &testing::build_encoder;
auto* const config_error = &testing::encoder_config_error;

// An encoder with its parameters declared, allocated and filled with uniform(-1, 1) values.
struct Built {
  std::unique_ptr<PositionalEncoder> encoder;
  ParameterSet params;
  Built(const std::string& name, const ModelDims& dims, const std::string& options,
        unsigned seed = 1) {
    encoder = build(name, dims, options);
    encoder->declare_parameters(params);
    params.allocate();
    const auto v = random_vector(params.count(), seed);
    std::copy(v.begin(), v.end(), params.values().begin());
  }
  const double* value(const std::string& name) const { return params.value(params.find(name)); }
};

double dot(const double* a, const double* b, int n) { return std::inner_product(a, a + n, b, 0.0); }

std::size_t at(const AttnDims& d, int bh, int i, int j) {
  return (std::size_t(bh) * d.T + i) * d.T + j;
}

// ---- relative ---------------------------------------------------------------------------

constexpr int kDh = 4;

TEST(RelativeBaseline, BiasIsQueryDotTheDistanceRowOverSqrtDhClampedAtTheLastRow) {
  const ModelDims dims{8, 2, kDh, 2, true};
  const int M = 4;  // T = 7: distances 3..6 all read row 3
  for (const bool shared : {true, false}) {
    Built rel("relative", dims, "max_distance: 4, shared_across_layers: " +
                                    std::string(shared ? "true" : "false"));
    const AttnDims d{1, 2, 7, kDh, true};
    const auto q = random_vector(d.qk_size(), 3), k = random_vector(d.qk_size(), 4);
    for (int layer = 0; layer < 2; ++layer) {
      const std::string table =
          shared ? "encoder.rel_table" : "encoder.layers." + std::to_string(layer) + ".rel_table";
      const double* E = rel.value(table);
      std::vector<double> logits(d.score_size(), 0.0);
      rel.encoder->score_bias_forward(layer, q.data(), k.data(), logits.data(), d);
      for (int bh = 0; bh < 2; ++bh)
        for (int i = 0; i < d.T; ++i)
          for (int j = 0; j <= i; ++j) {
            const int row = std::min(i - j, M - 1);
            const double want = dot(q.data() + (std::size_t(bh) * d.T + i) * kDh,
                                    E + std::size_t(row) * kDh, kDh) / std::sqrt(double(kDh));
            EXPECT_NEAR(logits[at(d, bh, i, j)], want, 1e-14)
                << "shared " << shared << " layer " << layer << " (" << i << ", " << j << ")";
          }
    }
  }
}

TEST(RelativeBaseline, BiasDependsOnlyOnIMinusJ) {
  // The same query vector at every position: the bias matrix is then constant along each
  // diagonal (Toeplitz), here with distances beyond max_distance clamped too.
  const ModelDims dims{8, 2, kDh, 1, true};
  Built rel("relative", dims, "max_distance: 5");
  const AttnDims d{1, 2, 9, kDh, true};
  const auto v = random_vector(kDh, 7);
  std::vector<double> q(d.qk_size());
  for (std::size_t t = 0; t < q.size(); t += kDh) std::copy(v.begin(), v.end(), q.begin() + t);
  const auto k = random_vector(d.qk_size(), 8);  // the bias reads no key
  std::vector<double> logits(d.score_size(), 0.0);
  rel.encoder->score_bias_forward(0, q.data(), k.data(), logits.data(), d);
  for (int bh = 0; bh < 2; ++bh)
    for (int i = 0; i + 1 < d.T; ++i)
      for (int j = 0; j <= i; ++j)
        EXPECT_DOUBLE_EQ(logits[at(d, bh, i, j)], logits[at(d, bh, i + 1, j + 1)])
            << "(" << i << ", " << j << ")";
  // ... and distinct distances below max_distance read distinct rows.
  EXPECT_NE(logits[at(d, 0, 4, 4)], logits[at(d, 0, 4, 3)]);
  // distances 4..8 all read row 4
  EXPECT_DOUBLE_EQ(logits[at(d, 0, 8, 4)], logits[at(d, 0, 8, 0)]);
}

TEST(RelativeBaseline, SharedTableTakesEveryLayersGradient) {
  const ModelDims dims{8, 2, kDh, 2, true};
  Built rel("relative", dims, "max_distance: 6");
  ASSERT_EQ(rel.params.infos().size(), 1u);
  EXPECT_EQ(rel.params.info(0).name, "encoder.rel_table");
  EXPECT_EQ(rel.params.info(0).shape, (std::vector<int>{6, kDh}));
  EXPECT_FALSE(rel.params.info(0).weight_decay);
  const AttnDims d{2, 2, 5, kDh, true};
  const auto q0 = random_vector(d.qk_size(), 11), q1 = random_vector(d.qk_size(), 12);
  const auto k = random_vector(d.qk_size(), 13);
  auto g = random_vector(d.score_size(), 14);
  for (int bh = 0; bh < 4; ++bh)  // dlogits are 0 above the diagonal
    for (int i = 0; i < d.T; ++i)
      for (int j = i + 1; j < d.T; ++j) g[at(d, bh, i, j)] = 0;
  std::vector<double> dq(d.qk_size()), dk(d.qk_size());
  auto grad_of = [&](std::initializer_list<std::pair<int, const std::vector<double>*>> layers) {
    rel.params.zero_grads();
    for (auto [layer, q] : layers)
      rel.encoder->score_bias_backward(layer, q->data(), k.data(), g.data(), dq.data(), dk.data(), d);
    return std::vector<double>(rel.params.grads().begin(), rel.params.grads().end());
  };
  const auto a = grad_of({{0, &q0}}), b = grad_of({{1, &q1}}), both = grad_of({{0, &q0}, {1, &q1}});
  for (std::size_t n = 0; n < both.size(); ++n) EXPECT_NEAR(both[n], a[n] + b[n], 1e-13);
  EXPECT_GT(std::abs(a[0]), 0.0);
}

TEST(RelativeBaseline, PerLayerTablesAreSeparateParameters) {
  const ModelDims dims{8, 2, kDh, 3, true};
  Built rel("relative", dims, "max_distance: 7, shared_across_layers: false");
  ASSERT_EQ(rel.params.infos().size(), 3u);
  for (int l = 0; l < 3; ++l) {
    EXPECT_EQ(rel.params.info(l).name, "encoder.layers." + std::to_string(l) + ".rel_table");
    EXPECT_EQ(rel.params.info(l).shape, (std::vector<int>{7, kDh}));
  }
  const auto described = rel.encoder->describe();
  ASSERT_EQ(described.size(), 3u);
  EXPECT_EQ(described[2].name, "layers.2.rel_table");
  // encode: the tables and the row each (i, j) reads, clamped, -1 above the diagonal.
  const auto encoded = rel.encoder->encode(10);
  ASSERT_EQ(encoded.size(), 4u);
  const auto& index = encoded.back();
  EXPECT_EQ(index.name, "relative_index");
  EXPECT_EQ(index.data[9 * 10 + 0], 6.0);  // distance 9 -> row M - 1 = 6
  EXPECT_EQ(index.data[9 * 10 + 5], 4.0);
  EXPECT_EQ(index.data[2 * 10 + 3], -1.0);
}

TEST(RelativeBaseline, InitialisesWithStdOneOverSqrtDhAsTheReleasedCode) {
  const int dh = 16;
  for (const auto& [options, want] :
       std::vector<std::pair<std::string, double>>{{"", 1 / std::sqrt(16.0)}, {"init_std: 0.3", 0.3}}) {
    auto rel = build("relative", ModelDims{64, 4, dh, 2, true}, options);
    ParameterSet params;
    rel->declare_parameters(params);
    params.allocate();
    Rng rng(5);
    params.initialize(rng);
    const auto& v = params.values();  // 512 x 16 = 8192 draws
    double ss = 0;
    for (double x : v) ss += x * x;
    EXPECT_NEAR(std::sqrt(ss / v.size()), want, 0.05 * want) << options;
  }
}

TEST(RelativeBaseline, RefusesBidirectionalModelsAndBadOptionsNamingTheKey) {
  const std::string bidir = config_error("relative", ModelDims{8, 2, 4, 2, false}, "");
  EXPECT_NE(bidir.find("encoder.name"), std::string::npos) << bidir;
  EXPECT_NE(bidir.find("causal only"), std::string::npos) << bidir;
  const std::string zero = config_error("relative", ModelDims{8, 2, 4, 2, true}, "max_distance: 0");
  EXPECT_NE(zero.find("max_distance"), std::string::npos) << zero;
  const std::string flag =
      config_error("relative", ModelDims{8, 2, 4, 2, true}, "shared_across_layers: maybe");
  EXPECT_NE(flag.find("shared_across_layers"), std::string::npos) << flag;
}

// ---- cope: the released code's options ----------------------------------------------------

TEST(CopeReleasedOptions, NposIsPMaxPlusOneAndExcludesPMax) {
  const ModelDims dims{8, 2, kDh, 1, true};
  Built cope("cope", dims, "npos: 9");
  EXPECT_EQ(cope.params.info(0).shape, (std::vector<int>{kDh, 9}));  // positions 0..8
  const std::string both = config_error("cope", dims, "npos: 9, p_max: 8");
  EXPECT_NE(both.find("encoder.npos"), std::string::npos) << both;
  EXPECT_NE(both.find("not both"), std::string::npos) << both;
  const std::string one = config_error("cope", dims, "npos: 1");
  EXPECT_NE(one.find("encoder.npos"), std::string::npos) << one;
  const std::string init = config_error("cope", dims, "init: uniform");
  EXPECT_NE(init.find("encoder.init"), std::string::npos) << init;
}

TEST(CopeReleasedOptions, InitZerosStartsEAtZero) {
  const ModelDims dims{8, 2, kDh, 2, true};
  for (const std::string init : {"zeros", "normal"}) {
    auto cope = build("cope", dims, "init: " + init);
    ParameterSet params;
    cope->declare_parameters(params);
    params.allocate();
    Rng rng(9);
    params.initialize(rng);
    double max_abs = 0;
    for (double x : params.values()) max_abs = std::max(max_abs, std::abs(x));
    if (init == "zeros")
      EXPECT_EQ(max_abs, 0.0);
    else
      EXPECT_GT(max_abs, 0.0);
  }
}

TEST(CopeReleasedOptions, DividingThePositionLogitsScalesTheBiasByOneOverSqrtDh) {
  // Same E, q, k: the released code's bias is the pseudo-code's divided by sqrt(dh) (the
  // gates, read from the logits z on entry, are the same in both).
  const ModelDims dims{8, 2, kDh, 1, true};
  Built plain("cope", dims, "p_max: 3", 21), divided("cope", dims, "p_max: 3, divide_position_logits: true", 21);
  const AttnDims d{1, 2, 8, kDh, true};
  const auto q = random_vector(d.qk_size(), 22), k = random_vector(d.qk_size(), 23);
  std::vector<double> z(d.score_size(), 0.0);
  for (int bh = 0; bh < 2; ++bh)
    for (int i = 0; i < d.T; ++i)
      for (int j = 0; j < d.T; ++j)
        z[at(d, bh, i, j)] = dot(q.data() + (std::size_t(bh) * d.T + i) * kDh,
                                 k.data() + (std::size_t(bh) * d.T + j) * kDh, kDh) / 2.0;
  auto a = z, b = z;
  plain.encoder->score_bias_forward(0, q.data(), k.data(), a.data(), d);
  divided.encoder->score_bias_forward(0, q.data(), k.data(), b.data(), d);
  int compared = 0;
  for (int bh = 0; bh < 2; ++bh)
    for (int i = 0; i < d.T; ++i)
      for (int j = 0; j <= i; ++j, ++compared)
        EXPECT_NEAR(b[at(d, bh, i, j)] - z[at(d, bh, i, j)],
                    (a[at(d, bh, i, j)] - z[at(d, bh, i, j)]) / std::sqrt(double(kDh)), 1e-13);
  EXPECT_EQ(compared, 2 * 36);
}

// ---- finite differences of the option sets the generic suites (defaults) do not reach -----

// L = Σ R ⊙ (bias) at T = 10 for layer `layer`, against dq, dk and the encoder's parameters.
void expect_score_bias_gradients(const std::string& name, const std::string& options, int layer) {
  const int B = 1, H = 2, T = 10, dh = kDh;
  const ModelDims dims{H * dh, H, dh, 2, true};
  const AttnDims ad{B, H, T, dh, true};
  Built enc(name, dims, options, 30);
  auto q = random_vector(ad.qk_size(), 31, 1.5), k = random_vector(ad.qk_size(), 32, 1.5);
  auto R = random_vector(ad.score_size(), 33);
  for (int bh = 0; bh < B * H; ++bh)
    for (int i = 0; i < T; ++i)
      for (int j = i + 1; j < T; ++j) R[at(ad, bh, i, j)] = 0;
  auto bias_only = [&] {  // z itself is left out, so dq, dk are the hook's alone
    std::vector<double> logits(ad.score_size());
    for (int bh = 0; bh < B * H; ++bh)
      for (int i = 0; i < T; ++i)
        for (int j = 0; j < T; ++j)
          logits[at(ad, bh, i, j)] =
              dot(&q[(bh * T + i) * dh], &k[(bh * T + j) * dh], dh) / std::sqrt(double(dh));
    const auto z = logits;
    enc.encoder->score_bias_forward(layer, q.data(), k.data(), logits.data(), ad);
    double L = 0;
    for (std::size_t n = 0; n < logits.size(); ++n) L += R[n] * (logits[n] - z[n]);
    return L;
  };
  bias_only();
  std::vector<double> dq(ad.qk_size(), 0.0), dk(ad.qk_size(), 0.0);
  enc.params.zero_grads();
  enc.encoder->score_bias_backward(layer, q.data(), k.data(), R.data(), dq.data(), dk.data(), ad);
  testing::expect_gradient(name + " dq", q.data(), q.size(), bias_only, dq.data(), 1e-6);
  testing::expect_gradient(name + " dk", k.data(), k.size(), bias_only, dk.data(), 1e-6);
  testing::expect_gradient(name + " parameters", enc.params.values().data(), enc.params.count(),
                           bias_only, enc.params.grads().data(), 1e-6);
}

TEST(CopeReleasedOptions, GradientsWithDivisionAndNpos) {
  expect_score_bias_gradients("cope", "npos: 5, divide_position_logits: true", 1);
}

TEST(RelativeBaseline, GradientsPerLayerWithClampedDistances) {
  // T = 10, max_distance 6: distances 5..9 share the last row; layer 1's table only.
  expect_score_bias_gradients("relative", "max_distance: 6, shared_across_layers: false", 1);
}

}  // namespace
}  // namespace poslab
