// alibi (Press et al. 2022, "Train Short, Test Long: Attention with Linear Biases Enables
// Input Length Extrapolation"): a fixed penalty linear in distance, added to the attention
// logits of head h:
//   logits[b,h,i,j] += -m_h · |i - j|
// with slopes m_h = 2^(-8h/H), h = 1..H, for H a power of two, and the paper's
// interleaving otherwise (alibi_slopes.h). Acts in score_bias only; no parameters, no
// options; defined for any length. Causal and bidirectional: causal models see only
// j <= i (the rest is masked), where the bias is -m_h·(i - j) as in the paper; bidirectional
// models get the symmetric -m_h·|i - j| (docs/design.md), which penalises distance equally in
// both directions.
//
// The bias depends on i and j only through j - i, so it is stored per offset, [H, 2T-1]
// (offset o = j - i + T - 1), and row i of head h is the contiguous slice starting at
// T - 1 - i: adding it is a vector add, with no [H, T, T] table to read. The streaming
// attention's tiles compute -m_h·|i - j| per element instead (no table at all).
// Randomized positions: -m_h·|p_i - p_j|, the table spanning position_span(T) offsets
// (offset_bias.h), the tiles per element from the positions.
#include <cmath>
#include <cstdlib>

#include "encoders/alibi_slopes.h"
#include "encoders/encoder.h"
#include "encoders/offset_bias.h"
#include "encoders/randomized_positions.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {
namespace {

class AlibiEncoder : public PositionalEncoder {
 public:
  AlibiEncoder(const Options&, const ModelDims& dims) : slopes_(alibi_slopes(dims.heads)) {}

  bool has_score_bias() const override { return true; }

  void score_bias_forward(int /*layer*/, const Real* /*q*/, const Real* /*k*/, Real* logits,
                          const AttnDims& d) override {
    const int T = d.T;
    // The table depends only on T (and the positions' span): built once per length.
    if (by_offset_T_ != T || by_offset_version_ != positions_version()) {
      by_offset_ = bias_by_offset(position_span(T)).cast<Real>();
      by_offset_T_ = T;
      by_offset_version_ = positions_version();
    }
    add_offset_bias(by_offset_.data(), logits, d, *this);
  }
  // The bias depends on neither q, k nor any parameter: backward has nothing to add.

  // Streaming form: computed from j - i directly, in double and rounded once, exactly as
  // the per-offset table above is, so both paths add the same numbers.
  void score_bias_tile(const AttnTile& t, Real* scores, int ld, Real* /*state*/) const override {
    const double m = slopes_[t.h];
    if (!identity_positions()) {
      for (int r = 0; r < t.rows(); ++r) {
        const int pi = position(t.i0 + r), n = t.key_end(r) - t.j0;
        Real* s = scores + std::size_t(r) * ld;
        for (int c = 0; c < n; ++c) s[c] += Real(-m * std::abs(position(t.j0 + c) - pi));
      }
      return;
    }
    for (int r = 0; r < t.rows(); ++r) {
      const int i = t.i0 + r, n = t.key_end(r) - t.j0;
      Real* s = scores + std::size_t(r) * ld;
      for (int c = 0; c < n; ++c) s[c] += Real(-m * std::abs(t.j0 + c - i));
    }
  }

  std::vector<NamedArray> describe() const override {
    return {NamedArray{"slopes", slopes_, {slopes_.size()},
                       "[head]: m_h in bias_h(i, j) = -m_h |i - j|"}};
  }

  // The bias as added to the logits, [H, L, L], and the slopes.
  std::vector<NamedArray> encode(int length) const override {
    const Eigen::MatrixXd by_offset = bias_by_offset(length);
    NamedArray bias{"bias", {}, {slopes_.size(), std::size_t(length), std::size_t(length)},
                    "[head, query i, key j]: -m_h |i - j| added to the attention logits "
                    "(in a causal model only j <= i is used)"};
    bias.data.reserve(slopes_.size() * length * length);
    for (std::size_t h = 0; h < slopes_.size(); ++h)
      for (int i = 0; i < length; ++i)
        for (int j = 0; j < length; ++j) bias.data.push_back(by_offset(h, j - i + length - 1));
    auto out = describe();
    out.push_back(std::move(bias));
    return out;
  }

 private:
  // [H, 2T-1]: column o holds the bias of offset j - i = o - (T - 1).
  Eigen::MatrixXd bias_by_offset(int T) const {
    Eigen::MatrixXd table(slopes_.size(), 2 * T - 1);
    for (std::size_t h = 0; h < slopes_.size(); ++h)
      for (int o = 0; o < 2 * T - 1; ++o) table(h, o) = -slopes_[h] * std::abs(o - (T - 1));
    return table;
  }

  std::vector<double> slopes_;  // [H]
  MatR by_offset_;              // [H, 2S-1] for the last T (and positions) seen
  int by_offset_T_ = -1;
  std::uint64_t by_offset_version_ = 0;
};

POSLAB_REGISTER_ENCODER(AlibiEncoder, "alibi",
                        "fixed linear distance penalty on the attention logits, one slope per "
                        "head (Press et al. 2022)",
                        with_randomized({}))

}  // namespace
}  // namespace poslab
