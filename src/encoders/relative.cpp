// relative: the "relative PE" baseline of the CoPE paper (Golovneva et al. 2024, §counting
// and §selective copy), as built in the authors' released code (facebookresearch/RAM,
// projects/cope/src/models/relative_position.py, RelPosEmb, wired in
// simple_transformer.py): one learned vector e[d] per distance d = i − j ≥ 0, added to the
// keys only (no value term):
//   logits[b,h,i,j] = (q_i·k_j + q_i·e[min(i − j, M − 1)]) / sqrt(dh)      j <= i
// The bias is q_i·e[·]/sqrt(dh): the released code adds q·e to q·k BEFORE dividing by
// sqrt(dh) (SelfAttn.forward), so the position term is scaled like the content term.
// Table: E [M, dh], M = max_distance rows (row d = e[d]), shared by the heads (the heads
// are folded into the batch there); by default ONE table for all layers
// ("encoder.rel_table": the released code builds one RelPosEmb and hands it to every layer),
// or one per layer with `shared_across_layers: false` ("encoder.layers.{l}.rel_table").
// Initialised N(0, 1/dh) (std dh^-1/2, as the released code's randn · head_dim^-0.5) unless
// init_std is set; not weight-decayed (a position table).
//
// Distances: the released code sizes the table by its block size (the longest context, 512
// in run.sh), so every distance of a training sequence has its own row ("unclipped up to
// the context"). poslab has no model-level context length, so max_distance plays the
// block size; its default, 512, is learned's max_length and the released run.sh's block
// size. Set it to the longest training sequence to get the paper's "unclipped up to the
// training length" exactly. A distance >= M reads e[M − 1] (CLAMPED to the farthest row:
// the released code's --rel-pos-extend, which replicates the farthest embedding); without
// that flag the released code refuses such inputs, poslab clamps so that a model can be
// evaluated beyond its training length (the study's longer column).
//
// Causal only: the paper's baseline is a decoder's, with d = i − j ≥ 0; a bidirectional
// model would need signed distances, which is a different scheme (use shaw or t5).
//
// Why a file of its own and not Shaw options: shaw.cpp is clipped at ±K with 2K+1 rows per
// table (half of them unused in a causal model), adds value vectors and keeps tables per
// layer; the paper's baseline needs none of that. Reproducing it as "shaw with clip =
// context, values off, shared tables, another init and another row order" would make a
// newcomer read three switches to find one formula; this file is that formula.
//
// Cost: never a [T, T, dh] tensor. QE = q·E_Rᵀ/sqrt(dh), [B·H·T, R] with R = min(M, S)
// (S = position_span(T): the distances that occur), is one GEMM for all heads; the bias
// is a gather QE[i, min(d, M − 1)]. Backward buckets dlogits by distance into dQE, then
// dq += dQE·E_R and dE_R += dQEᵀ·q (two GEMMs whose sums run in a fixed order, so the
// gradient does not depend on the thread count). Layers sharing the table accumulate into
// its gradient one after the other.
// Streaming tiles compute each entry's q_i·e[d] directly (dh MACs per entry, no state).
// Randomized positions: d = p_i − p_j (still >= 0: positions increase), same code.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "encoders/encoder.h"
#include "encoders/randomized_positions.h"
#include "encoders/section_error.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {
namespace {

class RelativeEncoder : public PositionalEncoder {
 public:
  RelativeEncoder(const Options& o, const ModelDims& dims)
      : M_(o.get_int("max_distance")),
        shared_(o.get_bool("shared_across_layers")),
        init_std_(o.get_float("init_std") > 0 ? o.get_float("init_std")
                                              : 1.0 / std::sqrt(double(dims.d_head))),
        dh_(dims.d_head),
        layers_(dims.layers) {
    if (!dims.causal)
      fail_on_name(o, "max_distance",
                   "relative is causal only: its table has one row per distance i - j >= 0, as "
                   "the CoPE paper's decoder baseline; use model.attention: causal, or shaw/t5 "
                   "for signed distances");
  }

  void declare_parameters(ParameterSet& params) override {
    params_ = &params;
    if (shared_) {
      tables_.push_back(params.declare("encoder.rel_table", {M_, dh_}, Init::Normal, init_std_, false));
      return;
    }
    for (int l = 0; l < layers_; ++l)
      tables_.push_back(params.declare("encoder.layers." + std::to_string(l) + ".rel_table", {M_, dh_},
                                       Init::Normal, init_std_, false));
  }

  bool has_score_bias() const override { return true; }

  // logits[i, j] += QE[i, index(i, j)],  QE = q · E_Rᵀ / sqrt(dh)   [B·H·T, R]
  void score_bias_forward(int layer, const Real* q, const Real* /*k*/, Real* logits,
                          const AttnDims& d) override {
    const int T = d.T, R = used_rows(T);
    const std::size_t rows = std::size_t(d.B) * d.H * T, s_block = std::size_t(T) * T;
    qe_.resize(rows * R);
    MapR(qe_.data(), rows, R).noalias() =
        (CMapR(q, rows, dh_) * CMapR(table(layer), R, dh_).transpose()) * scale(d.dh);
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < d.B * d.H; ++bh)
      for (int i = 0; i < T; ++i) {
        Real* z = logits + bh * s_block + std::size_t(i) * T;  // keys 0..i (causal)
        const Real* qe = qe_.data() + (std::size_t(bh) * T + i) * R;
        for (int j = 0; j <= i; ++j) z[j] += qe[index(i, j)];
      }
  }

  // dQE[i, c] = Σ_{j <= i: index(i, j) = c} dlogits[i, j] / sqrt(dh)
  // dq += dQE · E_R;  dE_R += dQEᵀ · q.   (The bias does not involve k.)
  void score_bias_backward(int layer, const Real* q, const Real* /*k*/, const Real* dlogits,
                           Real* dq, Real* /*dk*/, const AttnDims& d) override {
    const int T = d.T, R = used_rows(T);
    const std::size_t rows = std::size_t(d.B) * d.H * T, s_block = std::size_t(T) * T;
    const Real s = scale(d.dh);
    dqe_.assign(rows * R, Real(0));
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < d.B * d.H; ++bh)
      for (int i = 0; i < T; ++i) {
        const Real* r = dlogits + bh * s_block + std::size_t(i) * T;  // 0 above the diagonal
        Real* dqe = dqe_.data() + (std::size_t(bh) * T + i) * R;
        for (int j = 0; j <= i; ++j) dqe[index(i, j)] += r[j] * s;
      }
    const CMapR dQE(dqe_.data(), rows, R);
    MapR(dq, rows, dh_).noalias() += dQE * CMapR(table(layer), R, dh_);
    MapR(table_grad(layer), R, dh_).noalias() += dQE.transpose() * CMapR(q, rows, dh_);
  }

  // Each entry directly: q_i·e[index(i, j)] / sqrt(dh).
  void score_bias_tile(const AttnTile& t, Real* scores, int ld, Real* /*state*/) const override {
    const Real s = scale(t.dh);
    const Real* E = table(t.layer);
    for (int r = 0; r < t.rows(); ++r) {
      const int i = t.i0 + r, n = t.key_end(r) - t.j0;
      const CMapVecR qi(t.q + std::size_t(i) * t.dh, t.dh);
      Real* sc = scores + std::size_t(r) * ld;
      for (int c = 0; c < n; ++c)
        sc[c] += s * qi.dot(CMapVecR(E + std::size_t(index(i, t.j0 + c)) * dh_, dh_));
    }
  }

  std::vector<NamedArray> describe() const override {
    std::vector<NamedArray> out;
    if (!params_) return out;  // parameters not declared yet
    for (std::size_t n = 0; n < tables_.size(); ++n)
      out.push_back(matrix_array(
          shared_ ? std::string("rel_table") : "layers." + std::to_string(n) + ".rel_table",
          CMapR(params_->value(tables_[n]), M_, dh_).cast<double>(),
          "[distance d = i - j, dim]: e[d], added to the keys as q·e[d]/sqrt(dh); distances "
          ">= max_distance read the last row"));
    return out;
  }

  // The tables and the row each (i, j) reads, [L, L] (-1 above the diagonal: masked).
  std::vector<NamedArray> encode(int length) const override {
    auto out = describe();
    const std::size_t L = std::size_t(length);
    NamedArray rows{"relative_index", {}, {L, L},
                    "[query i, key j]: table row min(i - j, max_distance - 1) read by (i, j); "
                    "-1 where j > i (masked)"};
    rows.data.reserve(L * L);
    for (int i = 0; i < length; ++i)
      for (int j = 0; j < length; ++j) rows.data.push_back(j > i ? -1 : std::min(i - j, M_ - 1));
    out.push_back(std::move(rows));
    return out;
  }

 private:
  static Real scale(int dh) { return Real(1) / std::sqrt(Real(dh)); }
  // Rows the distances of a length-T sequence can reach: 0..min(M, S) − 1.
  int used_rows(int T) const { return std::min(M_, position_span(T)); }
  // The row (i, j), j <= i, reads: the distance, clamped to the last row.
  int index(int i, int j) const { return std::min(position(i) - position(j), M_ - 1); }
  const Real* table(int layer) const { return params_->value(tables_[shared_ ? 0 : layer]); }
  Real* table_grad(int layer) { return params_->grad(tables_[shared_ ? 0 : layer]); }

  int M_;
  bool shared_;
  double init_std_;
  int dh_, layers_;
  ParameterSet* params_ = nullptr;
  std::vector<ParameterSet::Handle> tables_;  // one (shared) or one per layer, [M, dh]
  RealBuffer qe_, dqe_;                       // scratch [B·H·T, R]
};

POSLAB_REGISTER_ENCODER(
    RelativeEncoder, "relative",
    "the CoPE paper's relative PE: learned e[i-j] per distance added to the keys, q·e/sqrt(dh), "
    "unclipped up to max_distance, shared by layers by default, causal only (Golovneva et al. "
    "2024, released code)",
    with_randomized({
        {"max_distance", OptionSpec::Type::Int, "512",
         "M: rows e[0..M-1], one per distance i - j (the released code's block size); set it "
         "to the longest training sequence for 'unclipped up to the context'; distances >= M "
         "read e[M-1] (clamped)",
         1, 1'000'000},
        {"shared_across_layers", OptionSpec::Type::Bool, "true",
         "one table for all layers (the released code), or one per layer"},
        {"init_std", OptionSpec::Type::Float, "0",
         "std of the N(0, s) initialisation; 0 = 1/sqrt(d_head), the released code's", 0}}))

}  // namespace
}  // namespace poslab
