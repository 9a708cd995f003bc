// Property tests of rope and cope, written against the formulas of docs/design.md ("Math
// conventions") again rather than against the plugins' code. The generic suites already
// check their gradients and PyTorch parity; these check the properties the schemes are
// used for: RoPE logits depend only on i - j, CoPE positions count gated tokens.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "encoders/cope_positions.h"
#include "f64/encoder_fixture.h"
#include "f64/gradcheck.h"

namespace poslab {
namespace {

using testing::random_vector;

// Encoders built with their ConfigErrors let through (tests/f64/encoder_fixture.h).
auto* const build = &testing::build_encoder;
auto* const config_error = &testing::encoder_config_error;

double dot(const double* a, const double* b, int n) { return std::inner_product(a, a + n, b, 0.0); }

// ---- RoPE ------------------------------------------------------------------------------

constexpr int kDh = 8;

// The same vector v [dh] placed at every position 0..T-1 of a [1, 1, T, dh] block, rotated.
std::vector<double> rotate_at_every_position(PositionalEncoder& rope, const std::vector<double>& v,
                                             int T) {
  std::vector<double> q(std::size_t(T) * kDh), k(q.size(), 0.0);
  for (int t = 0; t < T; ++t) std::copy(v.begin(), v.end(), q.begin() + t * kDh);
  rope.rotate_qk_forward(0, q.data(), k.data(), AttnDims{1, 1, T, kDh, true});
  return q;
}

// base' = base·ntk^(d_rot/(d_rot-2)), θ_m = base'^(-2m/d_rot), written out again.
double theta(double base, int d_rot, double ntk, int m) {
  const double scaled = base * std::pow(ntk, double(d_rot) / (d_rot - 2));
  return std::pow(scaled, -2.0 * m / d_rot);
}

struct RopeOptions {
  std::string yaml;
  double base, interpolation, ntk;
  int d_rot;
};

const std::vector<RopeOptions> kRopeOptionSets = {
    {"", 10000, 1.0, 1.0, kDh},
    {"base: 100, rotary_dims: 6, interpolation: 2.0", 100, 2.0, 1.0, 6},
    {"ntk_factor: 4.0", 10000, 1.0, 4.0, kDh},
    {"base: 500, rotary_dims: 4, interpolation: 1.5, ntk_factor: 3.0", 500, 1.5, 3.0, 4},
};

TEST(RopeTest, RotatesEachPairByPositionTimesTheta) {
  const ModelDims dims{kDh, 1, kDh, 1, true};
  const int T = 9;
  const auto v = random_vector(kDh, 1);
  for (const auto& o : kRopeOptionSets) {
    auto rope = build("rope", dims, o.yaml);
    const auto r = rotate_at_every_position(*rope, v, T);
    for (int t = 0; t < T; ++t) {
      const double* row = r.data() + t * kDh;
      for (int m = 0; m < o.d_rot / 2; ++m) {
        const double phi = (t / o.interpolation) * theta(o.base, o.d_rot, o.ntk, m);
        EXPECT_NEAR(row[2 * m], v[2 * m] * std::cos(phi) - v[2 * m + 1] * std::sin(phi), 1e-12)
            << o.yaml << " t=" << t << " m=" << m;
        EXPECT_NEAR(row[2 * m + 1], v[2 * m] * std::sin(phi) + v[2 * m + 1] * std::cos(phi), 1e-12)
            << o.yaml << " t=" << t << " m=" << m;
      }
      for (int c = o.d_rot; c < kDh; ++c) EXPECT_EQ(row[c], v[c]) << "dims >= d_rot pass through";
    }
  }
}

TEST(RopeTest, LogitsDependOnlyOnRelativePosition) {
  const ModelDims dims{kDh, 1, kDh, 1, true};
  const int T = 24;
  const auto q = random_vector(kDh, 2), k = random_vector(kDh, 3);
  for (const auto& o : kRopeOptionSets) {
    auto rope = build("rope", dims, o.yaml);
    const auto rq = rotate_at_every_position(*rope, q, T);
    const auto rk = rotate_at_every_position(*rope, k, T);
    auto logit = [&](int i, int j) { return dot(rq.data() + i * kDh, rk.data() + j * kDh, kDh); };
    // Every (i, j) against the pair with the same offset starting at the smaller index 0.
    for (int i = 0; i < T; ++i)
      for (int j = 0; j < T; ++j) {
        const int shift = std::min(i, j);
        EXPECT_NEAR(logit(i, j), logit(i - shift, j - shift), 1e-12)
            << o.yaml << " (i, j) = (" << i << ", " << j << ")";
      }
    // ... and the offset does matter (the property is not satisfied trivially).
    EXPECT_GT(std::abs(logit(5, 2) - logit(2, 5)) + std::abs(logit(5, 2) - logit(5, 5)), 1e-3)
        << o.yaml;
  }
}

TEST(RopeTest, RotationPreservesNormsAndBackwardInvertsIt) {
  const ModelDims dims{16, 2, kDh, 1, true};
  const AttnDims ad{2, 2, 11, kDh, true};
  for (const auto& o : kRopeOptionSets) {
    auto rope = build("rope", dims, o.yaml);
    const auto q0 = random_vector(ad.qk_size(), 4), k0 = random_vector(ad.qk_size(), 5);
    auto q = q0, k = k0;
    rope->rotate_qk_forward(0, q.data(), k.data(), ad);
    for (std::size_t r = 0; r < q.size() / kDh; ++r) {
      EXPECT_NEAR(dot(&q[r * kDh], &q[r * kDh], kDh), dot(&q0[r * kDh], &q0[r * kDh], kDh), 1e-12);
      EXPECT_NEAR(dot(&k[r * kDh], &k[r * kDh], kDh), dot(&k0[r * kDh], &k0[r * kDh], kDh), 1e-12);
    }
    // A rotation is orthogonal: its transpose (the backward) undoes it.
    rope->rotate_qk_backward(0, q.data(), k.data(), ad);
    for (std::size_t n = 0; n < q.size(); ++n) {
      EXPECT_NEAR(q[n], q0[n], 1e-12);
      EXPECT_NEAR(k[n], k0[n], 1e-12);
    }
  }
}

TEST(RopeTest, InterpolationTwoAtPosition2kEqualsInterpolationOneAtK) {
  const ModelDims dims{kDh, 1, kDh, 1, true};
  const int T = 20;
  const auto v = random_vector(kDh, 6);
  auto plain = build("rope", dims, "base: 100");
  auto stretched = build("rope", dims, "base: 100, interpolation: 2");
  const auto a = rotate_at_every_position(*plain, v, T);
  const auto b = rotate_at_every_position(*stretched, v, T);
  for (int t = 0; 2 * t < T; ++t)
    for (int c = 0; c < kDh; ++c) EXPECT_NEAR(b[2 * t * kDh + c], a[t * kDh + c], 1e-12) << t;
}

TEST(RopeTest, NtkFactorRescalesThetaAsTheFormulaSays) {
  const ModelDims dims{kDh, 1, kDh, 1, true};
  auto theta_of = [&](const std::string& options) {
    for (const auto& a : build("rope", dims, options)->describe())
      if (a.name == "theta") return a.data;
    ADD_FAILURE() << "describe() has no theta";
    return std::vector<double>{};
  };
  const auto plain = theta_of("base: 10000");
  const auto ntk = theta_of("base: 10000, ntk_factor: 8");
  ASSERT_EQ(plain.size(), std::size_t(kDh / 2));
  ASSERT_EQ(ntk.size(), std::size_t(kDh / 2));
  for (int m = 0; m < kDh / 2; ++m) {
    EXPECT_NEAR(plain[m], std::pow(10000.0, -2.0 * m / kDh), 1e-15);
    EXPECT_NEAR(ntk[m], theta(10000, kDh, 8, m), 1e-15);
  }
  // What the rescale is for: the highest frequency is kept, the lowest slowed by the factor.
  EXPECT_DOUBLE_EQ(ntk[0], plain[0]);
  EXPECT_NEAR(ntk[kDh / 2 - 1], plain[kDh / 2 - 1] / 8, 1e-15);
}

TEST(RopeTest, EncodeWritesAnglesThetaAndCosSinPairs) {
  const ModelDims dims{16, 2, kDh, 1, true};
  auto rope = build("rope", dims, "base: 100, rotary_dims: 6, interpolation: 2");
  const int L = 5;
  std::map<std::string, NamedArray> arrays;
  for (auto& a : rope->encode(L)) arrays[a.name] = a;
  ASSERT_TRUE(arrays.count("angles") && arrays.count("theta") && arrays.count("position_matrix"));
  EXPECT_EQ(arrays["angles"].shape, (std::vector<std::size_t>{L, 3}));
  EXPECT_EQ(arrays["theta"].shape, (std::vector<std::size_t>{3}));
  EXPECT_EQ(arrays["position_matrix"].shape, (std::vector<std::size_t>{L, 6}));
  for (int t = 0; t < L; ++t)
    for (int m = 0; m < 3; ++m) {
      const double phi = (t / 2.0) * std::pow(100.0, -2.0 * m / 6);
      EXPECT_NEAR(arrays["angles"].data[t * 3 + m], phi, 1e-14);
      EXPECT_NEAR(arrays["position_matrix"].data[t * 6 + 2 * m], std::cos(phi), 1e-14);
      EXPECT_NEAR(arrays["position_matrix"].data[t * 6 + 2 * m + 1], std::sin(phi), 1e-14);
    }
}

TEST(RopeTest, RejectsBadOptionsNamingTheKey) {
  const ModelDims dims{16, 2, kDh, 1, true};
  EXPECT_NE(config_error("rope", dims, "rotary_dims: 5").find("encoder.rotary_dims"), std::string::npos);
  EXPECT_NE(config_error("rope", dims, "rotary_dims: 10").find("encoder.rotary_dims"), std::string::npos);
  EXPECT_NE(config_error("rope", ModelDims{15, 3, 5, 1, true}, "").find("encoder.rotary_dims"),
            std::string::npos)
      << "an odd d_head cannot be rotated whole";
  EXPECT_NE(config_error("rope", dims, "rotary_dims: 2, ntk_factor: 2").find("encoder.ntk_factor"),
            std::string::npos);
  EXPECT_NE(config_error("rope", dims, "interpolation: 0").find("encoder.interpolation"), std::string::npos);
  EXPECT_EQ(config_error("rope", dims, "rotary_dims: 2"), "") << "one pair without NTK is fine";
  EXPECT_EQ(config_error("rope", dims, "rotary_dims: 4, ntk_factor: 2"), "");
}

// ---- CoPE ------------------------------------------------------------------------------

// A random 0/1 gate pattern, and z = ±50 (σ(50) = 1, σ(-50) < 2e-22) that realises it.
struct GatePattern {
  std::vector<int> open;  // [T, T]
  std::vector<double> z;  // [T, T]
};
GatePattern gate_pattern(int T, unsigned seed) {
  GatePattern g{std::vector<int>(T * T), std::vector<double>(T * T)};
  const auto r = random_vector(T * T, seed);
  for (int n = 0; n < T * T; ++n) {
    g.open[n] = r[n] > 0 ? 1 : 0;
    g.z[n] = g.open[n] ? 50.0 : -50.0;
  }
  return g;
}

// Σ_{t=j..i} open_it: what p_ij should be when the gates are 0/1.
int count_open(const GatePattern& g, int T, int i, int j) {
  int n = 0;
  for (int t = j; t <= i; ++t) n += g.open[i * T + t];
  return n;
}

TEST(CopeTest, PositionsCountGatedTokensAndClampAtPMax) {
  const int T = 12;
  for (unsigned seed : {1u, 2u, 3u}) {
    const auto g = gate_pattern(T, seed);
    for (double p_max : {100.0, 3.0}) {
      std::vector<double> p(T * T, -1.0), gates(T * T, -1.0);
      cope_positions(g.z.data(), T, p_max, p.data(), gates.data());
      for (int i = 0; i < T; ++i)
        for (int j = 0; j < T; ++j) {
          if (j > i) {
            EXPECT_EQ(p[i * T + j], 0.0);
            EXPECT_EQ(gates[i * T + j], 0.0);
            continue;
          }
          EXPECT_NEAR(gates[i * T + j], g.open[i * T + j], 1e-15);
          EXPECT_NEAR(p[i * T + j], std::min<double>(count_open(g, T, i, j), p_max), 1e-12)
              << "seed " << seed << " p_max " << p_max << " (i, j) = (" << i << ", " << j << ")";
        }
    }
  }
}

// The same through the plugin: queries q_i = s·e0 and keys k_j = ±s·e0 open the gate on the
// keys of one type (the paper's "count the sentences" set-up); with E[0, n] = n / s the bias
// q_i·e(p) equals p itself, so the plugin's logits minus z read its positions back.
TEST(CopeTest, PluginBiasCountsKeysOfTheGatedType) {
  const int T = 10, dh = 4, p_max = 4;
  const double s = 15;  // z = ±s² / sqrt(dh) = ±112.5: gates are 0/1
  const ModelDims dims{dh, 1, dh, 1, true};
  auto cope = build("cope", dims, "p_max: " + std::to_string(p_max));
  ParameterSet params;
  cope->declare_parameters(params);
  params.allocate();
  double* E = params.values().data();  // [dh, p_max + 1]
  for (int n = 0; n <= p_max; ++n) E[n] = n / s;
  const std::vector<int> type = {1, 0, 0, 1, 1, 0, 1, 1, 1, 0};
  std::vector<double> q(T * dh, 0.0), k(T * dh, 0.0), logits(T * T);
  for (int t = 0; t < T; ++t) {
    q[t * dh] = s;
    k[t * dh] = type[t] ? s : -s;
  }
  for (int i = 0; i < T; ++i)
    for (int j = 0; j < T; ++j) logits[i * T + j] = dot(&q[i * dh], &k[j * dh], dh) / std::sqrt(dh);
  const auto z = logits;
  cope->score_bias_forward(0, q.data(), k.data(), logits.data(), AttnDims{1, 1, T, dh, true});
  for (int i = 0; i < T; ++i)
    for (int j = 0; j <= i; ++j) {
      const int count = std::accumulate(type.begin() + j, type.begin() + i + 1, 0);
      EXPECT_NEAR(logits[i * T + j] - z[i * T + j], std::min(count, p_max), 1e-10)
          << "(i, j) = (" << i << ", " << j << ")";
    }
}

// logit_ij = z_ij + q_i·e(p_ij), with the vector e(p) interpolated between columns of E —
// the T×T×dh formula the plugin avoids, written out as loops.
TEST(CopeTest, BiasEqualsInterpolatedEmbeddingFormula) {
  const int B = 2, H = 2, T = 9, dh = 4, p_max = 3;
  const ModelDims dims{H * dh, H, dh, 2, true};
  const AttnDims ad{B, H, T, dh, true};
  auto cope = build("cope", dims, "p_max: " + std::to_string(p_max));
  ParameterSet params;
  cope->declare_parameters(params);
  params.allocate();
  const auto init = random_vector(params.count(), 7);
  std::copy(init.begin(), init.end(), params.values().begin());
  const double* E = params.values().data() + params.info(params.find("encoder.layers.1.E")).offset;
  const auto q = random_vector(ad.qk_size(), 8, 2.0), k = random_vector(ad.qk_size(), 9, 2.0);

  std::vector<double> z(ad.score_size());
  for (int bh = 0; bh < B * H; ++bh)
    for (int i = 0; i < T; ++i)
      for (int j = 0; j < T; ++j)
        z[(bh * T + i) * T + j] = dot(&q[(bh * T + i) * dh], &k[(bh * T + j) * dh], dh) / std::sqrt(dh);
  auto logits = z;
  cope->score_bias_forward(1, q.data(), k.data(), logits.data(), ad);

  int clamped = 0, fractional = 0;
  for (int bh = 0; bh < B * H; ++bh)
    for (int i = 0; i < T; ++i)
      for (int j = 0; j <= i; ++j) {
        double p = 0;
        for (int t = j; t <= i; ++t) p += 1 / (1 + std::exp(-z[(bh * T + i) * T + t]));
        if (p > p_max) ++clamped;
        p = std::min<double>(p, p_max);
        const double lo = std::floor(p), hi = std::ceil(p), w = p - lo;
        if (w > 0) ++fractional;
        double bias = 0;
        for (int c = 0; c < dh; ++c) {
          const double e = (1 - w) * E[c * (p_max + 1) + int(lo)] + w * E[c * (p_max + 1) + int(hi)];
          bias += q[(bh * T + i) * dh + c] * e;
        }
        EXPECT_NEAR(logits[(bh * T + i) * T + j], z[(bh * T + i) * T + j] + bias, 1e-12);
      }
  EXPECT_GT(clamped, 0) << "the test should reach the clamp";
  EXPECT_GT(fractional, 0);
}

// The generic gradcheck runs at T = 6; this one is longer, with more clamping, to exercise
// the gate path (dq, dk through p) where rows mix clamped and fractional positions.
TEST(CopeTest, GradientsAtLongerLengthWithClamping) {
  const int B = 1, H = 2, T = 10, dh = 4;
  const ModelDims dims{H * dh, H, dh, 1, true};
  const AttnDims ad{B, H, T, dh, true};
  auto cope = build("cope", dims, "p_max: 4");
  ParameterSet params;
  cope->declare_parameters(params);
  params.allocate();
  auto init = random_vector(params.count(), 10);
  std::copy(init.begin(), init.end(), params.values().begin());
  auto q = random_vector(ad.qk_size(), 11, 1.5), k = random_vector(ad.qk_size(), 12, 1.5);
  auto R = random_vector(ad.score_size(), 13);
  for (int bh = 0; bh < B * H; ++bh)
    for (int i = 0; i < T; ++i)
      for (int j = i + 1; j < T; ++j) R[(bh * T + i) * T + j] = 0;
  auto bias_only = [&] {  // L = Σ R ⊙ bias: z itself is left out, so dq, dk are the hook's
    std::vector<double> logits(ad.score_size());
    for (int bh = 0; bh < B * H; ++bh)
      for (int i = 0; i < T; ++i)
        for (int j = 0; j < T; ++j)
          logits[(bh * T + i) * T + j] = dot(&q[(bh * T + i) * dh], &k[(bh * T + j) * dh], dh) / std::sqrt(dh);
    const auto z = logits;
    cope->score_bias_forward(0, q.data(), k.data(), logits.data(), ad);
    double L = 0;
    for (std::size_t n = 0; n < logits.size(); ++n) L += R[n] * (logits[n] - z[n]);
    return L;
  };
  bias_only();
  std::vector<double> dq(ad.qk_size(), 0.0), dk(ad.qk_size(), 0.0);
  params.zero_grads();
  cope->score_bias_backward(0, q.data(), k.data(), R.data(), dq.data(), dk.data(), ad);
  testing::expect_gradient("cope dq", q.data(), q.size(), bias_only, dq.data(), 1e-6);
  testing::expect_gradient("cope dk", k.data(), k.size(), bias_only, dk.data(), 1e-6);
  testing::expect_gradient("cope dE", params.values().data(), params.count(), bias_only,
                           params.grads().data(), 1e-6);
}

TEST(CopeTest, RefusesBidirectionalModelsOnTheNameKey) {
  const std::string message = config_error("cope", ModelDims{8, 2, 4, 2, false}, "");
  EXPECT_NE(message.find("encoder.name"), std::string::npos) << message;
  EXPECT_NE(message.find("causal"), std::string::npos) << message;
  EXPECT_EQ(config_error("cope", ModelDims{8, 2, 4, 2, true}, ""), "");
}

TEST(CopeTest, DescribesOneTablePerLayerAndEncodesNothing) {
  const ModelDims dims{8, 2, 4, 3, true};
  auto cope = build("cope", dims, "p_max: 5");
  ParameterSet params;
  cope->declare_parameters(params);
  params.allocate();
  ASSERT_EQ(params.infos().size(), 3u);
  const auto arrays = cope->describe();
  ASSERT_EQ(arrays.size(), 3u);
  for (int l = 0; l < 3; ++l) {
    const std::string name = "layers." + std::to_string(l) + ".E";
    EXPECT_EQ(params.info(l).name, "encoder." + name);
    EXPECT_EQ(params.info(l).shape, (std::vector<int>{4, 6}));
    EXPECT_EQ(arrays[l].name, name);
    EXPECT_EQ(arrays[l].shape, (std::vector<std::size_t>{4, 6}));
  }
  EXPECT_TRUE(cope->encode(16).empty()) << "positions need q and k: nothing position-only";
}

}  // namespace
}  // namespace poslab
