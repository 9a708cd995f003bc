// t5 relative position bias (Raffel et al. 2020, "Exploring the Limits of Transfer Learning
// with a Unified Text-to-Text Transformer", section 2.1): a learned scalar per (bucket,
// head), added to the attention logits:
//   logits[b,h,i,j] += bias[bucket(j - i), h]
// Buckets of the relative position j - i as in T5 (relative_bucket.h): the nearest
// distances get a bucket each, farther ones share logarithmically wider buckets up to
// max_distance, beyond which all distances share the last bucket. Bidirectional models
// spend half of the buckets on each direction; causal models spend all of them looking
// back. One table [num_buckets, H] is shared by all layers, as in T5. Acts in score_bias
// only; defined for any length (long distances reuse the last bucket).
//
// Initialisation: zeros by default. The bias enters the logits additively, so its gradient
// does not depend on its own value — there is no symmetry to break — and a zero table lets
// the model start with no positional preference and learn one. (init_std > 0 draws
// N(0, init_std) instead.) Not weight-decayed: decay would pull the learned distance
// preferences towards "no preference".
//
// The bias depends on i and j only through j - i, so the forward builds it per offset,
// [H, 2T-1] (offset o = j - i + T - 1), from the current parameters at every call (they
// change every step; the build is H·(2T-1) lookups); row i of head h is then the
// contiguous slice starting at T - 1 - i. The buckets of the offsets are cached per T.
//
// Streaming tiles (score_bias_tile) need no table that grows with T: every |j - i| >=
// max_distance falls in its direction's last bucket, so the buckets of the clamped offsets
// -max_distance .. max_distance are computed once in the constructor, and a key tile far
// behind its queries adds one scalar per row.
// Randomized positions: bucket(p_j - p_i); the per-offset table spans position_span(T)
// offsets (offset_bias.h gathers them), the tiles clamp p_j - p_i per entry.
#include <algorithm>
#include <string>

#include "encoders/encoder.h"
#include "encoders/offset_bias.h"
#include "encoders/randomized_positions.h"
#include "encoders/relative_bucket.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {
namespace {

class T5Encoder : public PositionalEncoder {
 public:
  T5Encoder(const Options& o, const ModelDims& dims)
      : num_buckets_(o.get_int("num_buckets")),
        max_distance_(o.get_int("max_distance")),
        init_std_(o.get_float("init_std")),
        heads_(dims.heads),
        bidirectional_(!dims.causal) {
    // Per direction, half of the buckets hold one distance each; at least one must, and
    // the logarithmic part needs max_distance beyond them (else its log ratio is <= 0).
    const int per_direction = bidirectional_ ? num_buckets_ / 2 : num_buckets_;
    const int max_exact = per_direction / 2;
    if (max_exact < 1)
      o.node("num_buckets").fail("expected >= " + std::string(bidirectional_ ? "4" : "2") +
                                 " in a " + (bidirectional_ ? "bidirectional" : "causal") +
                                 " model, got " + std::to_string(num_buckets_));
    if (max_distance_ <= max_exact)
      o.node("max_distance").fail("expected > " + std::to_string(max_exact) +
                                  " (the distances with a bucket of their own for num_buckets " +
                                  std::to_string(num_buckets_) + "), got " +
                                  std::to_string(max_distance_));
    for (int rp = -max_distance_; rp <= max_distance_; ++rp)
      bucket_of_clamped_.push_back(t5_bucket(rp, bidirectional_, num_buckets_, max_distance_));
  }

  void declare_parameters(ParameterSet& params) override {
    params_ = &params;
    table_ = params.declare("encoder.bias", {num_buckets_, heads_},
                            init_std_ > 0 ? Init::Normal : Init::Zeros, init_std_, false);
  }

  bool has_score_bias() const override { return true; }

  // The same table serves every layer, so `layer` is not used.
  void score_bias_forward(int /*layer*/, const Real* /*q*/, const Real* /*k*/, Real* logits,
                          const AttnDims& d) override {
    const int T = d.T, S = position_span(T), W = 2 * S - 1;  // S = T for 0..T-1
    refresh_buckets(S);
    // by_offset[h, o] = bias[bucket(o - (S - 1)), h]                       [H, 2S-1]
    const Real* table = params_->value(table_);
    by_offset_.resize(std::size_t(heads_) * W);
    for (int h = 0; h < heads_; ++h)
      for (int o = 0; o < W; ++o) by_offset_[h * W + o] = table[bucket_of_offset_[o] * heads_ + h];
    add_offset_bias(by_offset_.data(), logits, d, *this);
  }

  // Row r (query i) of the tile, keys j: += bias[bucket(clamp(j - i, -M, M)), h], M =
  // max_distance; the keys at or beyond ±M form the row's two end runs.
  void score_bias_tile(const AttnTile& t, Real* scores, int ld, Real* /*state*/) const override {
    const Real* table = params_->value(table_);
    const int M = max_distance_, H = heads_, h = t.h;
    const Real far_back = table[bucket_of_clamped_.front() * H + h];
    const Real far_ahead = table[bucket_of_clamped_.back() * H + h];
    if (!identity_positions()) {
      for (int r = 0; r < t.rows(); ++r) {
        const int pi = position(t.i0 + r), end = t.key_end(r);
        Real* s = scores + std::size_t(r) * ld;
        for (int j = t.j0; j < end; ++j)
          s[j - t.j0] += table[bucket_of_clamped_[std::clamp(position(j) - pi, -M, M) + M] * H + h];
      }
      return;
    }
    for (int r = 0; r < t.rows(); ++r) {
      const int i = t.i0 + r, end = t.key_end(r);
      if (end <= t.j0) continue;
      Real* s = scores + std::size_t(r) * ld;  // s[j - j0] for keys j0 <= j < end
      const int lo = std::clamp(i - M + 1, t.j0, end);  // first key with j - i > -M
      const int hi = std::clamp(i + M, lo, end);        // first key with j - i >= M
      for (int j = t.j0; j < lo; ++j) s[j - t.j0] += far_back;
      for (int j = lo; j < hi; ++j)
        s[j - t.j0] += table[bucket_of_clamped_[j - i + M] * H + h];
      for (int j = hi; j < end; ++j) s[j - t.j0] += far_ahead;
    }
  }

  // dbias[bucket, h] += Σ_b Σ_{i,j: bucket(j-i) = bucket} dlogits[b,h,i,j]: the sums by
  // offset (offset_bias.h: each (b, h) sums its own diagonals, then the rows are added in
  // a fixed order, so the result does not depend on the thread count), gathered by bucket.
  // The bias does not depend on q or k: dq, dk are untouched.
  void score_bias_backward(int /*layer*/, const Real* /*q*/, const Real* /*k*/,
                           const Real* dlogits, Real* /*dq*/, Real* /*dk*/,
                           const AttnDims& d) override {
    // Offsets p_j - p_i over the span S (S = T and o = j - i + T - 1 for positions 0..T-1).
    const int S = position_span(d.T), W = 2 * S - 1;
    refresh_buckets(S);
    const std::vector<double> g = sum_by_offset(dlogits, d, *this);
    Real* grad = params_->grad(table_);
    for (int h = 0; h < d.H; ++h)
      for (int o = 0; o < W; ++o)
        grad[bucket_of_offset_[o] * heads_ + h] += Real(g[std::size_t(h) * W + o]);
  }

  std::vector<NamedArray> describe() const override {
    // Relative positions rp = j - i from -max_distance (looking back) up to +max_distance
    // (bidirectional) or 0 (causal: later keys are masked); farther ones share the end
    // buckets.
    const int lo = -max_distance_, hi = bidirectional_ ? max_distance_ : 0;
    const std::size_t n = std::size_t(hi - lo + 1);
    NamedArray rp{"relative_position", {}, {n}, "rp = j - i (key minus query), the axis of "
                  "bucket_of_distance and bias_by_distance"};
    NamedArray bucket{"bucket_of_distance", {}, {n}, std::string("[rp]: bucket of rp = j - i (") +
                      (bidirectional_ ? "bidirectional: rp > 0 in the upper half" : "causal") +
                      "; beyond ±max_distance the end bucket)"};
    for (int r = lo; r <= hi; ++r) {
      rp.data.push_back(r);
      bucket.data.push_back(t5_bucket(r, bidirectional_, num_buckets_, max_distance_));
    }
    std::vector<NamedArray> out{rp, bucket};
    if (!params_) return out;  // parameters not declared yet: the bucketing alone

    const Real* table = params_->value(table_);
    NamedArray bias{"bias", {}, {std::size_t(num_buckets_), std::size_t(heads_)},
                    "[bucket, head]: the learned scalar added to the logits (shared by all "
                    "layers)"};
    bias.data.assign(table, table + std::size_t(num_buckets_) * heads_);
    NamedArray by_distance{"bias_by_distance", {}, {std::size_t(heads_), n},
                           "[head, rp]: bias[bucket_of_distance[rp], head]"};
    for (int h = 0; h < heads_; ++h)
      for (double b : bucket.data) by_distance.data.push_back(table[int(b) * heads_ + h]);
    out.push_back(std::move(bias));
    out.push_back(std::move(by_distance));
    return out;
  }

  // The bias as added to the logits, [H, L, L], and the bucket of each (i, j), [L, L].
  std::vector<NamedArray> encode(int length) const override {
    const std::size_t L = std::size_t(length), H = std::size_t(heads_);
    NamedArray bucket{"bucket", {}, {L, L}, "[query i, key j]: bucket of j - i"};
    for (int i = 0; i < length; ++i)
      for (int j = 0; j < length; ++j)
        bucket.data.push_back(t5_bucket(j - i, bidirectional_, num_buckets_, max_distance_));
    std::vector<NamedArray> out{bucket};
    if (!params_) return out;
    const Real* table = params_->value(table_);
    NamedArray bias{"bias", {}, {H, L, L},
                    std::string("[head, query i, key j]: bias[bucket(j - i), head] added to "
                                "the logits") +
                        (bidirectional_ ? "" : " (causal: keys j > i are masked, written as 0)")};
    bias.data.reserve(H * L * L);
    for (int h = 0; h < heads_; ++h)
      for (int i = 0; i < length; ++i)
        for (int j = 0; j < length; ++j)
          bias.data.push_back(!bidirectional_ && j > i
                                  ? 0.0
                                  : double(table[int(bucket.data[i * L + j]) * heads_ + h]));
    out.push_back(std::move(bias));
    return out;
  }

 private:
  // bucket_of_offset_[o] = bucket(o - (T - 1)), [2T-1]; depends only on T (and the kind).
  // (T is the positions' span with randomized positions.)
  void refresh_buckets(int T) {
    if (buckets_T_ == T) return;
    bucket_of_offset_.resize(2 * T - 1);
    for (int o = 0; o < 2 * T - 1; ++o)
      bucket_of_offset_[o] = t5_bucket(o - (T - 1), bidirectional_, num_buckets_, max_distance_);
    buckets_T_ = T;
  }

  int num_buckets_, max_distance_;
  double init_std_;
  int heads_;
  bool bidirectional_;
  ParameterSet* params_ = nullptr;
  ParameterSet::Handle table_ = -1;  // encoder.bias [num_buckets, H]
  std::vector<int> bucket_of_offset_;
  std::vector<int> bucket_of_clamped_;  // [2·max_distance + 1]: bucket(rp), rp = -M .. M
  int buckets_T_ = -1;
  RealBuffer by_offset_;  // [H, 2T-1] scratch of the forward
};

POSLAB_REGISTER_ENCODER(
    T5Encoder, "t5",
    "learned scalar bias per (relative-position bucket, head) on the attention logits, shared "
    "by all layers (Raffel et al. 2020)",
    with_randomized({
        {"num_buckets", OptionSpec::Type::Int, "32",
         "buckets of j - i (half per direction when bidirectional)", 2, 4096},
        {"max_distance", OptionSpec::Type::Int, "128",
         "distance from which all farther positions share the last bucket", 2},
        {"init_std", OptionSpec::Type::Float, "0",
         "std of the N(0, s) initialisation of the bias table; 0 = zeros", 0}}))

}  // namespace
}  // namespace poslab
