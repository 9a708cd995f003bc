// rope (Su et al. 2021, "RoFormer: Enhanced Transformer with Rotary Position Embedding"):
// queries and keys are rotated by their position before the dot product, pair by pair.
// Inside each head, for m = 0 .. d_rot/2 - 1 the pair (x[2m], x[2m+1]) at position k is
// rotated by the angle φ(k, m) = (k / interpolation) · θ_m:
//   x'[2m]   = x[2m] cos φ - x[2m+1] sin φ
//   x'[2m+1] = x[2m] sin φ + x[2m+1] cos φ
//   θ_m = base'^(-2m / d_rot),   base' = base · ntk_factor^(d_rot / (d_rot - 2))
// Because rotations compose, q_i'·k_j' = q_iᵀ R(φ_j - φ_i) k_j depends on the positions only
// through i - j. Pairs are interleaved (2m, 2m+1), as in the RoFormer paper; GPT-NeoX and
// Llama pair dimension m with m + d_rot/2 instead (the same function up to a fixed
// permutation of q's and k's dimensions). Dimensions d_rot .. dh - 1 of each head pass
// through unrotated ("partial rotary"); rotary_dims 0 means d_rot = dh.
//   interpolation: linear position interpolation (Chen et al. 2023): position k is read as
//                  k / interpolation, so a model trained on T tokens sees the angles of
//                  T positions spread over interpolation·T tokens.
//   ntk_factor:    "NTK-aware" base rescale (bloc97, 2023): the base grows so that the
//                  lowest frequency (m = d_rot/2 - 1) is slowed by exactly ntk_factor while
//                  the highest (m = 0) stays put. Needs d_rot > 2.
//   scaling: yarn  YaRN (Peng et al. 2023, "YaRN: Efficient Context Window Extension of Large
//                  Language Models", "NTK-by-parts" + temperature), for a model trained on
//                  original_length tokens stretched by factor s: pair m, whose wavelength is
//                  λ_m = 2π/θ_m, turns r_m = original_length/λ_m times over the original
//                  context; with the ramp γ_m = clamp((r_m - alpha)/(beta - alpha), 0, 1)
//                    θ'_m = (1 - γ_m)·θ_m/s + γ_m·θ_m
//                  (pairs that turn more than beta times keep their frequency, pairs that
//                  turn less than alpha times are interpolated by s, the ones between are
//                  blended), and q, k are both multiplied by 0.1·ln(s) + 1, i.e. the logits
//                  by (0.1·ln(s) + 1)² (the paper's attention temperature √(1/t)).
//                  Replaces interpolation and ntk_factor (which must stay 1).
// Acts on: rotate_qk (q and k after the head split, before z = q·k/sqrt(dh)). No
// parameters. Causal and bidirectional alike; defined for any length.
//
// The backward is the transpose rotation (by -φ), applied in place to dq and dk.
// Randomized positions: slot t is rotated by φ(p[t], m), so q_i'·k_j' depends on p_i - p_j.
//
// position_matrix(L) is [L, d_rot]: row k holds (cos φ(k,m), sin φ(k,m)) for each m,
// interleaved like the pairs they rotate. It is the point on the unit circle each pair is
// turned to, which gives the probes something position-only to read for a scheme that adds
// no vector to the embeddings (its width is d_rot, not d_model).
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "encoders/encoder.h"
#include "encoders/randomized_positions.h"
#include "encoders/rotate_pairs.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {
namespace {

class RopeEncoder : public PositionalEncoder {
 public:
  RopeEncoder(const Options& o, const ModelDims& dims)
      : base_(o.get_float("base")),
        interpolation_(o.get_float("interpolation")),
        ntk_factor_(o.get_float("ntk_factor")),
        dh_(dims.d_head) {
    const bool yarn = o.get_string("scaling") == "yarn";
    const int requested = o.get_int("rotary_dims");
    d_rot_ = requested == 0 ? dh_ : requested;
    if (d_rot_ > dh_ || d_rot_ % 2 != 0)
      o.node("rotary_dims")
          .fail("expected an even number of dimensions <= d_head = " + std::to_string(dh_) +
                " (0 means d_head), got " + std::to_string(requested) +
                (requested == 0 ? " (d_head is odd)" : ""));
    if (interpolation_ <= 0)
      o.node("interpolation").fail("expected a factor > 0, got " + std::to_string(interpolation_));
    if (ntk_factor_ <= 0)
      o.node("ntk_factor").fail("expected a factor > 0, got " + std::to_string(ntk_factor_));
    // The exponent d_rot / (d_rot - 2) is undefined for a single pair.
    if (ntk_factor_ != 1.0 && d_rot_ <= 2)
      o.node("ntk_factor")
          .fail("the NTK base rescale needs rotary dims > 2 (base' = base·ntk_factor^(d_rot/(d_rot-2))), "
                "got d_rot = " + std::to_string(d_rot_) + "; use ntk_factor 1");
    const double scaled_base =
        ntk_factor_ == 1.0 ? base_ : base_ * std::pow(ntk_factor_, double(d_rot_) / (d_rot_ - 2));
    theta_.resize(d_rot_ / 2);
    for (int m = 0; m < d_rot_ / 2; ++m) theta_[m] = std::pow(scaled_base, -2.0 * m / d_rot_);
    const double factor = o.get_float("factor");
    if (!yarn && factor != 1.0)
      o.node("factor").fail("the stretch factor is read by scaling: yarn only; set scaling: yarn "
                            "or remove factor");
    if (yarn) apply_yarn(o, factor);
  }

  void rotate_qk_forward(int /*layer*/, Real* q, Real* k, const AttnDims& d) override {
    ensure_tables(d.T);
    rotate_pairs(q, cos_.data(), sin_.data(), d_rot_, d, +1);
    rotate_pairs(k, cos_.data(), sin_.data(), d_rot_, d, +1);
  }

  // y = R(φ) x  =>  dL/dx = R(φ)ᵀ dL/dy = R(-φ) dL/dy.
  void rotate_qk_backward(int /*layer*/, Real* dq, Real* dk, const AttnDims& d) override {
    ensure_tables(d.T);
    rotate_pairs(dq, cos_.data(), sin_.data(), d_rot_, d, -1);
    rotate_pairs(dk, cos_.data(), sin_.data(), d_rot_, d, -1);
  }

  std::optional<Eigen::MatrixXd> position_matrix(int length) const override {
    const Eigen::MatrixXd phi = angles(length, false);
    Eigen::MatrixXd P(length, d_rot_);
    for (int k = 0; k < length; ++k)
      for (int m = 0; m < d_rot_ / 2; ++m) {
        P(k, 2 * m) = std::cos(phi(k, m));
        P(k, 2 * m + 1) = std::sin(phi(k, m));
      }
    return P;
  }

  std::vector<NamedArray> encode(int length) const override {
    return {matrix_array("angles", angles(length, false),
                         "[position, pair]: rotation angle (k / interpolation)·theta_m, radians"),
            theta_array(),
            matrix_array("position_matrix", *position_matrix(length),
                         "[position, 2·pair]: (cos, sin) of each pair's angle, interleaved")};
  }

  std::vector<NamedArray> describe() const override { return {theta_array()}; }

 private:
  // θ_m → θ'_m (NTK-by-parts) and the q, k multiplier 0.1·ln(s) + 1 (see the header).
  void apply_yarn(const Options& o, double s) {
    if (interpolation_ != 1.0 || ntk_factor_ != 1.0)
      o.node(interpolation_ != 1.0 ? "interpolation" : "ntk_factor")
          .fail("scaling: yarn replaces linear interpolation and the NTK base rescale; "
                "expected 1, got " + std::to_string(interpolation_ != 1.0 ? interpolation_ : ntk_factor_));
    const double alpha = o.get_float("alpha"), beta = o.get_float("beta");
    if (beta <= alpha)
      o.node("beta").fail("expected beta > alpha = " + std::to_string(alpha) + ", got " +
                          std::to_string(beta));
    const double original = o.get_int("original_length");
    const double two_pi = 2 * std::acos(-1.0);
    for (double& th : theta_) {
      const double turns = original * th / two_pi;  // original_length / wavelength
      const double ramp = std::clamp((turns - alpha) / (beta - alpha), 0.0, 1.0);
      th = (1 - ramp) * th / s + ramp * th;
    }
    magnitude_ = 0.1 * std::log(s) + 1;
  }

  // φ [length, d_rot/2] in double, the single source of the angles: row t at position t,
  // or at position(t) when at_positions.
  Eigen::MatrixXd angles(int length, bool at_positions) const {
    Eigen::MatrixXd phi(length, d_rot_ / 2);
    for (int t = 0; t < length; ++t) {
      const int k = at_positions ? position(t) : t;
      for (int m = 0; m < d_rot_ / 2; ++m) phi(t, m) = (k / interpolation_) * theta_[m];
    }
    return phi;
  }

  NamedArray theta_array() const {
    return {"theta", theta_, {theta_.size()},
            "[pair]: angular frequency theta_m = base'^(-2m/d_rot), radians per position"};
  }

  // cos/sin tables [T, d_rot/2], rebuilt only when the length (or the positions) change,
  // so the training loop (fixed T) computes no trigonometry after its first step.
  void ensure_tables(int T) {
    if (T == table_length_ && table_version_ == positions_version()) return;
    table_version_ = positions_version();
    const Eigen::MatrixXd phi = angles(T, true);
    const std::size_t n = std::size_t(T) * (d_rot_ / 2);
    cos_.resize(n);
    sin_.resize(n);
    for (int k = 0; k < T; ++k)
      for (int m = 0; m < d_rot_ / 2; ++m) {
        cos_[std::size_t(k) * (d_rot_ / 2) + m] = Real(magnitude_ * std::cos(phi(k, m)));
        sin_[std::size_t(k) * (d_rot_ / 2) + m] = Real(magnitude_ * std::sin(phi(k, m)));
      }
    table_length_ = T;
  }

  double base_, interpolation_, ntk_factor_;
  int dh_, d_rot_ = 0;
  std::vector<double> theta_;  // [d_rot/2]
  double magnitude_ = 1.0;     // yarn's 0.1·ln(s) + 1 on q and k
  int table_length_ = -1;
  std::uint64_t table_version_ = 0;
  RealBuffer cos_, sin_;  // [table_length_, d_rot/2]
};

POSLAB_REGISTER_ENCODER(
    RopeEncoder, "rope", "rotary position embedding: q and k rotated by position (Su et al. 2021)",
    with_randomized({
        {"base", OptionSpec::Type::Float, "10000", "base of theta_m = base^(-2m/d_rot)", 1.0},
        {"rotary_dims", OptionSpec::Type::Int, "0",
         "rotated dimensions per head, even, <= d_head (0 = all)", 0},
        {"interpolation", OptionSpec::Type::Float, "1.0",
         "linear position interpolation: position k is read as k / interpolation (> 0)", 0},
        {"ntk_factor", OptionSpec::Type::Float, "1.0",
         "NTK-aware base rescale: base' = base·ntk_factor^(d_rot/(d_rot-2)) (> 0)", 0},
        {"scaling", OptionSpec::Type::String, "none",
         "none, or yarn: NTK-by-parts frequencies and the 0.1·ln(factor) + 1 temperature",
         -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(),
         {"none", "yarn"}},
        {"factor", OptionSpec::Type::Float, "1.0", "yarn: stretch factor s (>= 1)", 1.0},
        {"original_length", OptionSpec::Type::Int, "512",
         "yarn: the context length the model was trained on", 1},
        {"alpha", OptionSpec::Type::Float, "1.0",
         "yarn: pairs turning fewer times than this over original_length are interpolated", 0},
        {"beta", OptionSpec::Type::Float, "32.0",
         "yarn: pairs turning more times than this keep their frequency", 0}}))

}  // namespace
}  // namespace poslab
