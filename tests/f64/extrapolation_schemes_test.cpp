// Property tests of the length-generalization schemes (kerple, sandwich, fire, xpos,
// transformer_xl, rope's yarn scaling), written from the papers' formulas again rather than
// from the plugins' code. Gradients, PyTorch parity and streaming are checked by the
// generic suites; these check what the schemes are for: xPos with γ → ∞ is RoPE; the
// Kerple and Sandwich biases depend only on i - j, FIRE's only on i - j and max(L, i);
// YaRN keeps the fast pairs, interpolates the slow ones and scales the logits by
// (0.1 ln s + 1)²; and the refusals name the key.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "f64/encoder_fixture.h"
#include "f64/gradcheck.h"

namespace poslab {
namespace {

using testing::random_vector;

// Encoders built with their ConfigErrors let through (tests/f64/encoder_fixture.h).
auto* const build = &testing::build_encoder;
auto* const config_error = &testing::encoder_config_error;

// An encoder with its parameters declared and set to random values.
struct Built {
  ParameterSet params;
  std::unique_ptr<PositionalEncoder> encoder;
  Built(const std::string& name, const ModelDims& dims, const std::string& options, unsigned seed = 3) {
    encoder = build(name, dims, options);
    encoder->declare_parameters(params);
    params.allocate();
    const auto v = random_vector(params.count(), seed, 0.8);
    std::copy(v.begin(), v.end(), params.values().begin());
  }
};

// The score bias alone, [H, T, T] for batch element 0 (logits start at 0).
std::vector<double> bias_of(PositionalEncoder& e, int H, int T, int dh, bool causal) {
  const AttnDims d{1, H, T, dh, causal};
  const auto q = random_vector(d.qk_size(), 1), k = random_vector(d.qk_size(), 2);
  std::vector<double> logits(d.score_size(), 0.0);
  e.score_bias_forward(0, q.data(), k.data(), logits.data(), d);
  return logits;
}

// logits[i, j] = q_i'·k_j' for the same q at every position and the same k at every position.
std::vector<double> rotated_logits(PositionalEncoder& e, int T, int dh, unsigned seed) {
  const auto qv = random_vector(dh, seed), kv = random_vector(dh, seed + 1);
  std::vector<double> q(std::size_t(T) * dh), k(q.size());
  for (int t = 0; t < T; ++t) {
    std::copy(qv.begin(), qv.end(), q.begin() + t * dh);
    std::copy(kv.begin(), kv.end(), k.begin() + t * dh);
  }
  e.rotate_qk_forward(0, q.data(), k.data(), AttnDims{1, 1, T, dh, true});
  std::vector<double> S(std::size_t(T) * T);
  for (int i = 0; i < T; ++i)
    for (int j = 0; j < T; ++j)
      S[i * T + j] = std::inner_product(q.begin() + i * dh, q.begin() + (i + 1) * dh, k.begin() + j * dh, 0.0);
  return S;
}

// ---- xPos ------------------------------------------------------------------------------

TEST(Xpos, LargeGammaIsRope) {
  const ModelDims dims{16, 2, 8, 1, true};
  auto xpos = build("xpos", dims, "gamma: 1.0e12, scale_base: 2, base: 100");
  auto rope = build("rope", dims, "base: 100");
  const AttnDims d{1, 2, 9, 8, true};
  auto q1 = random_vector(d.qk_size(), 4), k1 = random_vector(d.qk_size(), 5);
  auto q2 = q1, k2 = k1;
  xpos->rotate_qk_forward(0, q1.data(), k1.data(), d);
  rope->rotate_qk_forward(0, q2.data(), k2.data(), d);
  for (std::size_t i = 0; i < q1.size(); ++i) {
    ASSERT_NEAR(q1[i], q2[i], 1e-10) << "q " << i;
    ASSERT_NEAR(k1[i], k2[i], 1e-10) << "k " << i;
  }
}

TEST(Xpos, LogitsDependOnlyOnDistanceAndDecay) {
  auto xpos = build("xpos", ModelDims{8, 1, 8, 1, true}, "gamma: 0.4, scale_base: 3");
  const int T = 10, dh = 8;
  const auto S = rotated_logits(*xpos, T, dh, 7);
  for (int i = 0; i + 1 < T; ++i)
    for (int j = 0; j + 1 < T; ++j) EXPECT_NEAR(S[i * T + j], S[(i + 1) * T + j + 1], 1e-12);
  // Written out: Σ_m ζ_m^((i-j)/B) (pair m's RoPE term); at i = j the plain dot product.
  const auto qv = random_vector(dh, 7), kv = random_vector(dh, 8);
  const int i = 6, j = 1;
  double want = 0;
  for (int m = 0; m < dh / 2; ++m) {
    const double zeta = (2.0 * m / dh + 0.4) / 1.4, phi = (j - i) * std::pow(10000.0, -2.0 * m / dh);
    // q_iᵀ R(φ_j - φ_i) k_j for the pair
    const double rot0 = std::cos(phi) * kv[2 * m] - std::sin(phi) * kv[2 * m + 1];
    const double rot1 = std::sin(phi) * kv[2 * m] + std::cos(phi) * kv[2 * m + 1];
    want += std::pow(zeta, (i - j) / 3.0) * (qv[2 * m] * rot0 + qv[2 * m + 1] * rot1);
  }
  EXPECT_NEAR(S[i * T + j], want, 1e-12);
}

TEST(Xpos, RefusesBidirectionalAndLengthsBeyondFloatRange) {
  const std::string msg = config_error("xpos", ModelDims{8, 1, 8, 1, false}, "");
  EXPECT_NE(msg.find("encoder.name"), std::string::npos) << msg;
  EXPECT_NE(msg.find("causal only"), std::string::npos) << msg;
  auto xpos = build("xpos", ModelDims{8, 1, 8, 1, true}, "scale_base: 64");
  EXPECT_NO_THROW(xpos->check_length(4096));
  try {
    xpos->check_length(20000);
    ADD_FAILURE() << "length 20000 at scale_base 64 accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("scale_base"), std::string::npos) << e.what();
  }
}

// ---- Kerple, Sandwich: the bias is a function of i - j ---------------------------------

void expect_function_of_offset(const std::vector<double>& bias, int H, int T, bool causal,
                               const std::string& what) {
  for (int h = 0; h < H; ++h)
    for (int i = 0; i + 1 < T; ++i)
      for (int j = 0; j + 1 < T; ++j) {
        if (causal && j > i) continue;
        EXPECT_EQ(bias[(h * T + i) * T + j], bias[(h * T + i + 1) * T + j + 1])
            << what << " h " << h << " (" << i << ", " << j << ")";
      }
}

TEST(Kerple, BiasIsTheKernelOfTheDistance) {
  for (const std::string variant : {"log", "power"})
    for (bool causal : {true, false}) {
      Built b("kerple", ModelDims{8, 2, 4, 1, causal}, "variant: " + variant);
      const int T = 7;
      const auto bias = bias_of(*b.encoder, 2, T, 4, causal);
      expect_function_of_offset(bias, 2, T, causal, "kerple " + variant);
      const double* rho1 = b.params.values().data();
      const double* rho2 = rho1 + 2;
      for (int h = 0; h < 2; ++h) {
        const double r1 = std::log(1 + std::exp(rho1[h]));
        const double r2 = variant == "power" ? 2 / (1 + std::exp(-rho2[h])) : std::log(1 + std::exp(rho2[h]));
        for (int dist = 0; dist < T; ++dist) {
          const double want = variant == "power" ? -r1 * std::pow(dist, r2) : -r1 * std::log(1 + r2 * dist);
          EXPECT_NEAR(bias[(h * T + dist) * T + 0], want, 1e-12) << variant << " distance " << dist;
          if (!causal) {
            EXPECT_EQ(bias[(h * T + 0) * T + dist], bias[(h * T + dist) * T + 0]);
          }
        }
        if (variant == "power") {
          EXPECT_LT(r2, 2.0);
        }
      }
    }
}

TEST(Sandwich, BiasIsTheSinusoidDotProductOfTheDistance) {
  for (bool causal : {true, false}) {
    Built b("sandwich", ModelDims{16, 4, 4, 1, causal}, "dim: 8");
    const int T = 12, H = 4;
    const auto bias = bias_of(*b.encoder, H, T, 4, causal);
    expect_function_of_offset(bias, H, T, causal, "sandwich");
    for (int h = 0; h < H; ++h)
      for (int dist = 0; dist < T; ++dist) {
        // p_{i/r}·p_{j/r} - d/2 with the d = 8 sinusoid written out as sin·sin + cos·cos
        const double ratio = 8.0 * (h + 1) / H, i = dist / ratio, j = 0;
        double dotp = 0;
        for (int m = 0; m < 4; ++m) {
          const double f = std::pow(10000.0, -2.0 * m / 8);
          dotp += std::sin(i * f) * std::sin(j * f) + std::cos(i * f) * std::cos(j * f);
        }
        const double got = bias[(h * T + dist) * T + 0];
        EXPECT_NEAR(got, dotp - 4, 1e-12) << "h " << h << " distance " << dist;
        if (dist > 0) {
          EXPECT_LT(got, 0.0);
        } else {
          EXPECT_EQ(got, 0.0);
        }
      }
    // Higher heads are compressed more: flatter near the diagonal.
    EXPECT_LT(bias[(0 * T + 3) * T + 0], bias[(3 * T + 3) * T + 0]);
  }
}

// ---- FIRE: a function of i - j and max(L, i) -------------------------------------------

TEST(Fire, BiasDependsOnlyOnDistanceAndNormaliser) {
  for (bool causal : {true, false}) {
    Built b("fire", ModelDims{8, 2, 4, 1, causal}, "hidden: 6, L_init: 4.5, c_init: 0.9");
    const int T = 11, H = 2;
    // log_c and log_L are the last two parameters of layer 0; set them to 0 (c = 0.9, L = 4.5).
    const int lc = b.params.find("encoder.layers.0.log_c"), lL = b.params.find("encoder.layers.0.log_L");
    b.params.value(lc)[0] = 0;
    b.params.value(lL)[0] = 0;
    const auto bias = bias_of(*b.encoder, H, T, 4, causal);
    auto at = [&](int h, int i, int j) { return bias[(h * T + i) * T + j]; };
    for (int h = 0; h < H; ++h) {
      // Queries below L share the normaliser ψ(L): equal distance, equal bias.
      for (int i = 1; i <= 4; ++i)
        for (int r = 0; r <= i - 1; ++r) EXPECT_EQ(at(h, i, i - r), at(h, i - 1, i - 1 - r)) << i << " " << r;
      // Beyond L each query has its own normaliser: the same distance reads a different input.
      int differ = 0;
      for (int i = 6; i < T; ++i) differ += at(h, i, i - 3) != at(h, i - 1, i - 4);
      EXPECT_GT(differ, 0);
      // Written out: f(log(c r + 1)/log(c max(L, i) + 1)) with f the MLP.
      const double* w1 = b.params.value(b.params.find("encoder.layers.0.fc1.weight"));
      const double* b1 = b.params.value(b.params.find("encoder.layers.0.fc1.bias"));
      const double* w2 = b.params.value(b.params.find("encoder.layers.0.fc2.weight"));
      for (int i : {2, 4, 5, 9})
        for (int j : {0, 1, i}) {
          const double x = std::log(0.9 * std::abs(i - j) + 1) / std::log(0.9 * std::max(4.5, double(i)) + 1);
          double f = 0;
          for (int k = 0; k < 6; ++k) f += w2[h * 6 + k] * std::max(0.0, w1[k] * x + b1[k]);
          EXPECT_NEAR(at(h, i, j), f, 1e-12) << "h " << h << " (" << i << ", " << j << ")";
        }
    }
  }
}

// ---- Transformer-XL --------------------------------------------------------------------

TEST(TransformerXl, BiasIsTheRelativeTermsOfThePaper) {
  const int D = 8, H = 2, dh = 4, T = 6;
  for (bool causal : {true, false}) {
    Built b("transformer_xl", ModelDims{D, H, dh, 1, causal}, "base: 50");
    const AttnDims d{1, H, T, dh, causal};
    const auto q = random_vector(d.qk_size(), 1), k = random_vector(d.qk_size(), 2);
    std::vector<double> logits(d.score_size(), 0.0);
    b.encoder->score_bias_forward(0, q.data(), k.data(), logits.data(), d);
    const double* W = b.params.value(b.params.find("encoder.layers.0.W_R"));
    const double* u = b.params.value(b.params.find("encoder.layers.0.u"));
    const double* v = b.params.value(b.params.find("encoder.layers.0.v"));
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < T; ++i)
        for (int j = 0; j < (causal ? i + 1 : T); ++j) {
          std::vector<double> R(D), WR(D, 0.0);
          for (int c = 0; c < D; ++c) {
            const double a = (i - j) / std::pow(50.0, 2.0 * (c / 2) / D);
            R[c] = c % 2 == 0 ? std::sin(a) : std::cos(a);
          }
          for (int r = 0; r < D; ++r)
            for (int c = 0; c < D; ++c) WR[r] += W[r * D + c] * R[c];
          double want = 0;
          for (int e = 0; e < dh; ++e)
            want += q[(h * T + i) * dh + e] * WR[h * dh + e] + u[h * dh + e] * k[(h * T + j) * dh + e] +
                    v[h * dh + e] * WR[h * dh + e];
          EXPECT_NEAR(logits[(h * T + i) * T + j], want / 2.0, 1e-12) << h << " " << i << " " << j;
        }
  }
}

// ---- RoPE yarn -------------------------------------------------------------------------

TEST(RopeYarn, FactorOneIsPlainRope) {
  const ModelDims dims{8, 1, 8, 1, true};
  auto yarn = build("rope", dims, "scaling: yarn, factor: 1, original_length: 32");
  auto rope = build("rope", dims, "");
  EXPECT_EQ(rotated_logits(*yarn, 9, 8, 3), rotated_logits(*rope, 9, 8, 3));
}

TEST(RopeYarn, FastPairsKeptSlowPairsInterpolatedTemperatureApplied) {
  // dh 8, base 100: θ = 1, 0.316, 0.1, 0.0316; over original_length 64 the pairs turn
  // 10.2, 3.2, 1.02, 0.32 times. alpha 1, beta 8: pair 0 kept, pair 3 divided by s = 4,
  // pairs 1 and 2 blended.
  const ModelDims dims{8, 1, 8, 1, true};
  auto yarn = build("rope", dims, "base: 100, scaling: yarn, factor: 4, original_length: 64, alpha: 1, beta: 8");
  auto enc = yarn->encode(3);
  const auto& theta = enc[1].data;
  ASSERT_EQ(enc[1].name, "theta");
  EXPECT_DOUBLE_EQ(theta[0], 1.0);
  EXPECT_NEAR(theta[3], std::pow(100.0, -0.75) / 4, 1e-15);
  const double turns1 = 64 * std::pow(100.0, -0.25) / (2 * M_PI), g1 = (turns1 - 1) / 7;
  EXPECT_NEAR(theta[1], (1 - g1) * std::pow(100.0, -0.25) / 4 + g1 * std::pow(100.0, -0.25), 1e-15);
  // Temperature: at distance 0 the logit is (0.1 ln 4 + 1)² q·k.
  const auto S = rotated_logits(*yarn, 4, 8, 11);
  const auto qv = random_vector(8, 11), kv = random_vector(8, 12);
  const double m = 0.1 * std::log(4.0) + 1;
  EXPECT_NEAR(S[2 * 4 + 2], m * m * std::inner_product(qv.begin(), qv.end(), kv.begin(), 0.0), 1e-12);
}

TEST(RopeYarn, ErrorsNameTheKey) {
  const ModelDims dims{8, 1, 8, 1, true};
  std::string msg = config_error("rope", dims, "factor: 4");
  EXPECT_NE(msg.find("encoder.factor"), std::string::npos) << msg;
  msg = config_error("rope", dims, "scaling: yarn, factor: 4, interpolation: 2");
  EXPECT_NE(msg.find("encoder.interpolation"), std::string::npos) << msg;
  msg = config_error("rope", dims, "scaling: yarn, factor: 4, alpha: 8, beta: 2");
  EXPECT_NE(msg.find("encoder.beta"), std::string::npos) << msg;
  msg = config_error("rope", dims, "scaling: stretch");
  EXPECT_NE(msg.find("encoder.scaling"), std::string::npos) << msg;
  msg = config_error("kerple", dims, "variant: square");
  EXPECT_NE(msg.find("encoder.variant"), std::string::npos) << msg;
  msg = config_error("sandwich", dims, "dim: 7");
  EXPECT_NE(msg.find("encoder.dim"), std::string::npos) << msg;
}

}  // namespace
}  // namespace poslab
