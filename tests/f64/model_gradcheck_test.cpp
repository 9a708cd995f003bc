// Finite-difference check of the whole model's loss with respect to every parameter
// tensor, for every registered encoder and both model kinds (double precision), and for
// every scheme that declares `randomized` also with a fixed non-trivial position array.
#include <cmath>
#include <ostream>
#include "f64/gradcheck.h"
#include "f64/tiny_model.h"
#include "model/transformer.h"

namespace poslab {
namespace {

using testing::expect_gradient;
using testing::random_vector;

using testing::EncoderCase;

class ModelGradcheck : public ::testing::TestWithParam<EncoderCase> {};

TEST_P(ModelGradcheck, LossWithRespectToEveryParameter) {
  // Causal cases tie the head, bidirectional ones do not: both head variants are covered.
  const TransformerConfig c = testing::tiny_config(GetParam().causal, GetParam().causal);
  const bool randomized = GetParam().randomized;
  std::string options = GetParam().encoder == "learned" ? (randomized ? "max_length: 24" : "max_length: 6") : "";
  if (randomized) options += std::string(options.empty() ? "" : ", ") + "randomized: {max_position: 24}";
  const auto built = testing::build_model(c, GetParam().encoder, options);
  if (!built) GTEST_SKIP() << "not defined for this model kind";
  Transformer& model = *built;
  testing::randomize_parameters(model, 21, 0.4);

  const int B = 2, T = 5;
  std::vector<std::int32_t> ids = {1, 4, 2, 6, 0, 3, 3, 5, 1, 2};
  std::vector<std::int32_t> targets = {4, 2, 6, 0, 1, 3, 5, 1, 2, 6};
  std::vector<std::uint8_t> mask = {1, 1, 0, 1, 1, 0, 1, 1, 1, 0};
  const int positions[T] = {2, 3, 7, 12, 21};  // the randomized cases' fixed positions
  auto f = [&] {
    model.forward(ids.data(), B, T, randomized ? positions : nullptr);
    return model.loss(targets.data(), mask.data());
  };
  f();
  model.params().zero_grads();
  model.backward(targets.data(), mask.data());
  const auto analytic = model.params().grads();
  // Every tensor must be reached: a scheme whose hook never runs (e.g. a flag such as
  // has_score_bias() left false) has zero analytic AND zero numerical gradient, which the
  // finite-difference comparison alone would accept.
  for (const auto& info : model.params().infos()) {
    double magnitude = 0;
    for (std::size_t i = 0; i < info.size; ++i) magnitude += std::abs(analytic[info.offset + i]);
    EXPECT_GT(magnitude, 0.0) << info.name << " receives no gradient";
  }
  for (const auto& info : model.params().infos())
    expect_gradient(info.name, model.params().values().data() + info.offset, info.size, f,
                    analytic.data() + info.offset, 1e-5, 1e-8);
}


INSTANTIATE_TEST_SUITE_P(AllEncoders, ModelGradcheck, ::testing::ValuesIn(testing::every_encoder_case()),
                         [](const auto& info) { return case_name(info.param); });

}  // namespace
}  // namespace poslab
