#pragma once
// PositionalEncoder: the one interface through which a positional scheme touches the model.
// There are exactly four places where position can enter (DESIGN.md, "Plugins"):
//   1. embed       x[b,t,:] += P[t,:]                      (sinusoidal, learned)
//   2. rotate_qk   q, k transformed by position             (rope)
//   3. score_bias  logits[b,h,i,j] += f(i, j, q, k)         (t5, alibi, shaw keys, cope)
//   4. value_bias  out[b,h,i,:] += Σ_j α[b,h,i,j] g(i, j)   (shaw values)
// Each hook has a forward and a hand-written backward. A scheme overrides only what it
// uses; the defaults are no-ops. Backward hooks ACCUMULATE (+=) into the gradients they
// are given and into their own parameters' gradients (ParameterSet::grad).
//
// Shapes (all row-major, flat):
//   x, dx            [B, T, D]
//   q, k, dq, dk     [B, H, T, dh]        (heads split, contiguous per (b, h))
//   logits, dlogits  [B, H, T, T]         (query i = row, key j = column)
//   probs            [B, H, T, T]         (softmax output α; 0 above the diagonal if causal)
//   out, dout        [B, H, T, dh]        (α·V per head, before heads are merged)
// Positions are 0..T-1 for every example.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/named_array.h"
#include "core/real.h"
#include "core/registry.h"
#include "model/parameters.h"

namespace poslab {

// What an encoder needs to know about the model it lives in.
struct ModelDims {
  int d_model = 64;
  int heads = 4;
  int d_head = 16;
  int layers = 2;
  bool causal = true;
};

struct AttnDims {
  int B = 0, H = 0, T = 0, dh = 0;
  bool causal = true;
  std::size_t qk_size() const { return std::size_t(B) * H * T * dh; }
  std::size_t score_size() const { return std::size_t(B) * H * T * T; }
};

class PositionalEncoder {
 public:
  virtual ~PositionalEncoder() = default;

  // Declares learned tensors (names prefixed "encoder.") in the model's parameter set.
  // Called once before the set is allocated; keep the handles and the pointer.
  virtual void declare_parameters(ParameterSet& /*params*/) {}

  // Throws ConfigError (naming the option's key) if sequences of length T are not
  // supported, e.g. learned positions beyond max_length. Called before training starts.
  virtual void check_length(int /*T*/) const {}

  // 1. embed
  virtual void embed_forward(Real* /*x*/, int /*B*/, int /*T*/) {}
  virtual void embed_backward(const Real* /*dx*/, int /*B*/, int /*T*/) {}

  // 2. rotate_qk: forward rotates q and k in place. Backward maps gradients with respect
  // to the rotated q, k (in place) to gradients with respect to the unrotated ones.
  virtual void rotate_qk_forward(int /*layer*/, Real* /*q*/, Real* /*k*/, const AttnDims&) {}
  virtual void rotate_qk_backward(int /*layer*/, Real* /*dq*/, Real* /*dk*/, const AttnDims&) {}

  // 3. score_bias: on entry `logits` holds z = q·k / sqrt(dh) (no mask yet); add the bias.
  // q and k are the (rotated) queries and keys. Backward gets dL/dlogits and accumulates
  // into dq, dk and the encoder's parameter gradients. Masked entries (j > i when causal)
  // are overwritten with -inf after this hook, and their dlogits are 0.
  virtual bool has_score_bias() const { return false; }
  virtual void score_bias_forward(int /*layer*/, const Real* /*q*/, const Real* /*k*/,
                                  Real* /*logits*/, const AttnDims&) {}
  virtual void score_bias_backward(int /*layer*/, const Real* /*q*/, const Real* /*k*/,
                                   const Real* /*dlogits*/, Real* /*dq*/, Real* /*dk*/,
                                   const AttnDims&) {}

  // 4. value_bias: out += Σ_j probs_ij g(i, j). Backward accumulates into dprobs and the
  // encoder's parameter gradients.
  virtual bool has_value_bias() const { return false; }
  virtual void value_bias_forward(int /*layer*/, const Real* /*probs*/, Real* /*out*/,
                                  const AttnDims&) {}
  virtual void value_bias_backward(int /*layer*/, const Real* /*probs*/, const Real* /*dout*/,
                                   Real* /*dprobs*/, const AttnDims&) {}

  // The [length, d_model] vectors a probe reads, for schemes that have them.
  virtual std::optional<Eigen::MatrixXd> position_matrix(int /*length*/) const {
    return std::nullopt;
  }
  // What `poslab encode` writes for a length (default: the position matrix, if any).
  virtual std::vector<NamedArray> encode(int length) const;
  // The scheme's parameters or fixed quantities for the results file (/encoder/).
  virtual std::vector<NamedArray> describe() const { return {}; }
};

using EncoderRegistry = Registry<PositionalEncoder, const ModelDims&>;

#define POSLAB_REGISTER_ENCODER(ClassName, Name, Summary, OptionList)                  \
  static const ::poslab::Registrar<::poslab::EncoderRegistry> registrar_##ClassName{     \
      {Name, Summary, OptionList,                                                        \
       [](const ::poslab::Options& o, const ::poslab::ModelDims& d)                      \
           -> std::unique_ptr<::poslab::PositionalEncoder> {                             \
         return std::make_unique<ClassName>(o, d);                                       \
       }}};

}  // namespace poslab
