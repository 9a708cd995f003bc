// cope (Golovneva et al. 2024, "Contextual Position Encoding: Learning to Count What's
// Important"): positions are counted in tokens the query cares about, not in tokens.
// With z_ij = q_i·k_j / sqrt(dh) (the attention logits, before the causal mask):
//   g_ij  = σ(z_ij) for j <= i, 0 for j > i                       gates
//   p_ij  = min(Σ_{t=j..i} g_it, p_max)                           contextual position
//   e(p)  = (1 - w)·E[:, floor p] + w·E[:, ceil p],  w = p - floor p
//   logit_ij = z_ij + q_i·e(p_ij)                                 (q·e not / sqrt(dh))
// E [dh, p_max + 1] is learned per layer and shared by the heads ("encoder.layers.{l}.E",
// initialised N(0, 0.02), not weight-decayed).
//
// Two readings of the paper. The defaults follow its pseudo-code (the formulas above); three
// options give the authors' released code instead (facebookresearch/RAM,
// projects/cope/src/cope/context_position.py, ContextPosSelfAttn, as run by run.sh):
//   divide_position_logits: true   logit_ij = (q_i·k_j + q_i·e(p_ij)) / sqrt(dh): the released
//                                  code adds the position logits before dividing (its
//                                  --cope-nodiv flag gives the pseudo-code's form). Here:
//                                  the bias is q_i·e(p_ij)/sqrt(dh). Gates are σ(q·k/sqrt(dh))
//                                  in both readings.
//   init: zeros                    E starts at 0 (the released code's torch.zeros); the
//                                  pseudo-code's reading is N(0, 0.02) (`init: normal`).
//   npos: N                        N positions 0..N-1, i.e. p_max = N - 1 (the released code's
//                                  --cope-npos; unset there it is block size + 1, so counts
//                                  are in effect never clamped). `p_max` stays for backwards
//                                  compatibility; give one of the two.
// Everything else is the same in both: positions p_ij = Σ_{t=j..i} g_it (the query itself
// included), clamped at npos − 1, linear interpolation, one E per layer shared by the heads
// (released: --cope-shared off by default), keys for the gates = the attention keys.
// Acts on: score_bias. Causal only: p_ij counts over the causal prefix j..i, which has no
// meaning when a query also sees the keys after it — the constructor refuses
// bidirectional models.
//
// Never a T×T×dh tensor: since e(p) is linear in E, q_i·e(p) interpolates the scalars
// logits_int[i, n] = q_i·E[:, n] for the integers n = 0..p_max ([B·H·T, p_max+1], one GEMM
// for all heads), and the bias is a gather from that table.
//
// Backward, per (b, h), with R = dL/dlogit (0 where masked), lo = floor p, hi = ceil p:
//   dlogits_int[i, lo] += R_ij (1 - w),  dlogits_int[i, hi] += R_ij w
//   dp_ij = R_ij (logits_int[i, hi] - logits_int[i, lo])    (0 where clamped: lo = hi = p_max)
//   dg_it = Σ_{j <= t} dp_ij                                (p_ij sums g_it over t >= j)
//   dz_it = dg_it g_it (1 - g_it)
//   dq_i += Σ_t dz_it k_t / sqrt(dh),  dk_t += Σ_i dz_it q_i / sqrt(dh)   (the gate path only:
//           the attention kernel adds the direct z share itself)
//   dq += c dlogits_int Eᵀ,  dE += c qᵀ dlogits_int         (GEMMs over all (b, h) at once)
// where c = 1/sqrt(dh) with divide_position_logits, else 1 (logits_int = c q·E).
// floor and ceil pass no gradient (the piecewise-linear e(p) is differentiated within its
// piece). Parameter gradients come from GEMMs whose sums run in a fixed order, so they are
// deterministic for a fixed thread count.
//
// Cost: the caches (gates, positions) keep only the causal half of each [T, T] block, packed
// by row; keys clamped to p_max form a prefix of each row and take a short path (their
// bias is logits_int[i, p_max], their gate gradient 0); the backward's dz block is
// per thread, so it stays in cache; no allocation once (B, T) is stable.
//
// Streaming tiles: the key tiles of a query block arrive from the diagonal backwards, so
// each query's count Σ_{t=j..i} g_it is carried from tile to tile in the tile state and
// grows in the same order as in the row above. The state also holds the block's rows of
// logits_int (q·E, computed once per block). Once a query's count reaches p_max, every key
// further back is clamped: its bias is logits_int[i, p_max] and its gate is not needed,
// so at long lengths almost every tile is a plain add.
//
// encode(length) is empty: positions depend on q and k, so nothing position-only exists
// without a model; describe() writes E per layer.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "encoders/cope_positions.h"
#include "encoders/encoder.h"
#include "encoders/section_error.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {
namespace {

// Linear interpolation between the integer positions around p (0 <= p <= p_max).
struct Bracket {
  int lo, hi;  // floor p, ceil p
  Real w;      // p - floor p: the weight of hi
};
inline Bracket bracket(Real p) {
  const int lo = static_cast<int>(p);  // p >= 0, so truncation is floor
  const Real w = p - Real(lo);
  return {lo, w > 0 ? lo + 1 : lo, w};
}

class CopeEncoder : public PositionalEncoder {
 public:
  CopeEncoder(const Options& o, const ModelDims& dims)
      : p_max_(resolve_p_max(o)),
        dh_(dims.d_head),
        pos_scale_(o.get_bool("divide_position_logits") ? Real(1) / std::sqrt(Real(dims.d_head))
                                                        : Real(1)),
        zero_init_(o.get_string("init") == "zeros"),
        caches_(dims.layers) {
    if (!dims.causal)
      fail_on_name(o, "p_max", "cope is causal only: its positions count gated tokens over the causal "
                      "prefix j..i, which a bidirectional model does not have; use "
                      "model.attention: causal or another encoder");
  }

  void declare_parameters(ParameterSet& params) override {
    params_ = &params;
    for (std::size_t l = 0; l < caches_.size(); ++l)
      E_.push_back(params.declare("encoder.layers." + std::to_string(l) + ".E", {dh_, p_max_ + 1},
                                  zero_init_ ? Init::Zeros : Init::Normal, 0.02, false));
  }

  bool has_score_bias() const override { return true; }

  void score_bias_forward(int layer, const Real* q, const Real* /*k*/, Real* logits,
                          const AttnDims& d) override {
    const int T = d.T, P = p_max_ + 1, BH = d.B * d.H;
    const std::size_t rows = std::size_t(BH) * T, s_block = std::size_t(T) * T,
                      tri = triangle(T);
    LayerCache& c = caches_.at(layer);
    c.gates.resize(BH * tri);
    c.positions.resize(BH * tri);
    c.logits_int.resize(rows * P);
    // logits_int [B·H·T, P] = c · q [B·H·T, dh] · E [dh, P]
    MapR(c.logits_int.data(), rows, P).noalias() =
        (CMapR(q, rows, dh_) * CMapR(params_->value(E_[layer]), dh_, P)) * pos_scale_;

#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < BH; ++bh)
      for (int i = 0; i < T; ++i) {
        Real* z = logits + bh * s_block + std::size_t(i) * T;  // row i, keys 0..i
        Real* p = c.positions.data() + bh * tri + triangle(i);
        cope_positions_row(z, i, Real(p_max_), p, c.gates.data() + bh * tri + triangle(i));
        const Real* li = c.logits_int.data() + (std::size_t(bh) * T + i) * P;
        const int j0 = first_unclamped(p, i);
        for (int j = 0; j < j0; ++j) z[j] += li[p_max_];  // clamped: e(p) = E[:, p_max]
        for (int j = j0; j <= i; ++j) {
          const Bracket br = bracket(p[j]);
          z[j] += (1 - br.w) * li[br.lo] + br.w * li[br.hi];
        }
      }
  }

  void score_bias_backward(int layer, const Real* q, const Real* k, const Real* dlogits,
                           Real* dq, Real* dk, const AttnDims& d) override {
    const int T = d.T, P = p_max_ + 1, BH = d.B * d.H;
    const std::size_t rows = std::size_t(BH) * T, s_block = std::size_t(T) * T,
                      qk_block = std::size_t(T) * d.dh, tri = triangle(T);
    const Real scale = Real(1) / std::sqrt(Real(d.dh));
    const LayerCache& c = caches_.at(layer);
    dlogits_int_.resize(rows * P);
    dz_.resize(std::size_t(omp_get_max_threads()) * s_block);

#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < BH; ++bh) {
      // dL/dz through the gates, [T, T], lower triangle only: gates are 0 above it.
      Real* dz = dz_.data() + std::size_t(omp_get_thread_num()) * s_block;
      Real* dli_block = dlogits_int_.data() + std::size_t(bh) * T * P;
      std::fill(dli_block, dli_block + std::size_t(T) * P, Real(0));
      for (int i = 0; i < T; ++i) {
        const Real* r = dlogits + bh * s_block + std::size_t(i) * T;
        const Real* p = c.positions.data() + bh * tri + triangle(i);
        const Real* g = c.gates.data() + bh * tri + triangle(i);
        const Real* li = c.logits_int.data() + (std::size_t(bh) * T + i) * P;
        Real* dli = dli_block + std::size_t(i) * P;
        Real* dz_row = dz + std::size_t(i) * T;
        // Clamped keys (j < j0) have w = 0 and lo = hi = p_max: all of R goes to dli[p_max],
        // and dp = 0, so dg (a sum of dp over j' <= j) is still 0 there.
        const int j0 = first_unclamped(p, i);
        for (int j = 0; j < j0; ++j) {
          dli[p_max_] += r[j];
          dz_row[j] = 0;
        }
        Real dgate = 0;  // Σ_{j' <= j} dp_ij' = dL/dg_ij, as j walks forward
        for (int j = j0; j <= i; ++j) {
          const Bracket br = bracket(p[j]);
          dli[br.lo] += r[j] * (1 - br.w);
          dli[br.hi] += r[j] * br.w;
          dgate += r[j] * (li[br.hi] - li[br.lo]);
          dz_row[j] = dgate * g[j] * (1 - g[j]);
        }
      }
      // Eigen's triangular product reads only the lower triangle of dz.
      const auto dz_lower = CMapR(dz, T, T).triangularView<Eigen::Lower>();
      MapR(dq + bh * qk_block, T, d.dh).noalias() += dz_lower * (scale * CMapR(k + bh * qk_block, T, d.dh));
      MapR(dk + bh * qk_block, T, d.dh).noalias() +=
          dz_lower.transpose() * (scale * CMapR(q + bh * qk_block, T, d.dh));
    }

    // The logits_int path, for all (b, h) at once: dq += c dli · Eᵀ, dE += c qᵀ · dli.
    const CMapR dli(dlogits_int_.data(), rows, P);
    MapR(dq, rows, dh_).noalias() +=
        (dli * CMapR(params_->value(E_[layer]), dh_, P).transpose()) * pos_scale_;
    MapR(params_->grad(E_[layer]), dh_, P).noalias() +=
        (CMapR(q, rows, dh_).transpose() * dli) * pos_scale_;
  }

  // Tile state: count [rows] (Σ g so far, unclamped), logits_int [rows, p_max+1] for the
  // block's queries, gates [cols] (scratch for one row of a tile).
  std::size_t tile_state_size(int rows, int cols) const override {
    return std::size_t(rows) * (p_max_ + 2) + cols;
  }

  void begin_query_block(const AttnTile& t, Real* state) const override {
    MapR(state + t.rows(), t.rows(), p_max_ + 1).noalias() =
        (CMapR(t.q + std::size_t(t.i0) * t.dh, t.rows(), t.dh) *
         CMapR(params_->value(E_[t.layer]), dh_, p_max_ + 1)) *
        pos_scale_;
  }

  void score_bias_tile(const AttnTile& t, Real* scores, int ld, Real* state) const override {
    const int P = p_max_ + 1;
    const Real top = Real(p_max_);
    Real* gates = state + std::size_t(t.rows()) * (P + 1);
    using Row = Eigen::Array<Real, 1, Eigen::Dynamic>;
    for (int r = 0; r < t.rows(); ++r) {
      const int n = t.key_end(r) - t.j0;
      if (n <= 0) continue;
      Real* z = scores + std::size_t(r) * ld;
      const Real* li = state + t.rows() + std::size_t(r) * P;
      Real& count = state[r];
      int c = n;  // keys c..n-1 of this row are done; c..0 walk back towards j0
      if (count < top) {
        Eigen::Map<Row>(gates, n) = Eigen::Map<const Row>(z, n).logistic();
        for (--c; c >= 0; --c) {
          count += gates[c];
          if (count >= top) break;  // clamped from here back: the plain add below
          const Bracket br = bracket(count);
          z[c] += (1 - br.w) * li[br.lo] + br.w * li[br.hi];
        }
        if (c < 0) continue;
        ++c;  // key c is clamped too
      }
      Eigen::Map<Row>(z, c) += li[p_max_];
    }
  }

  std::vector<NamedArray> describe() const override {
    std::vector<NamedArray> out;
    for (std::size_t l = 0; l < E_.size(); ++l)
      out.push_back(matrix_array(
          "layers." + std::to_string(l) + ".E",
          CMapR(params_->value(E_[l]), dh_, p_max_ + 1).cast<double>(),
          "[head dim, position 0..p_max]: embedding e[n] of contextual position n, shared by heads"));
    return out;
  }

 private:
  // Row i of a lower triangle (j <= i) starts at i(i+1)/2 in packed storage: the caches keep
  // only the causal half, which halves their memory traffic.
  static std::size_t triangle(int i) { return std::size_t(i) * (i + 1) / 2; }

  // p_ij (j = 0..i) never rises as j walks towards i, so the keys clamped to p_max are a
  // prefix of the row: returns its length.
  int first_unclamped(const Real* p, int i) const {
    const Real top = Real(p_max_);
    return int(std::partition_point(p, p + i + 1, [top](Real v) { return v >= top; }) - p);
  }

  // What backward needs from a layer's forward; layers run forward in order, then
  // backward in reverse, so each layer keeps its own.
  struct LayerCache {
    RealBuffer gates;       // [B, H, T(T+1)/2] σ(z_ij), j <= i, packed by row
    RealBuffer positions;   // [B, H, T(T+1)/2] p_ij clamped to p_max, packed by row
    RealBuffer logits_int;  // [B, H, T, p_max+1] q_i·E[:, n]
  };

  // p_max from `p_max`, or npos - 1 from `npos` (the released code's name); not both.
  static int resolve_p_max(const Options& o) {
    const bool has_npos = o.node("npos").yaml().IsDefined();
    if (!has_npos) return o.get_int("p_max");
    if (o.node("p_max").yaml().IsDefined())
      o.node("npos").fail("expected p_max or npos (= p_max + 1), not both");
    if (o.get_int("npos") < 2)
      o.node("npos").fail("expected at least 2 positions (0 and 1), got " +
                          std::to_string(o.get_int("npos")));
    return o.get_int("npos") - 1;
  }

  int p_max_, dh_;
  Real pos_scale_;  // c: 1/sqrt(dh) with divide_position_logits (released code), else 1
  bool zero_init_;  // init: zeros (released code) instead of N(0, 0.02)
  std::vector<LayerCache> caches_;
  ParameterSet* params_ = nullptr;
  std::vector<ParameterSet::Handle> E_;  // per layer, [dh, p_max+1]
  // backward scratch, shared by the layers
  RealBuffer dlogits_int_;  // [B, H, T, p_max+1]
  RealBuffer dz_;           // [threads, T, T]: one block per thread, kept in cache
};

POSLAB_REGISTER_ENCODER(
    CopeEncoder, "cope",
    "contextual positions counted by sigmoid gates, causal only (Golovneva et al. 2024); "
    "defaults = the paper's pseudo-code, divide_position_logits/init/npos = the released code",
    (std::vector<OptionSpec>{
        {"p_max", OptionSpec::Type::Int, "64",
         "largest contextual position; larger counts are clamped (or give npos)", 1, 1'000'000},
        {"npos", OptionSpec::Type::Int, "0",
         "the released code's name: npos positions 0..npos-1, i.e. p_max = npos - 1 (0 = use "
         "p_max; the released default is block size + 1)",
         0, 1'000'001},
        {"divide_position_logits", OptionSpec::Type::Bool, "false",
         "false: logit = q·k/sqrt(dh) + q·e (the paper's pseudo-code); true: (q·k + q·e)/sqrt(dh) "
         "(the released code)"},
        {"init", OptionSpec::Type::String, "normal",
         "E's initialisation: normal = N(0, 0.02) (pseudo-code reading), zeros (released code)",
         -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(),
         {"normal", "zeros"}}}))

}  // namespace
}  // namespace poslab
