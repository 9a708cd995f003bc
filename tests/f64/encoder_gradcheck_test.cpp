// Finite-difference checks of every hook of every registered encoder, causal and
// bidirectional, in double precision. Generic over the registry: a new scheme is checked
// by default. Each hook is checked through the scalar L = Σ R ⊙ (hook output).
// Every scheme that declares the shared `randomized` option is also checked with a fixed
// non-trivial position array (sorted, distinct, with gaps, not starting at 0) set before
// the hooks run (the `_randomized` cases).
#include <ostream>
#include <cmath>
#include <numeric>

#include "f64/encoder_fixture.h"
#include "f64/gradcheck.h"

namespace poslab {
namespace {

using testing::expect_gradient;
using testing::random_vector;

using testing::EncoderCase;

// The positions of the randomized cases (T = 6): gaps of 1 to 11, so that clipping,
// bucketing and FIRE's threshold all see distances beyond T.
const int kPositions[6] = {1, 4, 5, 11, 19, 30};



class EncoderHookGradcheck : public ::testing::TestWithParam<EncoderCase> {
 protected:
  void SetUp() override {
    dims_ = ModelDims{8, 2, 4, 2, GetParam().causal};
    // Options chosen so that clipping/clamping/bucketing happen at T = 6.
    std::string options = options_for(GetParam().encoder, GetParam().randomized);
    if (GetParam().randomized) options += std::string(options.empty() ? "" : ", ") + "randomized: {max_position: 32}";
    encoder_ = testing::try_build_encoder(GetParam().encoder, dims_, options);
    if (!encoder_) GTEST_SKIP() << GetParam().encoder << " is not defined for this model kind";
    if (GetParam().randomized) {
      ASSERT_EQ(encoder_->randomized_max_position(), 32);
      encoder_->set_positions(kPositions, 6);
      ASSERT_FALSE(encoder_->identity_positions());
    }
    encoder_->declare_parameters(params_);
    params_.allocate();
    auto init = random_vector(params_.count(), 77, 0.5);
    std::copy(init.begin(), init.end(), params_.values().begin());
    ad_ = AttnDims{2, 2, 6, 4, GetParam().causal};
  }
  static std::string options_for(const std::string& name, bool randomized) {
    if (name == "learned" && randomized) return "max_length: 32";
    // positions up to 30: a longer decay scale keeps ζ^(±p/B) (and the finite differences'
    // conditioning) moderate, as scale_base 3 does for positions 0..5
    if (name == "xpos" && randomized) return "scale_base: 30";
    if (name == "shaw") return "clip: 2";
    if (name == "t5") return "num_buckets: 6, max_distance: 5";
    if (name == "cope") return "p_max: 2";
    if (name == "rope") return "rotary_dims: 2, interpolation: 1.5";
    if (name == "learned") return "max_length: 8";
    if (name == "kerple") return "variant: power";  // log: the whole-model gradcheck
    if (name == "fire") return "hidden: 4, L_init: 2.5";  // rows below and beyond L
    if (name == "xpos") return "scale_base: 3";
    return "";
  }
  bool allowed(int i, int j) const { return !ad_.causal || j <= i; }
  double* param_values() { return params_.values().data(); }
  double* param_grads() { return params_.grads().data(); }

  ModelDims dims_;
  std::unique_ptr<PositionalEncoder> encoder_;
  ParameterSet params_;
  AttnDims ad_;
};

TEST_P(EncoderHookGradcheck, Embed) {
  const int B = 2, T = 6, D = 8;
  auto x0 = random_vector(B * T * D, 1), R = random_vector(B * T * D, 2);
  std::vector<double> x;
  auto f = [&] {
    x = x0;
    encoder_->embed_forward(x.data(), B, T);
    return std::inner_product(x.begin(), x.end(), R.begin(), 0.0);
  };
  f();
  params_.zero_grads();
  encoder_->embed_backward(R.data(), B, T);
  expect_gradient("embed: encoder params", param_values(), params_.count(), f, param_grads());
}

TEST_P(EncoderHookGradcheck, RotateQK) {
  auto q = random_vector(ad_.qk_size(), 3), k = random_vector(ad_.qk_size(), 4);
  auto Rq = random_vector(ad_.qk_size(), 5), Rk = random_vector(ad_.qk_size(), 6);
  auto f = [&] {
    std::vector<double> qr = q, kr = k;
    encoder_->rotate_qk_forward(1, qr.data(), kr.data(), ad_);
    return std::inner_product(qr.begin(), qr.end(), Rq.begin(), 0.0) +
           std::inner_product(kr.begin(), kr.end(), Rk.begin(), 0.0);
  };
  f();
  std::vector<double> dq = Rq, dk = Rk;
  params_.zero_grads();
  encoder_->rotate_qk_backward(1, dq.data(), dk.data(), ad_);
  expect_gradient("rotate: dq", q.data(), q.size(), f, dq.data());
  expect_gradient("rotate: dk", k.data(), k.size(), f, dk.data());
  expect_gradient("rotate: encoder params", param_values(), params_.count(), f, param_grads());
}

// The model calls hooks 3 and 4 only when has_score_bias() / has_value_bias() say so: a
// scheme that implements a hook but leaves its flag false would train as a silent no-op.
TEST_P(EncoderHookGradcheck, HookFlagsMatchTheHooks) {
  auto q = random_vector(ad_.qk_size(), 3), k = random_vector(ad_.qk_size(), 4);
  if (!encoder_->has_score_bias()) {
    const auto before = random_vector(ad_.score_size(), 5);
    auto logits = before;
    encoder_->score_bias_forward(1, q.data(), k.data(), logits.data(), ad_);
    EXPECT_EQ(logits, before) << GetParam().encoder
                              << " changes the logits but has_score_bias() is false";
  }
  if (!encoder_->has_value_bias()) {
    auto probs = random_vector(ad_.score_size(), 6);
    std::vector<double> out(ad_.qk_size(), 0.0);
    encoder_->value_bias_forward(1, probs.data(), out.data(), ad_);
    EXPECT_EQ(out, std::vector<double>(ad_.qk_size(), 0.0))
        << GetParam().encoder << " adds a value bias but has_value_bias() is false";
  }
}

TEST_P(EncoderHookGradcheck, ScoreBias) {
  if (!encoder_->has_score_bias()) GTEST_SKIP() << "no score bias";
  const int T = ad_.T, dh = ad_.dh, BH = ad_.B * ad_.H;
  const double scale = 1.0 / std::sqrt(double(dh));
  auto q = random_vector(ad_.qk_size(), 7), k = random_vector(ad_.qk_size(), 8);
  auto R = random_vector(ad_.score_size(), 9);
  for (int bh = 0; bh < BH; ++bh)  // dlogits are 0 where the mask applies
    for (int i = 0; i < T; ++i)
      for (int j = 0; j < T; ++j)
        if (!allowed(i, j)) R[(bh * T + i) * T + j] = 0;
  // L = Σ R ⊙ (z + bias), z = q kᵀ / sqrt(dh)
  auto f = [&] {
    std::vector<double> logits(ad_.score_size());
    for (int bh = 0; bh < BH; ++bh)
      for (int i = 0; i < T; ++i)
        for (int j = 0; j < T; ++j) {
          double z = 0;
          for (int c = 0; c < dh; ++c) z += q[(bh * T + i) * dh + c] * k[(bh * T + j) * dh + c];
          logits[(bh * T + i) * T + j] = z * scale;
        }
    encoder_->score_bias_forward(1, q.data(), k.data(), logits.data(), ad_);
    return std::inner_product(logits.begin(), logits.end(), R.begin(), 0.0);
  };
  f();
  // The attention kernel's own share of dq, dk (through z), then the hook's.
  std::vector<double> dq(ad_.qk_size(), 0), dk(ad_.qk_size(), 0);
  for (int bh = 0; bh < BH; ++bh)
    for (int i = 0; i < T; ++i)
      for (int j = 0; j < T; ++j)
        for (int c = 0; c < dh; ++c) {
          const double r = R[(bh * T + i) * T + j] * scale;
          dq[(bh * T + i) * dh + c] += r * k[(bh * T + j) * dh + c];
          dk[(bh * T + j) * dh + c] += r * q[(bh * T + i) * dh + c];
        }
  params_.zero_grads();
  encoder_->score_bias_backward(1, q.data(), k.data(), R.data(), dq.data(), dk.data(), ad_);
  expect_gradient("score_bias: dq", q.data(), q.size(), f, dq.data(), 1e-5);
  expect_gradient("score_bias: dk", k.data(), k.size(), f, dk.data(), 1e-5);
  expect_gradient("score_bias: encoder params", param_values(), params_.count(), f, param_grads(), 1e-5);
}

TEST_P(EncoderHookGradcheck, ValueBias) {
  if (!encoder_->has_value_bias()) GTEST_SKIP() << "no value bias";
  const int T = ad_.T, BH = ad_.B * ad_.H;
  auto probs = random_vector(ad_.score_size(), 10);
  for (int bh = 0; bh < BH; ++bh)
    for (int i = 0; i < T; ++i)
      for (int j = 0; j < T; ++j) {
        double& p = probs[(bh * T + i) * T + j];
        p = allowed(i, j) ? std::abs(p) : 0.0;
      }
  auto R = random_vector(ad_.qk_size(), 11);
  auto f = [&] {
    std::vector<double> out(ad_.qk_size(), 0.0);
    encoder_->value_bias_forward(1, probs.data(), out.data(), ad_);
    return std::inner_product(out.begin(), out.end(), R.begin(), 0.0);
  };
  f();
  std::vector<double> dprobs(ad_.score_size(), 0);
  params_.zero_grads();
  encoder_->value_bias_backward(1, probs.data(), R.data(), dprobs.data(), ad_);
  expect_gradient("value_bias: dprobs", probs.data(), probs.size(), f, dprobs.data());
  expect_gradient("value_bias: encoder params", param_values(), params_.count(), f, param_grads());
}

INSTANTIATE_TEST_SUITE_P(AllEncoders, EncoderHookGradcheck, ::testing::ValuesIn(testing::every_encoder_case()),
                         [](const auto& info) { return case_name(info.param); });

}  // namespace
}  // namespace poslab
