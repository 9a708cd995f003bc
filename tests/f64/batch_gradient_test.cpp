// Gradient accumulation in double precision: the blocks of a batch, each backward divided
// by the whole batch's scored tokens (Transformer::backward's scored_tokens), sum to the
// whole batch's gradient, and their losses to its loss, for both model kinds and for
// blocks with different numbers of scored tokens (train/batch_gradient.h).
#include <cmath>

#include "dist/communicator.h"
#include "f64/gradcheck.h"
#include "f64/tiny_model.h"
#include "model/transformer.h"
#include "train/batch_gradient.h"

namespace poslab {
namespace {

using testing::random_vector;

Batch make_batch(int B, int T, int vocab) {
  Batch b;
  b.batch_size = B;
  b.seq_len = T;
  Rng rng(17);
  for (int i = 0; i < B * T; ++i) {
    b.inputs.push_back(rng.uniform_int(1, vocab - 1));
    b.targets.push_back(rng.uniform_int(1, vocab - 1));
    // Uneven masks: some sequences score many tokens, some few, one none at all.
    const int row = i / T;
    b.loss_mask.push_back(row == 3 ? 0 : std::uint8_t(rng.uniform_int(0, row % 3 == 0 ? 1 : 3) > 0));
  }
  return b;
}

class BatchGradientF64 : public ::testing::TestWithParam<bool> {};

TEST_P(BatchGradientF64, BlocksSumToTheWholeBatch) {
  const TransformerConfig c = testing::tiny_config(GetParam());
  const auto built = testing::build_model(c, "learned", "max_length: 8");
  Transformer& model = *built;
  testing::randomize_parameters(model, 5, 0.3, false);
  const Batch batch = make_batch(8, 6, c.vocab_size);

  dist::SingleProcess one;
  BatchGradientComputer whole_batch(one, 1);
  const double whole_loss = whole_batch.compute(model, batch).loss;
  const std::vector<Real> whole(model.params().grads().begin(), model.params().grads().end());
  double norm = 0;
  for (Real g : whole) norm += g * g;
  ASSERT_GT(norm, 0);

  for (int micro : {2, 4, 8}) {
    BatchGradientComputer blocks(one, micro);
    const double loss = blocks.compute(model, batch).loss;
    EXPECT_NEAR(loss, whole_loss, 1e-12 * whole_loss) << micro;
    double diff = 0;
    for (std::size_t i = 0; i < whole.size(); ++i) {
      const double d = model.params().grads()[i] - whole[i];
      diff += d * d;
    }
    EXPECT_LE(std::sqrt(diff / norm), 1e-12) << "micro_batches " << micro;
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, BatchGradientF64, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "causal" : "bidirectional"; });

TEST(BatchGradientF64Setup, RefusesABatchItCannotCutEvenly) {
  TransformerConfig c;
  Transformer model(c, testing::try_build_encoder("none", Transformer::model_dims(c), ""));
  dist::SingleProcess one;
  BatchGradientComputer three(one, 3);
  EXPECT_THROW(three.compute(model, make_batch(8, 4, c.vocab_size)), std::invalid_argument);
}

}  // namespace
}  // namespace poslab
