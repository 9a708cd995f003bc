#include "model/transformer.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/kernels/kernels.h"
#include "model/attention_products.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {

using namespace kernels;

namespace {

// Copies the q, k and v thirds of qkv [B*T, 3D] into head-split buffers [B, H, T, dh].
// Pure copies: any schedule gives the same result; dynamic lets a free core take more.
// Per token: reads its qkv row once (3D contiguous) and writes 3H runs of dh.
void split_heads(const Real* qkv, Real* q, Real* k, Real* v, int B, int T, int H, int dh) {
  const int D = H * dh;
#pragma omp parallel for schedule(dynamic, 64)
  for (long n = 0; n < long(B) * T; ++n) {
    const long b = n / T, t = n % T;
    const Real* row = qkv + std::size_t(n) * 3 * D;
    for (int h = 0; h < H; ++h) {
      const std::size_t o = ((std::size_t(b) * H + h) * T + t) * dh;
      std::copy_n(row + h * dh, dh, q + o);
      std::copy_n(row + D + h * dh, dh, k + o);
      std::copy_n(row + 2 * D + h * dh, dh, v + o);
    }
  }
}

// [B, H, T, dh] -> [B*T, D] (columns h*dh .. h*dh+dh-1), written into `out` with row
// stride `stride` and column offset already applied by the caller.
void merge_heads(const Real* heads, Real* out, int stride, int B, int T, int H, int dh) {
#pragma omp parallel for schedule(dynamic, 64)
  for (long n = 0; n < long(B) * T; ++n) {
    const long b = n / T, t = n % T;
    Real* dst = out + std::size_t(n) * stride;
    for (int h = 0; h < H; ++h)
      std::copy_n(heads + ((std::size_t(b) * H + h) * T + t) * dh, dh, dst + h * dh);
  }
}

}  // namespace

ModelDims Transformer::model_dims(const TransformerConfig& c) {
  return ModelDims{c.d_model, c.heads, c.d_model / c.heads, c.layers, c.causal};
}

Transformer::Transformer(const TransformerConfig& config,
                         std::unique_ptr<PositionalEncoder> encoder)
    : config_(config), encoder_(std::move(encoder)) {
  if (config.d_model % config.heads != 0)
    throw std::invalid_argument("d_model must be divisible by heads");
  const int D = config.d_model, F = config.d_ff, V = config.vocab_size;
  const double std = config.init_std;
  // GPT-2's scaled init of the residual projections keeps the residual stream's variance
  // from growing with depth.
  const double resid_std = std / std::sqrt(2.0 * config.layers);
  tok_emb_ = params_.declare("tok_emb.weight", {V, D}, Init::Normal, std, false);
  for (int l = 0; l < config.layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    LayerHandles h;
    h.ln1_w = params_.declare(p + "ln1.weight", {D}, Init::Ones, 0, false);
    h.ln1_b = params_.declare(p + "ln1.bias", {D}, Init::Zeros, 0, false);
    h.qkv_w = params_.declare(p + "attn.qkv.weight", {3 * D, D}, Init::Normal, std, true);
    h.qkv_b = params_.declare(p + "attn.qkv.bias", {3 * D}, Init::Zeros, 0, false);
    h.out_w = params_.declare(p + "attn.out.weight", {D, D}, Init::Normal, resid_std, true);
    h.out_b = params_.declare(p + "attn.out.bias", {D}, Init::Zeros, 0, false);
    h.ln2_w = params_.declare(p + "ln2.weight", {D}, Init::Ones, 0, false);
    h.ln2_b = params_.declare(p + "ln2.bias", {D}, Init::Zeros, 0, false);
    h.fc1_w = params_.declare(p + "mlp.fc1.weight", {F, D}, Init::Normal, std, true);
    h.fc1_b = params_.declare(p + "mlp.fc1.bias", {F}, Init::Zeros, 0, false);
    h.fc2_w = params_.declare(p + "mlp.fc2.weight", {D, F}, Init::Normal, resid_std, true);
    h.fc2_b = params_.declare(p + "mlp.fc2.bias", {D}, Init::Zeros, 0, false);
    layer_params_.push_back(h);
  }
  lnf_w_ = params_.declare("ln_f.weight", {D}, Init::Ones, 0, false);
  lnf_b_ = params_.declare("ln_f.bias", {D}, Init::Zeros, 0, false);
  if (!config.tied_embeddings)
    head_ = params_.declare("head.weight", {V, D}, Init::Normal, std, true);
  encoder_->declare_parameters(params_);
  params_.allocate();
}

AttnDims Transformer::attn_dims() const {
  return AttnDims{B_, config_.heads, T_, config_.d_model / config_.heads, config_.causal};
}

void Transformer::resize(int B, int T) {
  if (B == B_ && T == T_) return;
  B_ = B;
  T_ = T;
  const std::size_t N = std::size_t(B) * T, D = config_.d_model, F = config_.d_ff,
                    V = config_.vocab_size, H = config_.heads;
  acts_.resize(config_.layers);
  for (auto& a : acts_) {
    a.x_in.assign(N * D, 0);
    a.ln1.assign(N * D, 0);
    a.ln1_mean.assign(N, 0);
    a.ln1_rstd.assign(N, 0);
    a.q.assign(N * D, 0);
    a.k.assign(N * D, 0);
    a.v.assign(N * D, 0);
    a.probs.assign(std::size_t(B) * H * T * T, 0);
    a.heads_out.assign(N * D, 0);
    a.att.assign(N * D, 0);
    a.x_mid.assign(N * D, 0);
    a.ln2.assign(N * D, 0);
    a.ln2_mean.assign(N, 0);
    a.ln2_rstd.assign(N, 0);
    a.fc1.assign(N * F, 0);
    a.gelu.assign(N * F, 0);
  }
  x_final_.assign(N * D, 0);
  lnf_.assign(N * D, 0);
  lnf_mean_.assign(N, 0);
  lnf_rstd_.assign(N, 0);
  logits_.assign(N * V, 0);
  qkv_.assign(N * 3 * D, 0);
  dx_.assign(N * D, 0);
  dtmp_.assign(N * D, 0);
  dqkv_.assign(N * 3 * D, 0);
  dq_.assign(N * D, 0);
  dk_.assign(N * D, 0);
  dv_.assign(N * D, 0);
  dprobs_.assign(std::size_t(B) * H * T * T, 0);
  dheads_.assign(N * D, 0);
  datt_.assign(N * D, 0);
  dfc_.assign(N * F, 0);
  dfc1_.assign(N * F, 0);
  dlogits_.assign(N * V, 0);
}

void Transformer::check_ids(const std::int32_t* ids, int N) const {
  for (int n = 0; n < N; ++n)
    if (ids[n] < 0 || ids[n] >= config_.vocab_size)
      throw std::out_of_range("token id " + std::to_string(ids[n]) + " outside vocabulary");
}

const Real* Transformer::forward(const std::int32_t* ids, int B, int T, const int* positions) {
  encoder_->set_positions(positions, T);
  resize(B, T);
  const int N = B * T, D = config_.d_model, V = config_.vocab_size;
  ids_.assign(ids, ids + N);
  check_ids(ids, N);
  last_B_ = B;
  last_T_ = T;
  last_logits_ = logits_.data();
  last_was_inference_ = false;

  Real* x = config_.layers > 0 ? acts_[0].x_in.data() : x_final_.data();
  embedding_forward(x, ids, params_.value(tok_emb_), N, D);
  encoder_->embed_forward(x, B, T);

  for (int l = 0; l < config_.layers; ++l) {
    LayerActs& a = acts_[l];
    const LayerHandles& p = layer_params_[l];
    layernorm_forward(a.ln1.data(), a.ln1_mean.data(), a.ln1_rstd.data(), a.x_in.data(),
                      params_.value(p.ln1_w), params_.value(p.ln1_b), N, D);
    attention_forward(l, a);
    // x_mid = x_in + att · Woᵀ + bo
    linear_forward(a.x_mid.data(), a.att.data(), params_.value(p.out_w), params_.value(p.out_b),
                   N, D, D, a.x_in.data());
    Real* x_out = (l + 1 < config_.layers) ? acts_[l + 1].x_in.data() : x_final_.data();
    mlp_forward(l, a.x_mid.data(), a.ln2.data(), a.ln2_mean.data(), a.ln2_rstd.data(),
                a.fc1.data(), a.gelu.data(), x_out, N);
  }
  layernorm_forward(lnf_.data(), lnf_mean_.data(), lnf_rstd_.data(), x_final_.data(),
                    params_.value(lnf_w_), params_.value(lnf_b_), N, D);
  const Real* head = params_.value(head_ >= 0 ? head_ : tok_emb_);
  linear_forward(logits_.data(), lnf_.data(), head, nullptr, N, D, V);
  return logits_.data();
}

void Transformer::mlp_forward(int layer, const Real* x_mid, Real* ln, Real* mean, Real* rstd,
                              Real* fc1, Real* gelu, Real* x_out, int N) {
  const LayerHandles& p = layer_params_[layer];
  const int D = config_.d_model, F = config_.d_ff;
  layernorm_forward(ln, mean, rstd, x_mid, params_.value(p.ln2_w), params_.value(p.ln2_b), N, D);
  linear_forward(fc1, ln, params_.value(p.fc1_w), params_.value(p.fc1_b), N, D, F);
  gelu_forward(gelu, fc1, std::size_t(N) * F);
  linear_forward(x_out, gelu, params_.value(p.fc2_w), params_.value(p.fc2_b), N, F, D, x_mid);
}

void Transformer::attention_forward(int layer, LayerActs& a) {
  const LayerHandles& p = layer_params_[layer];
  const AttnDims d = attn_dims();
  const int N = d.B * d.T, D = config_.d_model;
  linear_forward(qkv_.data(), a.ln1.data(), params_.value(p.qkv_w), params_.value(p.qkv_b), N,
                 D, 3 * D);
  split_heads(qkv_.data(), a.q.data(), a.k.data(), a.v.data(), d.B, d.T, d.H, d.dh);
  encoder_->rotate_qk_forward(layer, a.q.data(), a.k.data(), d);

  const Real scale = Real(1) / std::sqrt(Real(d.dh));
  const std::size_t qk_block = std::size_t(d.T) * d.dh, s_block = std::size_t(d.T) * d.T;
  // Each (b, h) is computed whole by one thread, so a dynamic schedule (a free core takes
  // more of them) does not change any number. Causal: only the visible keys' blocks
  // (attention_products.h); softmax writes the exact zeros of the masked entries.
  // logits z = q kᵀ / sqrt(dh), per (b, h)
#pragma omp parallel for schedule(dynamic, 1)
  for (int bh = 0; bh < d.B * d.H; ++bh)
    attention_scores(a.probs.data() + bh * s_block, a.q.data() + bh * qk_block,
                     a.k.data() + bh * qk_block, d.T, d.dh, d.causal, scale);
  if (encoder_->has_score_bias())
    encoder_->score_bias_forward(layer, a.q.data(), a.k.data(), a.probs.data(), d);
#pragma omp parallel for schedule(dynamic, 1)
  for (int bh = 0; bh < d.B * d.H; ++bh) {
    Real* s = a.probs.data() + bh * s_block;
    softmax_rows_forward(s, d.T, d.causal);
    attention_values(a.heads_out.data() + bh * qk_block, s, a.v.data() + bh * qk_block, d.T,
                     d.dh, d.causal);
  }
  if (encoder_->has_value_bias())
    encoder_->value_bias_forward(layer, a.probs.data(), a.heads_out.data(), d);
  merge_heads(a.heads_out.data(), a.att.data(), D, d.B, d.T, d.H, d.dh);
}

void Transformer::resize_inference(int B, int T) {
  if (B == inference_B_ && T == inference_T_) return;
  inference_B_ = B;
  inference_T_ = T;
  const std::size_t N = std::size_t(B) * T, D = config_.d_model, F = config_.d_ff,
                    V = config_.vocab_size;
  InferenceActs& a = inference_;
  for (RealBuffer* buf : {&a.x, &a.x_mid, &a.ln, &a.q, &a.k, &a.v, &a.heads, &a.att})
    buf->assign(N * D, 0);
  a.mean.assign(N, 0);
  a.rstd.assign(N, 0);
  a.qkv.assign(N * 3 * D, 0);
  a.fc1.assign(N * F, 0);
  a.gelu.assign(N * F, 0);
  a.logits.assign(N * V, 0);
}

// The same kernels in the same order as forward() except the attention, which streams;
// each layer's output overwrites its input, so memory does not grow with depth.
const Real* Transformer::forward_inference(const std::int32_t* ids, int B, int T,
                                           AttentionTiles tiles, const int* positions) {
  const int N = B * T, D = config_.d_model, V = config_.vocab_size;
  check_ids(ids, N);
  encoder_->set_positions(positions, T);
  resize_inference(B, T);
  InferenceActs& a = inference_;
  const AttnDims d{B, config_.heads, T, D / config_.heads, config_.causal};

  embedding_forward(a.x.data(), ids, params_.value(tok_emb_), N, D);
  encoder_->embed_forward(a.x.data(), B, T);
  for (int l = 0; l < config_.layers; ++l) {
    const LayerHandles& p = layer_params_[l];
    layernorm_forward(a.ln.data(), a.mean.data(), a.rstd.data(), a.x.data(),
                      params_.value(p.ln1_w), params_.value(p.ln1_b), N, D);
    linear_forward(a.qkv.data(), a.ln.data(), params_.value(p.qkv_w), params_.value(p.qkv_b), N,
                   D, 3 * D);
    split_heads(a.qkv.data(), a.q.data(), a.k.data(), a.v.data(), B, T, d.H, d.dh);
    encoder_->rotate_qk_forward(l, a.q.data(), a.k.data(), d);
    streaming_attention_forward(a.heads.data(), a.q.data(), a.k.data(), a.v.data(), l, d,
                                *encoder_, tiles);
    merge_heads(a.heads.data(), a.att.data(), D, B, T, d.H, d.dh);
    // x_mid = x + att · Woᵀ + bo
    linear_forward(a.x_mid.data(), a.att.data(), params_.value(p.out_w), params_.value(p.out_b),
                   N, D, D, a.x.data());
    // x = x_mid + MLP(x_mid): the next layer's input
    mlp_forward(l, a.x_mid.data(), a.ln.data(), a.mean.data(), a.rstd.data(), a.fc1.data(),
                a.gelu.data(), a.x.data(), N);
  }
  layernorm_forward(a.ln.data(), a.mean.data(), a.rstd.data(), a.x.data(), params_.value(lnf_w_),
                    params_.value(lnf_b_), N, D);
  const Real* head = params_.value(head_ >= 0 ? head_ : tok_emb_);
  linear_forward(a.logits.data(), a.ln.data(), head, nullptr, N, D, V);
  last_B_ = B;
  last_T_ = T;
  last_logits_ = a.logits.data();
  last_was_inference_ = true;
  return a.logits.data();
}

void Transformer::require_training_forward(const char* what) const {
  if (last_was_inference_)
    throw std::logic_error(std::string(what) +
                           " needs the activations of forward(); the last forward was "
                           "forward_inference, which keeps none");
  if (!last_logits_) throw std::logic_error(std::string(what) + " before any forward");
}

double Transformer::loss(const std::int32_t* targets, const std::uint8_t* mask,
                         std::vector<std::uint8_t>* correct, RealBuffer* position_loss) {
  if (!last_logits_) throw std::logic_error("loss before any forward");
  const int N = last_B_ * last_T_;
  if (correct) correct->assign(N, 0);
  if (position_loss) position_loss->assign(N, 0);
  return cross_entropy_forward(last_logits_, targets, mask, N, config_.vocab_size,
                               position_loss ? position_loss->data() : nullptr,
                               correct ? correct->data() : nullptr);
}

void Transformer::backward(const std::int32_t* targets, const std::uint8_t* mask,
                           long scored_tokens) {
  require_training_forward("backward");
  const int N = B_ * T_, D = config_.d_model, F = config_.d_ff, V = config_.vocab_size;
  cross_entropy_backward(dlogits_.data(), logits_.data(), targets, mask, N, V, scored_tokens);

  // logits = lnf · headᵀ
  // The d(input) buffers below are written, not accumulated (accumulate_dx = false): each
  // receives a single contribution, so no zero-fill pass is needed first.
  const ParameterSet::Handle head = head_ >= 0 ? head_ : tok_emb_;
  linear_backward(dtmp_.data(), params_.grad(head), nullptr, dlogits_.data(), lnf_.data(),
                  params_.value(head), N, D, V, /*accumulate_dx=*/false);
  std::fill(dx_.begin(), dx_.end(), Real(0));
  layernorm_backward(dx_.data(), params_.grad(lnf_w_), params_.grad(lnf_b_), dtmp_.data(),
                     x_final_.data(), lnf_mean_.data(), lnf_rstd_.data(), params_.value(lnf_w_),
                     N, D);

  // dx_ holds dL/d(residual stream) as we walk down the layers.
  for (int l = config_.layers - 1; l >= 0; --l) {
    LayerActs& a = acts_[l];
    const LayerHandles& p = layer_params_[l];
    // MLP branch: x_out = x_mid + fc2(gelu(fc1(ln2(x_mid))))
    linear_backward(dfc_.data(), params_.grad(p.fc2_w), params_.grad(p.fc2_b), dx_.data(),
                    a.gelu.data(), params_.value(p.fc2_w), N, F, D, false);
    // dfc1 = dgelu ⊙ gelu'(fc1)
    gelu_backward(dfc1_.data(), dfc_.data(), a.fc1.data(), dfc1_.size(), /*accumulate=*/false);
    linear_backward(dtmp_.data(), params_.grad(p.fc1_w), params_.grad(p.fc1_b), dfc1_.data(),
                    a.ln2.data(), params_.value(p.fc1_w), N, D, F, false);
    layernorm_backward(dx_.data(), params_.grad(p.ln2_w), params_.grad(p.ln2_b), dtmp_.data(),
                       a.x_mid.data(), a.ln2_mean.data(), a.ln2_rstd.data(),
                       params_.value(p.ln2_w), N, D);
    // Attention branch: x_mid = x_in + out(att(ln1(x_in)))
    linear_backward(datt_.data(), params_.grad(p.out_w), params_.grad(p.out_b), dx_.data(),
                    a.att.data(), params_.value(p.out_w), N, D, D, false);
    attention_backward(l, a, dtmp_.data());  // writes dtmp_
    layernorm_backward(dx_.data(), params_.grad(p.ln1_w), params_.grad(p.ln1_b), dtmp_.data(),
                       a.x_in.data(), a.ln1_mean.data(), a.ln1_rstd.data(),
                       params_.value(p.ln1_w), N, D);
  }
  encoder_->embed_backward(dx_.data(), B_, T_);
  embedding_backward(params_.grad(tok_emb_), dx_.data(), ids_.data(), N, D);
}

void Transformer::attention_backward(int layer, LayerActs& a, Real* dln1) {
  const LayerHandles& p = layer_params_[layer];
  const AttnDims d = attn_dims();
  const int N = d.B * d.T, D = config_.d_model;
  const Real scale = Real(1) / std::sqrt(Real(d.dh));
  const std::size_t qk_block = std::size_t(d.T) * d.dh, s_block = std::size_t(d.T) * d.T;

  // datt_ [N, D] -> per-head dout [B, H, T, dh]
#pragma omp parallel for schedule(dynamic, 64)
  for (long n = 0; n < long(N); ++n) {
    const long b = n / d.T, t = n % d.T;
    for (int h = 0; h < d.H; ++h)
      std::copy_n(datt_.data() + std::size_t(n) * D + h * d.dh, d.dh,
                  dheads_.data() + ((std::size_t(b) * d.H + h) * d.T + t) * d.dh);
  }
  // out = probs · v  ->  dprobs = dout · vᵀ,  dv = probsᵀ · dout
#pragma omp parallel for schedule(dynamic, 1)
  for (int bh = 0; bh < d.B * d.H; ++bh)
    attention_values_backward(dprobs_.data() + bh * s_block, dv_.data() + bh * qk_block,
                              a.probs.data() + bh * s_block, dheads_.data() + bh * qk_block,
                              a.v.data() + bh * qk_block, d.T, d.dh, d.causal);
  if (encoder_->has_value_bias())
    encoder_->value_bias_backward(layer, a.probs.data(), dheads_.data(), dprobs_.data(), d);
  // softmax backward (in place: dprobs_ becomes dlogits), then z = q kᵀ · scale.
#pragma omp parallel for schedule(dynamic, 1)
  for (int bh = 0; bh < d.B * d.H; ++bh) {
    Real* ds = dprobs_.data() + bh * s_block;
    // softmax_rows_backward reads dp and writes ds; they may alias row by row because each
    // row's dot product is taken before the row is written. Entries right of a row block's
    // visible keys were not written by the products above: the softmax reads only j <= i
    // and writes the zeros there.
    softmax_rows_backward(ds, a.probs.data() + bh * s_block, ds, d.T, d.causal);
    attention_scores_backward(dq_.data() + bh * qk_block, dk_.data() + bh * qk_block, ds,
                              a.q.data() + bh * qk_block, a.k.data() + bh * qk_block, d.T,
                              d.dh, d.causal, scale);
  }
  if (encoder_->has_score_bias())
    encoder_->score_bias_backward(layer, a.q.data(), a.k.data(), dprobs_.data(), dq_.data(),
                                  dk_.data(), d);
  encoder_->rotate_qk_backward(layer, dq_.data(), dk_.data(), d);
  merge_heads(dq_.data(), dqkv_.data(), 3 * D, d.B, d.T, d.H, d.dh);
  merge_heads(dk_.data(), dqkv_.data() + D, 3 * D, d.B, d.T, d.H, d.dh);
  merge_heads(dv_.data(), dqkv_.data() + 2 * D, 3 * D, d.B, d.T, d.H, d.dh);
  // dln1 = dqkv · W_qkv (written: the attention branch's only contribution to it)
  linear_backward(dln1, params_.grad(p.qkv_w), params_.grad(p.qkv_b), dqkv_.data(),
                  a.ln1.data(), params_.value(p.qkv_w), N, D, 3 * D, false);
}

const Real* Transformer::hidden_state(int layer) const {
  require_training_forward("hidden_state");
  if (layer < 0 || layer > config_.layers) throw std::out_of_range("hidden_state layer");
  return layer == config_.layers ? x_final_.data() : acts_[layer].x_in.data();
}

const Real* Transformer::attention(int layer) const {
  require_training_forward("attention");
  if (layer < 0 || layer >= config_.layers) throw std::out_of_range("attention layer");
  return acts_[layer].probs.data();
}

}  // namespace poslab
