#pragma once
// A pre-norm transformer (GPT-2 layout) with one PositionalEncoder plugged into its four
// hooks. Causal (decoder) or bidirectional (masked-LM encoder). All parameters live in one
// ParameterSet; activations are allocated once per (B, T) shape and kept for backward.
// Evaluation uses forward_inference instead: streaming attention (no [T, T] block) and one
// set of activation buffers reused layer by layer, so its memory grows only linearly in T.
//
//   x0 = tok_emb[ids] (+ encoder.embed)                                 [B, T, D]
//   per layer:  x += Wo · Attention(LN1(x))      (encoder.rotate_qk / score_bias / value_bias)
//               x += W2 · GELU(W1 · LN2(x) + b1) + b2
//   logits = LN_f(x) · headᵀ   (head = tok_emb when tied)               [B, T, V]
#include <cstdint>
#include <memory>
#include <vector>

#include "encoders/encoder.h"
#include "core/parameters.h"
#include "model/streaming_attention.h"
#include "core/real.h"  // POSLAB_REAL_NAMESPACE

namespace poslab::inline POSLAB_REAL_NAMESPACE {

struct TransformerConfig {
  int vocab_size = 16;
  int layers = 2;
  int d_model = 64;
  int heads = 4;
  int d_ff = 256;
  bool tied_embeddings = true;
  bool causal = true;
  double init_std = 0.02;
};

class Transformer {
 public:
  // The encoder is built for ModelDims(config) by the caller (see model_dims()).
  Transformer(const TransformerConfig& config, std::unique_ptr<PositionalEncoder> encoder);

  static ModelDims model_dims(const TransformerConfig& config);
  const TransformerConfig& config() const { return config_; }
  ParameterSet& params() { return params_; }
  const ParameterSet& params() const { return params_; }
  PositionalEncoder& encoder() { return *encoder_; }
  const PositionalEncoder& encoder() const { return *encoder_; }

  // Runs the model on ids [B, T]; returns logits [B, T, V] (valid until the next call).
  // `positions` [T] (shared by the batch, strictly increasing; nullptr = 0..T-1) is handed
  // to the encoder (PositionalEncoder::set_positions) and holds for the backward too.
  const Real* forward(const std::int32_t* ids, int B, int T, const int* positions = nullptr);
  // The same logits (up to rounding) for evaluation: streaming attention, nothing kept for
  // backward, O(B·T·(D + F + V)) memory. loss() works after it; backward(), hidden_state()
  // and attention() throw std::logic_error until the next forward().
  const Real* forward_inference(const std::int32_t* ids, int B, int T,
                                AttentionTiles tiles = {}, const int* positions = nullptr);
  // Mean masked cross-entropy of the last forward (either kind); fills per-position
  // correctness [B*T] and per-position losses [B*T] (0 where masked out) if asked.
  double loss(const std::int32_t* targets, const std::uint8_t* mask,
              std::vector<std::uint8_t>* correct = nullptr,
              RealBuffer* position_loss = nullptr);
  // Accumulates dLoss/dparams (for the loss above) into params().grads(). With
  // scored_tokens > 0 the loss is taken as Σ(token losses) / scored_tokens instead of the
  // mean over this batch: the share of a larger batch of that many scored tokens.
  void backward(const std::int32_t* targets, const std::uint8_t* mask, long scored_tokens = 0);

  // Cached activations of the last forward(), for probes:
  // hidden state entering layer l (l = 0..layers; l = layers is the final residual stream).
  const Real* hidden_state(int layer) const;
  // attention probabilities of layer l, [B, H, T, T].
  const Real* attention(int layer) const;

 private:
  struct LayerHandles {
    ParameterSet::Handle ln1_w, ln1_b, qkv_w, qkv_b, out_w, out_b, ln2_w, ln2_b, fc1_w, fc1_b,
        fc2_w, fc2_b;
  };
  struct LayerActs {  // what backward needs from forward, per layer
    RealBuffer x_in;               // [N, D] residual stream entering the layer
    RealBuffer ln1, ln1_mean, ln1_rstd;  // [N, D], [N], [N]
    RealBuffer q, k, v;            // [B, H, T, dh]; q, k after rotate_qk
    RealBuffer probs;              // [B, H, T, T]
    RealBuffer heads_out;          // [B, H, T, dh]
    RealBuffer att;                // [N, D] heads merged
    RealBuffer x_mid;              // [N, D] after the attention residual
    RealBuffer ln2, ln2_mean, ln2_rstd;
    RealBuffer fc1, gelu;          // [N, F]
  };

  // The inference forward's buffers, reused by every layer (nothing is kept for backward).
  struct InferenceActs {
    RealBuffer x, x_mid;         // [N, D] residual stream before / after the attention
    RealBuffer ln, mean, rstd;   // [N, D], [N], [N]
    RealBuffer qkv;              // [N, 3D]
    RealBuffer q, k, v, heads;   // [B, H, T, dh]
    RealBuffer att;              // [N, D] heads merged
    RealBuffer fc1, gelu;        // [N, F]
    RealBuffer logits;           // [N, V]
  };

  void resize(int B, int T);
  void resize_inference(int B, int T);
  void check_ids(const std::int32_t* ids, int N) const;
  void require_training_forward(const char* what) const;
  void attention_forward(int layer, LayerActs& a);
  // The MLP half of a layer, shared by both forwards:
  //   x_out = x_mid + W2 · GELU(W1 · LN2(x_mid) + b1) + b2     ln [N, D], fc1 and gelu [N, F]
  void mlp_forward(int layer, const Real* x_mid, Real* ln, Real* mean, Real* rstd, Real* fc1,
                   Real* gelu, Real* x_out, int N);
  // Writes (does not accumulate) dln1 [N, D] = dL/d(LN1 output) of the attention branch.
  void attention_backward(int layer, LayerActs& a, Real* dln1);
  AttnDims attn_dims() const;

  TransformerConfig config_;
  std::unique_ptr<PositionalEncoder> encoder_;
  ParameterSet params_;
  ParameterSet::Handle tok_emb_, lnf_w_, lnf_b_, head_ = -1;
  std::vector<LayerHandles> layer_params_;

  int B_ = 0, T_ = 0;  // shape of the training activations (acts_ and the rest)
  std::vector<LayerActs> acts_;
  int inference_B_ = 0, inference_T_ = 0;
  InferenceActs inference_;
  // The last forward of either kind: its shape and logits [B*T, V], read by loss().
  int last_B_ = 0, last_T_ = 0;
  const Real* last_logits_ = nullptr;
  bool last_was_inference_ = false;
  RealBuffer x_final_, lnf_, lnf_mean_, lnf_rstd_, logits_;
  std::vector<std::int32_t> ids_;
  // backward scratch
  RealBuffer dx_, dtmp_, dqkv_, dq_, dk_, dv_, dprobs_, dheads_, datt_, dfc_, dfc1_, dlogits_,
      qkv_;
};

}  // namespace poslab
