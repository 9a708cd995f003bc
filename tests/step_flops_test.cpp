// The one FLOP formula (model/step_flops.h), against counts worked out by hand.
#include <gtest/gtest.h>

#include "model/step_flops.h"

namespace poslab {
namespace {

TEST(StepFlops, ReferenceConfigurationByHand) {
  // B 32, T 128, D 128, 4 layers, F 512, V 64: N = 4096;
  // linear = 2·4096·(4·(4·128² + 2·128·512) + 128·64) = 6 509 559 808;
  // attention = 4·32·4·128²·128 = 1 073 741 824; step = 3·(sum) = 22 749 904 896.
  TransformerConfig mc;
  mc.vocab_size = 64;
  mc.layers = 4;
  mc.d_model = 128;
  mc.heads = 4;
  mc.d_ff = 512;
  EXPECT_EQ(training_step_flops(mc, 32, 128), 22749904896.0);
  // Heads do not change the count (H·d_h = D), the sequence length enters squared in
  // attention only: B 1, T 2, D 1, L 1, F 1, V 1: linear 2·2·(4 + 2 + 1) = 28,
  // attention 1·1·4·4·1 = 16, step 3·44 = 132.
  TransformerConfig tiny;
  tiny.vocab_size = 1;
  tiny.layers = 1;
  tiny.d_model = 1;
  tiny.heads = 1;
  tiny.d_ff = 1;
  EXPECT_EQ(training_step_flops(tiny, 1, 2), 132.0);
  mc.heads = 8;
  EXPECT_EQ(training_step_flops(mc, 32, 128), 22749904896.0);
}

}  // namespace
}  // namespace poslab
