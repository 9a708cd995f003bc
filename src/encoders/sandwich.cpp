// sandwich (Chi, Fan, Rudnicky & Ramadge, ACL 2023, "Dissecting Transformer Length
// Extrapolation via the Lens of Receptive Field Analysis", arXiv 2212.10356, section
// "Sandwich"): a parameter-free bias made of the dot product of the
// sinusoidal vectors of the two positions, minus its value at distance 0 so that a token's
// bias to itself is 0:
//   logits[b,h,i,j] += p_{i/r_h}ᵀ p_{j/r_h} - d̄/2
//                    = Σ_{k=0}^{d̄/2-1} cos((i - j) / (r_h · base^(2k/d̄))) - d̄/2
// with p the d̄-dimensional sinusoidal vectors of docs/design.md (sin/cos pairs, base 10000):
// sin a sin b + cos a cos b = cos(a - b), so the bias depends only on i - j, is 0 at i = j
// and negative elsewhere, and decays roughly like -(d̄/2)·ln|i - j| / ln(base) — a
// logarithmic, Kerple-like kernel that needs no parameter.
// Per-head scaling (the paper's "compression ratio", borrowed from ALiBi's per-head
// slopes): head h = 1..H gets r_h = 8h/H, so low heads see a sharp local bias and high
// heads a wide, flat one. Two readings exist, both offered (`head_scaling`):
//   compress (default): positions compressed by r_h, the formula above — the bias of
//            distance δ is that of δ/r_h;
//   divide:  the uncompressed bias divided by r_h (an ALiBi-like slope per head):
//            (Σ_k cos((i - j) / base^(2k/d̄)) - d̄/2) / r_h.
// The paper's text and the authors' code were not reachable when this was written; the
// one public implementation that cites the paper (NVIDIA NeMo's
// SandwichRelativePositionEmbedding) divides, and sums its frequencies over k = 1..d̄/2
// instead of 0..d̄/2-1: `head_scaling: divide, first_frequency: 1` reproduces it
// (a parity fixture checks that setting). `per_head_ratio: false` uses r_h = 1 for every
// head (then both readings agree). The studies ran the default.
//   first_frequency: k₀ ∈ {0, 1}; the sum runs over k = k₀..k₀ + d̄/2 - 1.
//   dim: d̄, even; 0 means d_model (the width the sinusoids would have as an absolute
//        embedding, the paper's setting for a model without positional embeddings).
// Acts in score_bias only; no parameters; causal and bidirectional (symmetric in i - j);
// defined for any length.
//
// The bias depends on nothing but the length, so it is tabulated once per length: by
// distance, [H, T] (rotate_qk_forward, which leaves q and k alone, builds it for the
// streaming attention, whose tiles then read it; score_bias_forward builds it too), and by
// offset, [H, 2T-1], for the materialized row slices. A tile whose distances lie beyond the
// table (a caller that skipped both hooks) evaluates the same double expression directly,
// d̄/2 cosines per offset, so every path adds the same numbers.
// Randomized positions: the bias of p_i - p_j; the tables span S = position_span(T)
// distances ([H, S] and [H, 2S-1], offset_bias.h), the tiles read by_distance per entry.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>

#include "encoders/encoder.h"
#include "encoders/offset_bias.h"
#include "encoders/randomized_positions.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {
namespace {

class SandwichEncoder : public PositionalEncoder {
 public:
  SandwichEncoder(const Options& o, const ModelDims& dims)
      : base_(o.get_float("base")), heads_(dims.heads) {
    const int requested = o.get_int("dim");
    dim_ = requested == 0 ? dims.d_model : requested;
    if (dim_ % 2 != 0 || dim_ < 2)
      o.node("dim").fail("expected an even number >= 2 (0 means d_model), got " +
                         std::to_string(requested) + (requested == 0 ? " (d_model is odd)" : ""));
    const int k0 = o.get_int("first_frequency");  // 0 or 1 (range declared below)
    for (int k = k0; k < k0 + dim_ / 2; ++k) frequency_.push_back(std::pow(base_, -2.0 * k / dim_));
    divide_ = o.get_string("head_scaling") == "divide";  // choices declared below
    const bool per_head = o.get_bool("per_head_ratio");
    for (int h = 1; h <= heads_; ++h) ratio_.push_back(per_head ? 8.0 * h / heads_ : 1.0);
  }

  // Leaves q and k alone: tabulates the bias for the attention that follows.
  void rotate_qk_forward(int /*layer*/, Real* /*q*/, Real* /*k*/, const AttnDims& d) override {
    ensure_tables(d.T);
  }

  bool has_score_bias() const override { return true; }

  void score_bias_forward(int /*layer*/, const Real* /*q*/, const Real* /*k*/, Real* logits,
                          const AttnDims& d) override {
    ensure_tables(d.T);
    add_offset_bias(by_offset_.data(), logits, d, *this);
  }
  // No parameters and no dependence on q or k: backward has nothing to add.

  std::size_t tile_state_size(int rows, int cols) const override { return tile_offsets(rows, cols); }

  void score_bias_tile(const AttnTile& t, Real* scores, int ld, Real* state) const override {
    const int first = t.j0 - (t.i1 - 1), last = (t.j1 - 1) - t.i0;
    const int far = std::max(std::abs(first), std::abs(last));
    const Real* table = by_distance_.data() + std::size_t(t.h) * table_span_;
    if (!identity_positions()) {  // distances |p_i - p_j| < the span: per entry
      if (table_T_ != t.T || table_version_ != positions_version())
        throw std::logic_error("sandwich: the bias table was not built for these positions "
                               "(rotate_qk_forward or score_bias_forward first)");
      for (int r = 0; r < t.rows(); ++r) {
        const int pi = position(t.i0 + r), n = t.key_end(r) - t.j0;
        Real* s = scores + std::size_t(r) * ld;
        for (int col = 0; col < n; ++col) s[col] += table[std::abs(position(t.j0 + col) - pi)];
      }
      return;
    }
    for (int rp = first; rp <= last; ++rp)
      state[rp - first] = far < table_span_ ? table[std::abs(rp)] : Real(bias(t.h, rp));
    add_tile_offset_bias(t, state, scores, ld);
  }

  std::vector<NamedArray> describe() const override {
    return {NamedArray{"ratio", ratio_, {ratio_.size()},
                       "[head]: compression ratio r_h (positions read as k / r_h)"},
            NamedArray{"frequency", frequency_, {frequency_.size()},
                       "[k]: base^(-2k/dim), radians per (compressed) position"}};
  }

  // The bias as added to the logits, [H, L, L].
  std::vector<NamedArray> encode(int length) const override {
    const std::size_t L = std::size_t(length);
    NamedArray b{"bias", {}, {std::size_t(heads_), L, L},
                 "[head, query i, key j]: the bias added to the logits (compress: sum_k cos((i - j) / "
                 "(r_h base^(2k/dim))) - dim/2; divide: (sum_k cos((i - j) / base^(2k/dim)) - "
                 "dim/2) / r_h; a causal model uses only j <= i)"};
    b.data.reserve(heads_ * L * L);
    for (int h = 0; h < heads_; ++h)
      for (int i = 0; i < length; ++i)
        for (int j = 0; j < length; ++j) b.data.push_back(bias(h, j - i));
    auto out = describe();
    out.push_back(std::move(b));
    return out;
  }

 private:
  // by_distance_ [H, S] and by_offset_ [H, 2S-1] for length T, S = position_span(T) (= T
  // for 0..T-1), built once per length (and positions).
  void ensure_tables(int T_in) {
    if (table_T_ == T_in && table_version_ == positions_version()) return;
    table_version_ = positions_version();
    table_T_ = T_in;
    const int T = position_span(T_in), W = 2 * T - 1;
    by_distance_.resize(std::size_t(heads_) * T);
    by_offset_.resize(std::size_t(heads_) * W);
    for (int h = 0; h < heads_; ++h) {
      for (int r = 0; r < T; ++r) by_distance_[std::size_t(h) * T + r] = Real(bias(h, r));
      for (int o = 0; o < W; ++o)
        by_offset_[std::size_t(h) * W + o] = by_distance_[std::size_t(h) * T + std::abs(o - (T - 1))];
    }
    table_span_ = T;
  }

  // In double, the one expression every path rounds. cos is even: the sign of rp is moot.
  double bias(int h, int rp) const {
    const double x = divide_ ? std::abs(rp) : std::abs(rp) / ratio_[h];
    double sum = 0;
    for (double f : frequency_) sum += std::cos(x * f);
    return divide_ ? (sum - dim_ / 2) / ratio_[h] : sum - dim_ / 2;
  }

  double base_;
  int heads_, dim_ = 0;
  bool divide_ = false;            // head_scaling: divide (else compress)
  std::vector<double> frequency_;  // [dim/2]
  std::vector<double> ratio_;      // [H]
  RealBuffer by_distance_;         // [H, S] for S = table_span_
  RealBuffer by_offset_;           // [H, 2S-1]
  int table_T_ = 0, table_span_ = 0;
  std::uint64_t table_version_ = 0;
};

POSLAB_REGISTER_ENCODER(
    SandwichEncoder, "sandwich",
    "parameter-free bias p_iᵀp_j - dim/2 from sinusoidal vectors, positions compressed per "
    "head by 8h/H (Chi et al. 2023)",
    with_randomized({
        {"dim", OptionSpec::Type::Int, "0", "sinusoid width d̄, even (0 = d_model)", 0},
        {"base", OptionSpec::Type::Float, "10000", "base of the frequencies base^(-2k/d̄)", 1.0},
        {"per_head_ratio", OptionSpec::Type::Bool, "true",
         "per-head ratio r_h = 8h/H (false: r_h = 1)"},
        {"head_scaling", OptionSpec::Type::String, "compress",
         "how r_h acts: compress (bias of distance/r_h) or divide (bias/r_h, as NeMo)",
         -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(),
         {"compress", "divide"}},
        {"first_frequency", OptionSpec::Type::Int, "0",
         "k0 of the frequencies base^(-2k/d̄), k = k0..k0+d̄/2-1 (NeMo: 1)", 0, 1}}))

}  // namespace
}  // namespace poslab
