// transformer_xl (Dai et al. ACL 2019, "Transformer-XL: Attentive Language Models Beyond a
// Fixed-Length Context", section 3.3): relative attention. With R_r the sinusoid of the
// relative distance r = i - j (docs/design.md's sinusoidal convention, width d_model, base
// 10000, signed r: R_{-r} = (-sin, cos)), per head h:
//   a_ij = q_iᵀk_j + q_iᵀ W_R R_{i-j} + u_hᵀk_j + v_hᵀ W_R R_{i-j}        (terms a, b, c, d)
// and logits = a_ij / sqrt(dh). Term (a) is the attention's own z; this encoder adds
//   bias_ij = ((q_i + v_h)·KR_h[i - j] + u_h·k_j) / sqrt(dh),   KR = R W_Rᵀ  [r, d_model]
// where KR_h is head h's dh columns. Learned per layer ("encoder.layers.{l}."):
//   W_R [d_model, d_model]  N(0, 0.02), weight-decayed like the attention projections
//   u, v [H, dh]            N(0, 0.02), not decayed
// Parameters: layers · (d_model² + 2·d_model). Acts in score_bias only (q and k are the
// heads' queries and keys, as in the paper). Causal and bidirectional (r from -(T-1)).
// Defined for any length.
//
// Per (b, h) the forward computes P = (q + v_h) KR_hᵀ, [T, NR] (NR = T causal, 2T - 1
// bidirectional: one column per distance), and gathers P[i, i - j] ("relative shift");
// backward scatters dlogits back into dP and runs the transposed GEMMs:
//   dq += dP KR_h / sqrt(dh),  dv_h += Σ_rows of the same,  dKR_h += dPᵀ (q + v_h) / sqrt(dh),
//   dk_j += u_h Σ_i dlogits_ij / sqrt(dh),  du_h += Σ_j (Σ_i dlogits_ij) k_j / sqrt(dh),
//   dW_R += dKRᵀ R.
// Heads are split over threads and batches run in order inside each, so every sum has a
// fixed order (no dependence on the thread count).
//
// KR depends on W_R and T only; it is rebuilt for a layer by score_bias_forward and by
// rotate_qk_forward (which leaves q, k unchanged): the streaming attention calls no
// materialized score hook, and rotate_qk_forward is what runs just before it for every
// layer, so the tiles find the current table. A tile computes each entry directly,
// ((q_i + v_h)·KR_h[i - j] + u_h·k_j)/sqrt(dh): dh + dh MACs per entry, no T×T block.
//
// Randomized positions: R_{p_i - p_j}; KR covers the distances of the positions' span S
// (NR = S causal, 2S - 1 bidirectional), P has one column per such distance, and the
// gather/scatter reads P[i, p_i - p_j]. One code path serves both: slot t's position is
// position_at(p, t) (p null for 0..T-1, where it is t).
#include <cmath>
#include <stdexcept>
#include <string>

#include "encoders/encoder.h"
#include "encoders/randomized_positions.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {
namespace {

class TransformerXlEncoder : public PositionalEncoder {
 public:
  TransformerXlEncoder(const Options& o, const ModelDims& dims)
      : base_(o.get_float("base")),
        D_(dims.d_model),
        H_(dims.heads),
        dh_(dims.d_head),
        causal_(dims.causal),
        layers_(dims.layers) {}

  void declare_parameters(ParameterSet& params) override {
    params_ = &params;
    for (int l = 0; l < layers_; ++l) {
      const std::string pre = "encoder.layers." + std::to_string(l) + ".";
      handles_.push_back({params.declare(pre + "W_R", {D_, D_}, Init::Normal, 0.02, true),
                          params.declare(pre + "u", {H_, dh_}, Init::Normal, 0.02, false),
                          params.declare(pre + "v", {H_, dh_}, Init::Normal, 0.02, false)});
    }
    kr_.resize(layers_);
  }

  // Leaves q and k as they are; (re)builds this layer's KR for the attention that follows.
  void rotate_qk_forward(int layer, Real* /*q*/, Real* /*k*/, const AttnDims& d) override {
    build_kr(layer, d.T);
  }

  bool has_score_bias() const override { return true; }

  void score_bias_forward(int layer, const Real* q, const Real* k, Real* logits,
                          const AttnDims& d) override {
    build_kr(layer, d.T);
    const LayerKr& K = kr_[layer];
    const int T = d.T, NR = K.NR, r_min = K.r_min, dh = dh_;
    const int* p = identity_positions() ? nullptr : positions().data();
    const Real scale = Real(1) / std::sqrt(Real(dh));
    const std::size_t qk_block = std::size_t(T) * dh, s_block = std::size_t(T) * T;
    const Real* u = params_->value(handles_[layer].u);
    const Real* v = params_->value(handles_[layer].v);
#pragma omp parallel
    {
      MatR qv(T, dh), P(T, NR);
      VecR uk(T);
#pragma omp for schedule(static)
      for (int bh = 0; bh < d.B * d.H; ++bh) {
        const int h = bh % d.H;
        const CMapR qb(q + bh * qk_block, T, dh), kb(k + bh * qk_block, T, dh);
        qv = qb.rowwise() + CMapVecR(v + std::size_t(h) * dh, dh).transpose();
        P.noalias() = qv * CMapR(K.by_head.data() + std::size_t(h) * NR * dh, NR, dh).transpose();
        uk.noalias() = kb * CMapR(u + std::size_t(h) * dh, dh, 1);
        Real* s = logits + bh * s_block;
        for (int i = 0; i < T; ++i) {
          const int n = d.causal ? i + 1 : T, pi = position_at(p, i) - r_min;
          Real* si = s + std::size_t(i) * T;
          for (int j = 0; j < n; ++j) si[j] += (P(i, pi - position_at(p, j)) + uk[j]) * scale;
        }
      }
    }
  }

  void score_bias_backward(int layer, const Real* q, const Real* k, const Real* dlogits,
                           Real* dq, Real* dk, const AttnDims& d) override {
    const LayerKr& K = kr_[layer];
    const int T = d.T, NR = K.NR, r_min = K.r_min, dh = dh_, H = d.H;
    const Real scale = Real(1) / std::sqrt(Real(dh));
    const std::size_t qk_block = std::size_t(T) * dh, s_block = std::size_t(T) * T;
    const LayerHandles& handles = handles_[layer];
    const Real* u = params_->value(handles.u);
    const Real* v = params_->value(handles.v);
    Real* du = params_->grad(handles.u);
    Real* dv = params_->grad(handles.v);
    const int* p = identity_positions() ? nullptr : positions().data();
    dkr_.assign(std::size_t(H) * NR * dh, Real(0));  // [H, NR, dh]
#pragma omp parallel
    {
      MatR qv(T, dh), dP(T, NR), dqh(T, dh);
      VecR colsum(T);
#pragma omp for schedule(static)
      for (int h = 0; h < H; ++h) {
        const CMapR kr(K.by_head.data() + std::size_t(h) * NR * dh, NR, dh);
        MapR dkr(dkr_.data() + std::size_t(h) * NR * dh, NR, dh);
        MapR du_h(du + std::size_t(h) * dh, 1, dh), dv_h(dv + std::size_t(h) * dh, 1, dh);
        for (int b = 0; b < d.B; ++b) {
          const std::size_t bh = std::size_t(b) * H + h;
          const CMapR qb(q + bh * qk_block, T, dh), kb(k + bh * qk_block, T, dh);
          const Real* g = dlogits + bh * s_block;
          dP.setZero();
          colsum.setZero();
          for (int i = 0; i < T; ++i) {
            const int n = d.causal ? i + 1 : T;  // dlogits of masked keys are 0
            const int pi = position_at(p, i) - r_min;
            const Real* gi = g + std::size_t(i) * T;
            for (int j = 0; j < n; ++j) {
              dP(i, pi - position_at(p, j)) += gi[j] * scale;
              colsum[j] += gi[j] * scale;
            }
          }
          // P = (q + v) KRᵀ
          dqh.noalias() = dP * kr;
          MapR(dq + bh * qk_block, T, dh) += dqh;
          dv_h += dqh.colwise().sum();
          qv = qb.rowwise() + CMapVecR(v + std::size_t(h) * dh, dh).transpose();
          dkr.noalias() += dP.transpose() * qv;
          // uk_j = u·k_j
          MapR(dk + bh * qk_block, T, dh).noalias() += colsum * CMapR(u + std::size_t(h) * dh, 1, dh);
          du_h.noalias() += colsum.transpose() * kb;
        }
      }
    }
    // KR = R W_Rᵀ: dW_R [D, D] += dKR_fullᵀ R, dKR_full [NR, D] with head h in columns h·dh..
    MatR dkr_full(NR, D_);
    for (int h = 0; h < H; ++h)
      dkr_full.middleCols(h * dh, dh) = CMapR(dkr_.data() + std::size_t(h) * NR * dh, NR, dh);
    MapR(params_->grad(handles.W_R), D_, D_).noalias() += dkr_full.transpose() * K.R;
  }

  // State (scratch): u_h·k_j for the tile's keys [cols], then q_i + v_h for one row [dh].
  std::size_t tile_state_size(int /*rows*/, int cols) const override { return std::size_t(cols) + dh_; }

  void score_bias_tile(const AttnTile& t, Real* scores, int ld, Real* state) const override {
    const LayerKr& K = kr_.at(t.layer);
    if (K.T != t.T || K.version != positions_version())
      throw std::logic_error("transformer_xl: the layer's relative table was not built for this "
                             "length (rotate_qk_forward or score_bias_forward first)");
    const int dh = dh_;
    const Real scale = Real(1) / std::sqrt(Real(dh));
    const Real* u = params_->value(handles_[t.layer].u) + std::size_t(t.h) * dh;
    const Real* v = params_->value(handles_[t.layer].v) + std::size_t(t.h) * dh;
    const Real* kr = K.by_head.data() + std::size_t(t.h) * K.NR * dh;
    for (int c = 0; c < t.cols(); ++c) {
      const Real* kj = t.k + std::size_t(t.j0 + c) * dh;
      Real s = 0;
      for (int e = 0; e < dh; ++e) s += u[e] * kj[e];
      state[c] = s;
    }
    Real* qv = state + t.cols();
    const int* p = identity_positions() ? nullptr : positions().data();
    for (int r = 0; r < t.rows(); ++r) {
      const int i = t.i0 + r, n = t.key_end(r) - t.j0;
      const Real* qi = t.q + std::size_t(i) * dh;
      for (int e = 0; e < dh; ++e) qv[e] = qi[e] + v[e];
      Real* sc = scores + std::size_t(r) * ld;
      const int pi = position_at(p, i) - K.r_min;
      for (int c = 0; c < n; ++c) {
        const Real* krow = kr + std::size_t(pi - position_at(p, t.j0 + c)) * dh;
        Real s = 0;
        for (int e = 0; e < dh; ++e) s += qv[e] * krow[e];
        sc[c] += (s + state[c]) * scale;
      }
    }
  }

  std::vector<NamedArray> describe() const override {
    std::vector<NamedArray> out;
    if (!params_) return out;
    for (int l = 0; l < layers_; ++l) {
      const std::string pre = "layers." + std::to_string(l) + ".";
      out.push_back(matrix_array(pre + "u", CMapR(params_->value(handles_[l].u), H_, dh_).cast<double>(),
                                 "[head, dim]: u, the content bias (term c)"));
      out.push_back(matrix_array(pre + "v", CMapR(params_->value(handles_[l].v), H_, dh_).cast<double>(),
                                 "[head, dim]: v, the position bias (term d)"));
    }
    return out;
  }

 private:
  struct LayerHandles {
    ParameterSet::Handle W_R, u, v;
  };
  struct LayerKr {
    int T = -1, NR = 0, r_min = 0, span = -1;  // built for length T (span S of positions)
    std::uint64_t version = 0;                 // ... and these positions
    MatR R;            // [NR, D] sinusoid of r = r_min .. r_min + NR - 1
    RealBuffer by_head;  // [H, NR, dh]: KR = R W_Rᵀ, head h's columns
  };

  // Slot t's position: t for 0..T-1 (p null), else p[t].
  static int position_at(const int* p, int t) { return p ? p[t] : t; }

  void build_kr(int layer, int T) {
    LayerKr& K = kr_.at(layer);
    K.T = T;
    K.version = positions_version();
    const int S = position_span(T);  // T for positions 0..T-1
    if (K.span != S) {  // the sinusoid depends only on the span (and the model kind)
      K.span = S;
      K.r_min = causal_ ? 0 : -(S - 1);
      K.NR = causal_ ? S : 2 * S - 1;
      K.R.resize(K.NR, D_);
      for (int o = 0; o < K.NR; ++o) {
        const double r = K.r_min + o;
        for (int c = 0; c < D_; ++c) {  // sinusoidal.cpp's formula, at signed r
          const double a = r / std::pow(base_, 2.0 * (c / 2) / D_);
          K.R(o, c) = Real(c % 2 == 0 ? std::sin(a) : std::cos(a));
        }
      }
    }
    const MatR kr = K.R * CMapR(params_->value(handles_[layer].W_R), D_, D_).transpose();  // [NR, D]
    K.by_head.resize(std::size_t(H_) * K.NR * dh_);
    for (int h = 0; h < H_; ++h)
      MapR(K.by_head.data() + std::size_t(h) * K.NR * dh_, K.NR, dh_) = kr.middleCols(h * dh_, dh_);
  }

  double base_;
  int D_, H_, dh_;
  bool causal_;
  int layers_;
  ParameterSet* params_ = nullptr;
  std::vector<LayerHandles> handles_;
  std::vector<LayerKr> kr_;  // per layer
  RealBuffer dkr_;           // backward scratch [H, NR, dh]
};

POSLAB_REGISTER_ENCODER(
    TransformerXlEncoder, "transformer_xl",
    "relative attention q·W_R R(i-j) + u·k + v·W_R R(i-j), sinusoidal R, W_R/u/v learned per "
    "layer (Dai et al. 2019)",
    with_randomized({{"base", OptionSpec::Type::Float, "10000",
                      "base of the sinusoid R(r): angles r / base^(2m/d_model)", 1.0}}))

}  // namespace
}  // namespace poslab
