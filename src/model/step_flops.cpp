#include "model/step_flops.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {

double training_step_flops(const TransformerConfig& model, long batch, long seq_len) {
  const double B = double(batch), T = double(seq_len), N = B * T;
  const double D = model.d_model, F = model.d_ff, V = model.vocab_size, L = model.layers;
  const double linear = 2 * N * (L * (4 * D * D + 2 * D * F) + D * V);
  const double attention = L * B * 4 * T * T * D;  // H·d_h = D
  return 3 * (linear + attention);
}

}  // namespace poslab
