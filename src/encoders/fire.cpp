// fire (Li et al. ICLR 2024, "Functional Interpolation for Relative Positions Improves
// Long Context Transformers"): a learned function of the relative distance, normalised by
// the query position, added to the attention logits:
//   logits[b,h,i,j] += f_θ(ψ(i - j) / ψ(max(L, i)))_h,     ψ(x) = log(c·x + 1)
//   f_θ(x) = W2 ReLU(W1 x + b1)                             (1 → hidden → H)
// Dividing by ψ(i) maps every query's distances into [0, 1] ("progressive interpolation"),
// so a longer sequence is read as a finer grid on the same interval; the threshold L keeps
// short contexts (i < L) from being stretched. c and L are learned, kept positive as
//   c = c_init · exp(ρ_c),   L = L_init · exp(ρ_L),   ρ initialised 0 (so c, L start at the
// configured values), not weight-decayed.
// Bidirectional models use |i - j| in ψ (the paper's formula is for causal attention); the
// normaliser stays max(L, i), so a key after its query can read inputs above 1.
//
// Parameters per layer ("encoder.layers.{l}."): fc1.weight [hidden, 1] N(0, 1),
// fc1.bias [hidden] N(0, 1) (so the ReLU kinks fall inside [0, 1] at initialisation),
// fc2.weight [H, hidden] N(0, 1/sqrt(hidden)), log_c [1], log_L [1]; none weight-decayed.
// Count per layer: hidden·(H + 2) + 2. (No output bias: a constant per head shifts every
// logit of a row alike, which the softmax ignores — its gradient is exactly 0.)
// Acts in score_bias only; defined for any length.
//
// Cost: the MLP runs once per distinct input, not per (b, h, i, j): every query i < L
// shares the normaliser ψ(L), so its rows read one shared list of distances r = 0, 1, ...;
// each query i >= L has its own normaliser and its own list r = 0..i (bidirectional:
// 0..max(i, T-1-i)). These inputs x [E] go through the MLP once ([E, hidden], then
// [H, E], in blocks of entries: see kBlock), shared by the whole batch and all heads; the
// logits then gather from out [H, E]. Backward sums dlogits into dout [H, E] (each head by
// one thread, batches in order: no dependence on the thread count), runs the MLP backward
// in the same blocks and chains dx into ρ_c and ρ_L:
//   ∂x/∂c = (r/(1+cr))/ψ(n) - ψ(r)(n/(1+cn))/ψ(n)²,   ∂x/∂n = -ψ(r)(c/(1+cn))/ψ(n)²
// (n = max(L, i); the second only where n = L), ∂c/∂ρ_c = c, ∂L/∂ρ_L = L.
//
// Streaming tiles: ψ of the tile's distances once per tile and ψ(n) once per row (tile
// state); f_θ for one head is evaluated as the piecewise-linear function it is (a ReLU MLP
// of a scalar: see Pieces), rebuilt from the current weights by rotate_qk_forward — which
// leaves q and k alone and runs just before each layer's streaming attention — and by
// score_bias_forward. No table grows with T².
//
// Randomized positions: r = |p_i - p_j| and n = max(L, p_i). The distances of a row are
// then no longer 0..i, so the distinct inputs are laid out per (i, j) pair instead (query
// i's entries start[i] + j, j < i + 1 causal, < T bidirectional): T(T+1)/2 (causal) MLP
// inputs per layer, independent of max_position. Tiles compute ψ(|p_i - p_j|) per entry.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "encoders/encoder.h"
#include "encoders/randomized_positions.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {
namespace {

// The MLP runs over the distinct inputs in fixed blocks of this many entries, one OpenMP
// thread per block, with single-threaded Eigen products inside: Eigen's own threading of a
// product called outside a parallel region spin-waits badly when the cores are shared
// (a 40x slowdown was seen on a loaded 2-core machine), and fixed blocks make the
// backward's reductions independent of the thread count.
constexpr std::size_t kBlock = 512;
using StridedMap = Eigen::Map<MatR, 0, Eigen::OuterStride<>>;
using CStridedMap = Eigen::Map<const MatR, 0, Eigen::OuterStride<>>;

class FireEncoder : public PositionalEncoder {
 public:
  FireEncoder(const Options& o, const ModelDims& dims)
      : hidden_(o.get_int("hidden")),
        c_init_(o.get_float("c_init")),
        L_init_(o.get_float("L_init")),
        heads_(dims.heads),
        causal_(dims.causal),
        layers_(dims.layers) {}

  void declare_parameters(ParameterSet& params) override {
    params_ = &params;
    for (int l = 0; l < layers_; ++l) {
      const std::string pre = "encoder.layers." + std::to_string(l) + ".";
      LayerParams p;
      p.w1 = params.declare(pre + "fc1.weight", {hidden_, 1}, Init::Normal, 1.0, false);
      p.b1 = params.declare(pre + "fc1.bias", {hidden_}, Init::Normal, 1.0, false);
      p.w2 = params.declare(pre + "fc2.weight", {heads_, hidden_}, Init::Normal,
                            1.0 / std::sqrt(double(hidden_)), false);
      p.log_c = params.declare(pre + "log_c", {1}, Init::Zeros, 0.0, false);
      p.log_L = params.declare(pre + "log_L", {1}, Init::Zeros, 0.0, false);
      layer_params_.push_back(p);
    }
    caches_.resize(layers_);
    pieces_.assign(layers_, std::vector<Pieces>(heads_));
  }

  // Leaves q and k alone: rebuilds the layer's piecewise-linear f_θ for the streaming
  // tiles of the attention that follows (they call no materialized score hook).
  void rotate_qk_forward(int layer, Real* /*q*/, Real* /*k*/, const AttnDims& /*d*/) override {
    build_pieces(layer);
  }

  bool has_score_bias() const override { return true; }

  void score_bias_forward(int layer, const Real* /*q*/, const Real* /*k*/, Real* logits,
                          const AttnDims& d) override {
    build_pieces(layer);
    const int T = d.T, H = heads_, K = hidden_;
    const LayerParams& p = layer_params_.at(layer);
    Cache& c = caches_.at(layer);
    const Scalars s = scalars(layer);
    c.layout = make_layout(T, s.L);
    const std::size_t E = c.layout.entries;
    // x [E]: ψ(r)/ψ(n) for every distinct (r, n)
    c.x.resize(E);
    for_each_entry(c.layout, T, s.L, [&](std::size_t e, int r, double n, bool /*shared*/) {
      c.x[e] = Real(psi(s.c, r) / psi(s.c, n));
    });
    // hidden [E, K] = ReLU(x W1ᵀ + b1);  outT [H, E] = W2 hiddenᵀ (per head, contiguous).
    // Fixed blocks of entries, one thread each (see kBlock).
    const Real* w1 = params_->value(p.w1);
    const Real* b1 = params_->value(p.b1);
    const CMapR W2(params_->value(p.w2), H, K);
    c.pre.resize(E * K);
    c.hidden.resize(E * K);
    outT_.resize(E * H);
    const int blocks = int((E + kBlock - 1) / kBlock);
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < blocks; ++blk) {
      const std::size_t e0 = std::size_t(blk) * kBlock, n = std::min<std::size_t>(kBlock, E - e0);
      Real* pre = c.pre.data() + e0 * K;
      for (std::size_t e = 0; e < n; ++e)
        for (int k = 0; k < K; ++k) pre[e * K + k] = c.x[e0 + e] * w1[k] + b1[k];
      MapR hidden(c.hidden.data() + e0 * K, n, K);
      hidden = CMapR(pre, n, K).cwiseMax(Real(0));
      StridedMap(outT_.data() + e0, H, n, Eigen::OuterStride<>(E)).noalias() = W2 * hidden.transpose();
    }

    const std::size_t s_block = std::size_t(T) * T;
    const bool by_key = c.layout.by_key;
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < d.B * d.H; ++bh) {
      const Real* f = outT_.data() + std::size_t(bh % d.H) * E;
      Real* sc = logits + bh * s_block;
      for (int i = 0; i < T; ++i) {
        const Real* row = f + c.layout.row_start(i);  // row[r], r = distance (or row[j])
        Real* si = sc + std::size_t(i) * T;
        const int n = d.causal ? i + 1 : T;  // masked keys are overwritten after the hook
        if (by_key)
          for (int j = 0; j < n; ++j) si[j] += row[j];
        else
          for (int j = 0; j < n; ++j) si[j] += row[std::abs(i - j)];
      }
    }
  }

  void score_bias_backward(int layer, const Real* /*q*/, const Real* /*k*/, const Real* dlogits,
                           Real* /*dq*/, Real* /*dk*/, const AttnDims& d) override {
    const int T = d.T, H = heads_, K = hidden_;
    const LayerParams& p = layer_params_.at(layer);
    const Cache& c = caches_.at(layer);
    const std::size_t E = c.layout.entries, s_block = std::size_t(T) * T;
    // doutT [H, E] = Σ_b Σ_{i,j} dlogits at the entry (i, |i - j|)
    doutT_.assign(E * H, Real(0));
    const bool by_key = c.layout.by_key;
#pragma omp parallel for schedule(static)
    for (int h = 0; h < H; ++h) {
      Real* g = doutT_.data() + std::size_t(h) * E;
      for (int b = 0; b < d.B; ++b) {
        const Real* dl = dlogits + (std::size_t(b) * d.H + h) * s_block;
        for (int i = 0; i < T; ++i) {
          Real* row = g + c.layout.row_start(i);
          const Real* di = dl + std::size_t(i) * T;
          const int n = d.causal ? i + 1 : T;  // dlogits of masked keys are 0
          if (by_key)
            for (int j = 0; j < n; ++j) row[j] += di[j];
          else
            for (int j = 0; j < n; ++j) row[std::abs(i - j)] += di[j];
        }
      }
    }
    // The MLP backward in the forward's blocks: each block writes its own partial sums of
    // dW2 [H, K], dW1 [K] and db1 [K], which are then added in block order (a fixed order,
    // whatever the thread count).
    const Real* w1 = params_->value(p.w1);
    const CMapR W2(params_->value(p.w2), H, K);
    const int blocks = int((E + kBlock - 1) / kBlock);
    const std::size_t part = std::size_t(H) * K + 2 * K;
    partials_.assign(std::size_t(blocks) * part, Real(0));
    dpre_.resize(E * K);
    dx_.resize(E);
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < blocks; ++blk) {
      const std::size_t e0 = std::size_t(blk) * kBlock, n = std::min<std::size_t>(kBlock, E - e0);
      const CStridedMap dout(doutT_.data() + e0, H, n, Eigen::OuterStride<>(E));  // [H, n]
      Real* sums = partials_.data() + std::size_t(blk) * part;
      // fc2: dW2 += dout hidden
      MapR(sums, H, K).noalias() = dout * CMapR(c.hidden.data() + e0 * K, n, K);
      // dpre [n, K] = (doutᵀ W2) ⊙ [pre > 0]
      MapR dpre(dpre_.data() + e0 * K, n, K);
      dpre.noalias() = dout.transpose() * W2;
      dpre = (CMapR(c.pre.data() + e0 * K, n, K).array() > Real(0)).select(dpre, Real(0));
      // fc1: dW1 += dpreᵀ x, db1 += Σ_e dpre, dx = dpre W1
      Real* dw1 = sums + std::size_t(H) * K;
      Real* db1 = dw1 + K;
      for (std::size_t e = 0; e < n; ++e) {
        const Real* g = dpre_.data() + (e0 + e) * K;
        const Real xe = c.x[e0 + e];
        Real dxe = 0;
        for (int k = 0; k < K; ++k) {
          dw1[k] += g[k] * xe;
          db1[k] += g[k];
          dxe += g[k] * w1[k];
        }
        dx_[e0 + e] = dxe;
      }
    }
    Real* gw2 = params_->grad(p.w2);
    Real* gw1 = params_->grad(p.w1);
    Real* gb1 = params_->grad(p.b1);
    for (int blk = 0; blk < blocks; ++blk) {
      const Real* sums = partials_.data() + std::size_t(blk) * part;
      for (int hk = 0; hk < H * K; ++hk) gw2[hk] += sums[hk];
      for (int k = 0; k < K; ++k) {
        gw1[k] += sums[H * K + k];
        gb1[k] += sums[H * K + K + k];
      }
    }
    // x = ψ(r)/ψ(n) → c and L (in double, summed in entry order)
    const Scalars s = scalars(layer);
    double dc = 0, dL = 0;
    for_each_entry(c.layout, T, s.L, [&](std::size_t e, int r, double n, bool shared) {
      const double g = dx_[e];
      if (g == 0) return;
      const double pr = psi(s.c, r), pn = psi(s.c, n);
      dc += g * ((r / (1 + s.c * r)) / pn - pr * (n / (1 + s.c * n)) / (pn * pn));
      if (shared) dL += g * (-pr * (s.c / (1 + s.c * n)) / (pn * pn));
    });
    params_->grad(p.log_c)[0] += Real(dc * s.c);
    params_->grad(p.log_L)[0] += Real(dL * s.L);
  }

  // State: ψ of each distance the tile spans ((rows + cols - 1) Reals: r from the tile's
  // smallest to its largest |i - j|), then ψ(max(L, i)) per row.
  std::size_t tile_state_size(int rows, int cols) const override {
    return std::size_t(rows) + cols - 1 + rows;
  }

  void score_bias_tile(const AttnTile& t, Real* scores, int ld, Real* state) const override {
    const Scalars s = scalars(t.layer);
    const Pieces& f = pieces_.at(t.layer).at(t.h);
    if (!identity_positions()) {  // r = |p_i - p_j|, n = max(L, p_i), per entry
      Real* psi_n = state + (t.rows() + t.cols() - 1);  // [rows]
      for (int row = 0; row < t.rows(); ++row) {
        const int i = t.i0 + row, n = t.key_end(row) - t.j0, pi = position(i);
        psi_n[row] = Real(psi(s.c, normaliser(pi, s.L)));
        Real* sc = scores + std::size_t(row) * ld;
        for (int col = 0; col < n; ++col) {
          const Real x = Real(psi(s.c, std::abs(pi - position(t.j0 + col)))) / psi_n[row];
          const std::size_t piece = std::size_t(
              std::upper_bound(f.knots.begin(), f.knots.end(), x) - f.knots.begin());
          sc[col] += f.slope[piece] * x + f.intercept[piece];
        }
      }
      return;
    }
    // Distances |i - j| in this tile lie in [lo, hi].
    const int lo_rp = t.j0 - (t.i1 - 1), hi_rp = (t.j1 - 1) - t.i0;
    const int lo = (lo_rp <= 0 && hi_rp >= 0) ? 0 : std::min(std::abs(lo_rp), std::abs(hi_rp));
    const int hi = std::max(std::abs(lo_rp), std::abs(hi_rp));
    Real* psi_r = state;                            // [hi - lo + 1]
    Real* psi_n = state + (t.rows() + t.cols() - 1);  // [rows]
    for (int r = lo; r <= hi; ++r) psi_r[r - lo] = Real(psi(s.c, r));
    for (int row = 0; row < t.rows(); ++row) psi_n[row] = Real(psi(s.c, normaliser(t.i0 + row, s.L)));
    for (int row = 0; row < t.rows(); ++row) {
      const int i = t.i0 + row, n = t.key_end(row) - t.j0;
      Real* sc = scores + std::size_t(row) * ld;
      for (int col = 0; col < n; ++col) {
        const int r = std::abs(i - (t.j0 + col));
        const Real x = psi_r[r - lo] / psi_n[row];  // in double: the materialized x exactly
        const std::size_t piece = std::size_t(
            std::upper_bound(f.knots.begin(), f.knots.end(), x) - f.knots.begin());
        sc[col] += f.slope[piece] * x + f.intercept[piece];
      }
    }
  }

  std::vector<NamedArray> describe() const override {
    std::vector<NamedArray> out;
    if (!params_) return out;
    for (int l = 0; l < layers_; ++l) {
      const Scalars s = scalars(l);
      out.push_back(NamedArray{"layers." + std::to_string(l) + ".c", {s.c}, {1},
                               "c in psi(x) = log(c x + 1)"});
      out.push_back(NamedArray{"layers." + std::to_string(l) + ".L", {s.L}, {1},
                               "threshold L of the normaliser psi(max(L, i))"});
    }
    return out;
  }

 private:
  struct LayerParams {
    ParameterSet::Handle w1, b1, w2, log_c, log_L;
  };
  struct Scalars {
    double c, L;
  };
  // Where the distinct inputs live: queries i < shared_rows read entries r (normaliser L);
  // query i >= shared_rows reads entries start[i] + r (normaliser i).
  // Randomized positions (by_key): no sharing; query i's entries are start[i] + j, one per
  // key j it sees, r = |p_i - p_j|, n = max(L, p_i).
  struct Layout {
    bool by_key = false;
    int shared_rows = 0;
    std::size_t shared_count = 0;  // entries 0 .. shared_count-1: r = entry, normaliser L
    std::size_t entries = 0;
    std::vector<std::size_t> start;  // [T]: first entry of row i (0 for shared rows)
    std::size_t row_start(int i) const { return start[i]; }
  };
  // f_θ for one head: Σ_k W2[h,k] ReLU(W1[k] x + b1[k]) is linear between the units' kinks
  // -b1[k]/W1[k]; knots ascending, piece p (x in [knots[p-1], knots[p])) is
  // slope[p]·x + intercept[p]. At a knot the unit switching on or off contributes 0, so
  // the pieces meet, and a tile entry costs a binary search and one multiply-add instead
  // of `hidden` of them; the result differs from the materialized sum by rounding only.
  struct Pieces {
    std::vector<Real> knots, slope, intercept;
  };

  void build_pieces(int layer) {
    const LayerParams& p = layer_params_.at(layer);
    const int K = hidden_;
    const Real* w1 = params_->value(p.w1);
    const Real* b1 = params_->value(p.b1);
    const Real* w2 = params_->value(p.w2);
    std::vector<double> knots;
    for (int k = 0; k < K; ++k)
      if (w1[k] != 0) knots.push_back(-double(b1[k]) / w1[k]);
    std::sort(knots.begin(), knots.end());
    knots.erase(std::unique(knots.begin(), knots.end()), knots.end());
    const std::size_t m = knots.size();
    for (int h = 0; h < heads_; ++h) {
      Pieces& f = pieces_[layer][h];
      f.knots.assign(knots.begin(), knots.end());
      f.slope.assign(m + 1, 0);
      f.intercept.assign(m + 1, 0);
      for (std::size_t piece = 0; piece <= m; ++piece) {
        // A point inside the piece decides which units are active there.
        const double inside = m == 0 ? 0.0
                              : piece == 0 ? knots[0] - 1
                              : piece == m ? knots[m - 1] + 1
                                           : 0.5 * (knots[piece - 1] + knots[piece]);
        double slope = 0, intercept = 0;
        for (int k = 0; k < K; ++k)
          if (double(w1[k]) * inside + b1[k] > 0) {
            slope += double(w2[h * K + k]) * w1[k];
            intercept += double(w2[h * K + k]) * b1[k];
          }
        f.slope[piece] = Real(slope);
        f.intercept[piece] = Real(intercept);
      }
    }
  }

  struct Cache {
    Layout layout;
    RealBuffer x;       // [E]
    RealBuffer pre;     // [E, hidden] W1 x + b1
    RealBuffer hidden;  // [E, hidden] ReLU(pre)
  };

  static double psi(double c, double x) { return std::log1p(c * x); }
  static double normaliser(int i, double L) { return std::max(L, double(i)); }

  Scalars scalars(int layer) const {
    const LayerParams& p = layer_params_.at(layer);
    return {c_init_ * std::exp(double(params_->value(p.log_c)[0])),
            L_init_ * std::exp(double(params_->value(p.log_L)[0]))};
  }

  // Largest distance query i sees.
  int max_distance(int i, int T) const { return causal_ ? i : std::max(i, T - 1 - i); }

  Layout make_layout(int T, double L) const {
    Layout lay;
    if (!identity_positions()) {
      lay.by_key = true;
      lay.start.assign(T, 0);
      std::size_t next = 0;
      for (int i = 0; i < T; ++i) {
        lay.start[i] = next;
        next += causal_ ? i + 1 : T;
      }
      lay.entries = next;
      return lay;
    }
    // i < L  <=>  i < ceil(L) for an integer i.
    lay.shared_rows = int(std::min<double>(T, std::ceil(L)));
    lay.start.assign(T, 0);
    std::size_t next = 0;
    if (lay.shared_rows > 0)  // the shared list covers the largest distance of its rows
      for (int i = 0; i < lay.shared_rows; ++i) next = std::max<std::size_t>(next, max_distance(i, T) + 1);
    lay.shared_count = next;
    for (int i = lay.shared_rows; i < T; ++i) {
      lay.start[i] = next;
      next += max_distance(i, T) + 1;
    }
    lay.entries = next;
    return lay;
  }

  // fn(entry, r, n, shared) for every entry, in entry order.
  template <class Fn>
  void for_each_entry(const Layout& lay, int T, double L, Fn fn) const {
    if (lay.by_key) {
      for (int i = 0; i < T; ++i) {
        const int pi = position(i);
        const bool shared = pi < L;  // the normaliser is L
        for (int j = 0; j < (causal_ ? i + 1 : T); ++j)
          fn(lay.start[i] + j, std::abs(pi - position(j)), shared ? L : double(pi), shared);
      }
      return;
    }
    for (std::size_t e = 0; e < lay.shared_count; ++e) fn(e, int(e), L, true);
    for (int i = lay.shared_rows; i < T; ++i)
      for (int r = 0; r <= max_distance(i, T); ++r) fn(lay.start[i] + r, r, double(i), false);
  }

  int hidden_;
  double c_init_, L_init_;
  int heads_;
  bool causal_;
  int layers_;
  ParameterSet* params_ = nullptr;
  std::vector<LayerParams> layer_params_;
  std::vector<Cache> caches_;  // per layer: forward values the backward reads
  std::vector<std::vector<Pieces>> pieces_;  // [layer][head]: f_θ for the streaming tiles
  // scratch shared by the layers
  RealBuffer outT_, doutT_, dpre_, dx_, partials_;
};

POSLAB_REGISTER_ENCODER(
    FireEncoder, "fire",
    "learned MLP of the log distance normalised by the query position, "
    "f(psi(i-j)/psi(max(L,i))), per layer (Li et al. 2024)",
    with_randomized({
        {"hidden", OptionSpec::Type::Int, "32", "hidden width of the MLP 1 -> hidden -> heads", 1},
        {"c_init", OptionSpec::Type::Float, "1.0", "initial c in psi(x) = log(c x + 1) (> 0)", 1e-12},
        {"L_init", OptionSpec::Type::Float, "16",
         "initial threshold L of the normaliser psi(max(L, i)) (> 0)", 1e-12}}))

}  // namespace
}  // namespace poslab
