// shaw relative positions (Shaw, Uszkoreit & Vaswani 2018, "Self-Attention with Relative
// Position Representations"): learned vectors a^K_r and a^V_r for each clipped relative
// distance r = clip(j - i, -K, K), per layer, shared by the heads:
//   logits[b,h,i,j] = q_i·(k_j + a^K_r) / sqrt(dh)        (score_bias adds q_i·a^K_r/sqrt(dh))
//   out[b,h,i,:]    = Σ_j α_ij (v_j + a^V_r)               (value_bias adds Σ_j α_ij a^V_r)
// Parameters encoder.layers.{l}.key and .value, [2K+1, dh], row r + K for distance r.
// Causal and bidirectional; defined for any length (distances beyond K share the end rows).
// In a causal model only r <= 0 occurs, so rows K+1..2K stay unused.
//
// Initialisation N(0, init_std), 0.02 by default as for the other learned tables: the
// tables are read through dot products with q and sums over α, whose gradients are
// non-zero from a zero start too, but small random rows distinguish the distances from the
// first step. Not weight-decayed (position tables, like the learned absolute table).
//
// Cost: never a [T, T, dh] tensor. Since r takes only 2K+1 values, per (b, h):
//   score:  QA = q · a^Kᵀ / sqrt(dh)  [T, 2K+1] (one GEMM), then logits[i, j] += QA[i, r+K];
//   value:  PB[i, c] = Σ_{j: r+K = c} α_ij  [T, 2K+1] (bucketing the row), out += PB · a^V.
// The backward passes are the same two steps transposed.
// Streaming tiles: begin_query_block computes the block's rows of QA into the tile state;
// a tile gathers them like a row above, and its value bias buckets the tile's weights
// (PB for the tile's rows, then acc += PB · a^V). A tile whose keys are all at distance
// >= K from all its queries (most tiles at long lengths) uses one row of a^V per query. Parameter gradients are summed
// per (b, h) into separate buffers and then added in a fixed order, so they do not depend
// on the thread count.
// Randomized positions: r = clip(p_j - p_i, -K, K); the rows are gathered and bucketed
// entry by entry (gather_row / bucket_row), the same GEMMs around them.
#include <algorithm>
#include <cmath>
#include <string>

#include "core/kernels/row_reduce.h"
#include "encoders/encoder.h"
#include "encoders/randomized_positions.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {
namespace {

// One attention row i over keys j < n (n = i + 1 when causal, T otherwise), split into the
// three runs of c = clip(j - i, -K, K) + K: c = 0 for j <= i - K, c = j - i + K in between,
// c = 2K for j >= i + K. [lo, hi) is the middle run. A streaming tile's row is the same
// with j and i counted from the tile's first key j0 (i - j0 may be negative or >= n).
struct ClippedRow {
  int lo, hi;
  ClippedRow(int i, int K, int n)
      : lo(std::clamp(i - K + 1, 0, n)), hi(std::clamp(i + K, 0, n)) {}
};

// row[j] += src[clip(j - i, -K, K) + K] for j < n.                    src [2K+1]
inline void gather_clipped_row(Real* row, const Real* src, int i, int K, int n) {
  const ClippedRow run(i, K, n);
  MapVecR(row, run.lo).array() += src[0];
  if (run.hi > run.lo)  // (else src + (lo - i + K) may point outside src)
    MapVecR(row + run.lo, run.hi - run.lo) += CMapVecR(src + (run.lo - i + K), run.hi - run.lo);
  MapVecR(row + run.hi, n - run.hi).array() += src[2 * K];
}

// dst[c] = Σ_{j < n: clip(j - i, -K, K) + K = c} row[j] (overwrites).   dst [2K+1]
inline void bucket_clipped_row(Real* dst, const Real* row, int i, int K, int n) {
  const ClippedRow run(i, K, n);
  std::fill(dst, dst + 2 * K + 1, Real(0));
  // The end runs are long (most of the row when T >> K): vectorised sums whose rounding
  // does not depend on the row's address.
  dst[0] += kernels::row_sum(row, run.lo);
  if (run.hi > run.lo)
    MapVecR(dst + (run.lo - i + K), run.hi - run.lo) += CMapVecR(row + run.lo, run.hi - run.lo);
  dst[2 * K] += kernels::row_sum(row + run.hi, n - run.hi);
}

// Randomized positions: the same with c = clip(pj[j] - pi, -K, K) + K, entry by entry.
inline void gather_clipped_row_at(Real* row, const Real* src, int pi, const int* pj, int K, int n) {
  for (int j = 0; j < n; ++j) row[j] += src[std::clamp(pj[j] - pi, -K, K) + K];
}
inline void bucket_clipped_row_at(Real* dst, const Real* row, int pi, const int* pj, int K, int n) {
  std::fill(dst, dst + 2 * K + 1, Real(0));
  for (int j = 0; j < n; ++j) dst[std::clamp(pj[j] - pi, -K, K) + K] += row[j];
}

class ShawEncoder : public PositionalEncoder {
 public:
  ShawEncoder(const Options& o, const ModelDims& dims)
      : K_(o.get_int("clip")),
        init_std_(o.get_float("init_std")),
        dh_(dims.d_head),
        layers_(dims.layers) {}

  void declare_parameters(ParameterSet& params) override {
    params_ = &params;
    for (int l = 0; l < layers_; ++l) {
      const std::string p = "encoder.layers." + std::to_string(l) + ".";
      key_.push_back(params.declare(p + "key", {rows(), dh_}, Init::Normal, init_std_, false));
      value_.push_back(params.declare(p + "value", {rows(), dh_}, Init::Normal, init_std_, false));
    }
  }

  bool has_score_bias() const override { return true; }
  bool has_value_bias() const override { return true; }

  // logits[b,h,i,j] += QA[i, clip(j-i)+K],  QA = q · a^Kᵀ / sqrt(dh)   [T, 2K+1]
  void score_bias_forward(int layer, const Real* q, const Real* /*k*/, Real* logits,
                          const AttnDims& d) override {
    const int T = d.T, R = rows();
    const Real scale = Real(1) / std::sqrt(Real(d.dh));
    CMapR aK(params_->value(key_[layer]), R, d.dh);
    const std::size_t qk_block = std::size_t(T) * d.dh, s_block = std::size_t(T) * T;
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < d.B * d.H; ++bh) {
      const MatR qa = (CMapR(q + bh * qk_block, T, d.dh) * aK.transpose()) * scale;
      Real* s = logits + bh * s_block;
      for (int i = 0; i < T; ++i)
        gather_row(s + std::size_t(i) * T, qa.data() + std::size_t(i) * R, i, 0,
                   d.causal ? i + 1 : T);  // masked keys are overwritten after the hook
    }
  }

  // dQA[i, c] = Σ_{j in bucket c} dlogits[i, j] / sqrt(dh)              [T, 2K+1]
  // dq += dQA · a^K;   da^K += Σ_{b,h} dQAᵀ · q.   (The bias does not involve k.)
  void score_bias_backward(int layer, const Real* q, const Real* /*k*/, const Real* dlogits,
                           Real* dq, Real* /*dk*/, const AttnDims& d) override {
    const int T = d.T, R = rows(), BH = d.B * d.H;
    const Real scale = Real(1) / std::sqrt(Real(d.dh));
    CMapR aK(params_->value(key_[layer]), R, d.dh);
    const std::size_t qk_block = std::size_t(T) * d.dh, s_block = std::size_t(T) * T,
                      p_block = std::size_t(R) * d.dh;
    RealBuffer partial(BH * p_block);  // da^K of each (b, h), [B, H, 2K+1, dh]
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < BH; ++bh) {
      MatR dqa(T, R);
      const Real* g = dlogits + bh * s_block;
      for (int i = 0; i < T; ++i)
        bucket_row(dqa.data() + std::size_t(i) * R, g + std::size_t(i) * T, i, 0,
                   d.causal ? i + 1 : T);  // dlogits of masked keys are 0
      dqa *= scale;
      CMapR qbh(q + bh * qk_block, T, d.dh);
      MapR(dq + bh * qk_block, T, d.dh).noalias() += dqa * aK;
      MapR(partial.data() + bh * p_block, R, d.dh).noalias() = dqa.transpose() * qbh;
    }
    add_in_order(params_->grad(key_[layer]), partial, BH, p_block);
  }

  // PB[i, c] = Σ_{j in bucket c} α_ij  [T, 2K+1];   out += PB · a^V
  void value_bias_forward(int layer, const Real* probs, Real* out, const AttnDims& d) override {
    const int T = d.T, R = rows();
    CMapR aV(params_->value(value_[layer]), R, d.dh);
    const std::size_t qk_block = std::size_t(T) * d.dh, s_block = std::size_t(T) * T;
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < d.B * d.H; ++bh) {
      const MatR pb = bucketed_probs(probs + bh * s_block, T, d.causal);
      MapR(out + bh * qk_block, T, d.dh).noalias() += pb * aV;
    }
  }

  // dPB = dout · a^Vᵀ [T, 2K+1];  dprobs[i, j] += dPB[i, bucket(i, j)];  da^V += Σ PBᵀ · dout
  void value_bias_backward(int layer, const Real* probs, const Real* dout, Real* dprobs,
                           const AttnDims& d) override {
    const int T = d.T, R = rows(), BH = d.B * d.H;
    CMapR aV(params_->value(value_[layer]), R, d.dh);
    const std::size_t qk_block = std::size_t(T) * d.dh, s_block = std::size_t(T) * T,
                      p_block = std::size_t(R) * d.dh;
    RealBuffer partial(BH * p_block);  // da^V of each (b, h), [B, H, 2K+1, dh]
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < BH; ++bh) {
      CMapR dout_bh(dout + bh * qk_block, T, d.dh);
      const MatR pb = bucketed_probs(probs + bh * s_block, T, d.causal);
      const MatR dpb = dout_bh * aV.transpose();
      Real* dp = dprobs + bh * s_block;
      for (int i = 0; i < T; ++i)
        gather_row(dp + std::size_t(i) * T, dpb.data() + std::size_t(i) * R, i, 0,
                   d.causal ? i + 1 : T);  // masked probabilities are 0 and stay so
      MapR(partial.data() + bh * p_block, R, d.dh).noalias() = pb.transpose() * dout_bh;
    }
    add_in_order(params_->grad(value_[layer]), partial, BH, p_block);
  }

  // Tile state: QA of the block's rows [rows, 2K+1], then the tile's PB [rows, 2K+1].
  std::size_t tile_state_size(int rows, int /*cols*/) const override {
    return 2 * std::size_t(rows) * this->rows();
  }

  void begin_query_block(const AttnTile& t, Real* state) const override {
    const Real scale = Real(1) / std::sqrt(Real(t.dh));
    CMapR aK(params_->value(key_[t.layer]), rows(), t.dh);
    MapR(state, t.rows(), rows()).noalias() =
        (CMapR(t.q + std::size_t(t.i0) * t.dh, t.rows(), t.dh) * aK.transpose()) * scale;
  }

  void score_bias_tile(const AttnTile& t, Real* scores, int ld, Real* state) const override {
    const int R = rows();
    for (int r = 0; r < t.rows(); ++r) {
      const int n = t.key_end(r) - t.j0;
      if (n > 0)
        gather_row(scores + std::size_t(r) * ld, state + std::size_t(r) * R, t.i0 + r, t.j0, n);
    }
  }

  void value_bias_tile(const AttnTile& t, const Real* weights, int ld, Real* acc,
                       Real* state) const override {
    const int R = rows(), dh = t.dh;
    CMapR aV(params_->value(value_[t.layer]), R, dh);
    // Every (i, j) of the tile in one end run: row r adds (Σ_j w_rj) · a^V[c].
    const int c = (position(t.j1 - 1) - position(t.i0) <= -K_)       ? 0
                  : (position(t.j0) - position(t.i1 - 1) >= K_) ? 2 * K_
                                                                  : -1;
    if (c >= 0) {
      for (int r = 0; r < t.rows(); ++r) {
        const int n = t.key_end(r) - t.j0;
        if (n > 0)
          MapVecR(acc + std::size_t(r) * dh, dh) +=
              kernels::row_sum(weights + std::size_t(r) * ld, n) * aV.row(c).transpose();
      }
      return;
    }
    Real* pb = state + std::size_t(t.rows()) * R;  // [rows, 2K+1]
    for (int r = 0; r < t.rows(); ++r)
      bucket_row(pb + std::size_t(r) * R, weights + std::size_t(r) * ld, t.i0 + r, t.j0,
                 std::max(0, t.key_end(r) - t.j0));
    MapR(acc, t.rows(), dh).noalias() += CMapR(pb, t.rows(), R) * aV;
  }

  // Per layer: "layers.{l}.key" and "layers.{l}.value" [2K+1, dh], and the distance of
  // each row.
  std::vector<NamedArray> describe() const override {
    NamedArray distance{"relative_position", {}, {std::size_t(rows())},
                        "[row]: the clipped distance r = clip(j - i, -K, K) of each table row"};
    for (int r = -K_; r <= K_; ++r) distance.data.push_back(r);
    std::vector<NamedArray> out{distance};
    if (!params_) return out;  // parameters not declared yet
    for (int l = 0; l < layers_; ++l) {
      const std::string p = "layers." + std::to_string(l) + ".";
      out.push_back(table_array(p + "key", key_[l],
                                "[r + K, dim]: a^K_r added to the keys, r = clip(j - i, -K, K)"));
      out.push_back(table_array(p + "value", value_[l],
                                "[r + K, dim]: a^V_r added to the values, r = clip(j - i, -K, K)"));
    }
    return out;
  }

  // The tables and the row each (i, j) reads, [L, L].
  std::vector<NamedArray> encode(int length) const override {
    auto out = describe();
    const std::size_t L = std::size_t(length);
    NamedArray index{"relative_index", {}, {L, L},
                     "[query i, key j]: table row clip(j - i, -K, K) + K (in a causal model "
                     "only j <= i is used)"};
    index.data.reserve(L * L);
    for (int i = 0; i < length; ++i)
      for (int j = 0; j < length; ++j) index.data.push_back(std::clamp(j - i, -K_, K_) + K_);
    out.push_back(std::move(index));
    return out;
  }

 private:
  int rows() const { return 2 * K_ + 1; }

  // Query slot i against key slots j0 .. j0 + n - 1 (a whole row: j0 = 0): the run form
  // for positions 0..T-1, entry by entry for randomized positions.
  void gather_row(Real* row, const Real* src, int i, int j0, int n) const {
    if (identity_positions()) return gather_clipped_row(row, src, i - j0, K_, n);
    gather_clipped_row_at(row, src, position(i), positions().data() + j0, K_, n);
  }
  void bucket_row(Real* dst, const Real* row, int i, int j0, int n) const {
    if (identity_positions()) return bucket_clipped_row(dst, row, i - j0, K_, n);
    bucket_clipped_row_at(dst, row, position(i), positions().data() + j0, K_, n);
  }

  // PB [T, 2K+1]: each probability row summed by clipped distance.
  MatR bucketed_probs(const Real* p, int T, bool causal) const {
    MatR pb(T, rows());
    for (int i = 0; i < T; ++i)
      bucket_row(pb.data() + std::size_t(i) * rows(), p + std::size_t(i) * T, i, 0,
                 causal ? i + 1 : T);
    return pb;
  }

  // grad += Σ_bh partial[bh], bh ascending: a fixed order whatever the thread count.
  static void add_in_order(Real* grad, const RealBuffer& partial, int BH,
                           std::size_t block) {
    MapVecR g(grad, block);
    for (int bh = 0; bh < BH; ++bh) g += CMapVecR(partial.data() + bh * block, block);
  }

  NamedArray table_array(const std::string& name, ParameterSet::Handle h,
                         const std::string& description) const {
    const Real* v = params_->value(h);
    NamedArray a{name, {}, {std::size_t(rows()), std::size_t(dh_)}, description};
    a.data.assign(v, v + std::size_t(rows()) * dh_);
    return a;
  }

  int K_;
  double init_std_;
  int dh_, layers_;
  ParameterSet* params_ = nullptr;
  std::vector<ParameterSet::Handle> key_, value_;  // per layer, [2K+1, dh]
};

POSLAB_REGISTER_ENCODER(
    ShawEncoder, "shaw",
    "learned relative-position vectors added to keys and values, clipped at distance K, per "
    "layer (Shaw et al. 2018)",
    with_randomized({
        {"clip", OptionSpec::Type::Int, "16",
         "K: distances j - i are clipped to [-K, K] (2K+1 learned rows per table)", 1, 4096},
        {"init_std", OptionSpec::Type::Float, "0.02", "std of the N(0, s) initialisation", 0}}))

}  // namespace
}  // namespace poslab
