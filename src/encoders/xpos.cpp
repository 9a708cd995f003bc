// xpos (Sun et al. ACL 2023, "A Length-Extrapolatable Transformer"): RoPE whose rotated
// queries and keys are also scaled per rotary pair, so that the logit of a pair decays
// exponentially with distance:
//   q'_n = ζ_m^(n/B) · R(n θ_m) q_n,    k'_j = ζ_m^(-j/B) · R(j θ_m) k_j     (pair m)
//   ζ_m = (2m/d_rot + γ) / (1 + γ),   θ_m = base^(-2m/d_rot),   m = 0 .. d_rot/2 - 1
// so q'_nᵀk'_j = Σ_m ζ_m^((n-j)/B) · (pair m's RoPE term): the rotation makes it depend on
// n - j only, and ζ_m < 1 makes it shrink as a query looks further back. Pairs with low m
// (high frequency) decay fastest. γ → ∞ gives ζ_m → 1: plain RoPE.
//   gamma (γ, default 0.4), scale_base (B, default 512), base, rotary_dims as in rope.
// Causal only: for a key after its query (j > n) the factor ζ^((n-j)/B) GROWS with distance,
// so the constructor refuses bidirectional models.
//
// Numerics: ζ^(n/B) and ζ^(-j/B) separately over- and underflow at long lengths, their
// product does not. The exponents are therefore centred, ζ^((n - T/2)/B) and
// ζ^(-(j - T/2)/B) (as in the authors' implementation): the product is unchanged and each
// factor stays within ζ_0^(±T/(2B)). check_length refuses lengths where even that leaves
// float's range (|ln ζ_0|·T/(2B) > 85: T > 69,000 at the defaults; raise scale_base).
//
// Acts on: rotate_qk only (no parameters). Backward is the transpose: dq = ζ^((n-c)/B)
// R(-φ) dq', the same tables with the sine negated.
// position_matrix(L) is rope's: (cos φ, sin φ) per pair, the rotation a probe can read.
// Randomized positions: slot t uses n = p[t] in φ and in the decay, centred at
// c = (p[T-1] + 1)/2 (T/2 for 0..T-1); check_length bounds the exponent by max_position.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "encoders/encoder.h"
#include "encoders/randomized_positions.h"
#include "encoders/rotate_pairs.h"
#include "encoders/section_error.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {
namespace {

// |ln ζ_0|·T/(2B) above this leaves float's range in one of the two factors.
constexpr double kMaxLogScale = 85.0;

class XposEncoder : public PositionalEncoder {
 public:
  XposEncoder(const Options& o, const ModelDims& dims)
      : base_(o.get_float("base")),
        gamma_(o.get_float("gamma")),
        scale_base_(o.get_float("scale_base")),
        dh_(dims.d_head),
        scale_base_node_(o.node("scale_base")) {
    if (!dims.causal)
      fail_on_name(o, "gamma",
                   "xpos is causal only: its decay ζ^((i-j)/B) grows without bound for keys "
                   "after the query; use model.attention: causal or rope");
    const int requested = o.get_int("rotary_dims");
    d_rot_ = requested == 0 ? dh_ : requested;
    if (d_rot_ > dh_ || d_rot_ % 2 != 0)
      o.node("rotary_dims")
          .fail("expected an even number of dimensions <= d_head = " + std::to_string(dh_) +
                " (0 means d_head), got " + std::to_string(requested) +
                (requested == 0 ? " (d_head is odd)" : ""));
    for (int m = 0; m < d_rot_ / 2; ++m) {
      theta_.push_back(std::pow(base_, -2.0 * m / d_rot_));
      zeta_.push_back((2.0 * m / d_rot_ + gamma_) / (1 + gamma_));
    }
  }

  void check_length(int T_in) const override {
    const int T = std::max(T_in, randomized_max_position());  // positions span up to P
    const double log_scale = std::abs(std::log(zeta_[0])) * T / (2 * scale_base_);
    if (log_scale > kMaxLogScale)
      scale_base_node_.fail("sequences of length " + std::to_string(T) +
                            " scale queries and keys by up to zeta_0^(T/(2B)) = e^" +
                            std::to_string(int(log_scale)) + ", beyond float range; expected "
                            "scale_base >= " + std::to_string(int(std::ceil(
                                std::abs(std::log(zeta_[0])) * T / (2 * kMaxLogScale)))) +
                            ", got " + std::to_string(scale_base_));
  }

  void rotate_qk_forward(int /*layer*/, Real* q, Real* k, const AttnDims& d) override {
    ensure_tables(d.T);
    rotate_pairs(q, q_cos_.data(), q_sin_.data(), d_rot_, d, +1);
    rotate_pairs(k, k_cos_.data(), k_sin_.data(), d_rot_, d, +1);
  }

  // y = s R(φ) x  =>  dL/dx = s R(φ)ᵀ dL/dy = s R(-φ) dL/dy.
  void rotate_qk_backward(int /*layer*/, Real* dq, Real* dk, const AttnDims& d) override {
    ensure_tables(d.T);
    rotate_pairs(dq, q_cos_.data(), q_sin_.data(), d_rot_, d, -1);
    rotate_pairs(dk, k_cos_.data(), k_sin_.data(), d_rot_, d, -1);
  }

  std::optional<Eigen::MatrixXd> position_matrix(int length) const override {
    Eigen::MatrixXd P(length, d_rot_);
    for (int t = 0; t < length; ++t)
      for (int m = 0; m < d_rot_ / 2; ++m) {
        P(t, 2 * m) = std::cos(t * theta_[m]);
        P(t, 2 * m + 1) = std::sin(t * theta_[m]);
      }
    return P;
  }

  std::vector<NamedArray> encode(int length) const override {
    Eigen::MatrixXd decay(length, d_rot_ / 2);  // ζ_m^(distance/B)
    for (int r = 0; r < length; ++r)
      for (int m = 0; m < d_rot_ / 2; ++m) decay(r, m) = std::pow(zeta_[m], r / scale_base_);
    auto out = describe();
    out.push_back(matrix_array("position_matrix", *position_matrix(length),
                               "[position, 2·pair]: (cos, sin) of each pair's angle, interleaved"));
    out.push_back(matrix_array("decay", decay,
                               "[distance i - j, pair]: zeta_m^((i-j)/B), the factor on each "
                               "pair's term of the logit"));
    return out;
  }

  std::vector<NamedArray> describe() const override {
    return {NamedArray{"theta", theta_, {theta_.size()}, "[pair]: theta_m = base^(-2m/d_rot)"},
            NamedArray{"zeta", zeta_, {zeta_.size()},
                       "[pair]: zeta_m = (2m/d_rot + gamma)/(1 + gamma), decay per B positions"}};
  }

 private:
  // Tables [T, d_rot/2]: s·cos φ and s·sin φ, s = ζ^(±(t - T/2)/B), built in double and
  // rounded once; rebuilt only when T changes.
  void ensure_tables(int T) {
    if (T == table_length_ && table_version_ == positions_version()) return;
    table_version_ = positions_version();
    const int half = d_rot_ / 2;
    const std::size_t n = std::size_t(T) * half;
    for (RealBuffer* b : {&q_cos_, &q_sin_, &k_cos_, &k_sin_}) b->resize(n);
    const double centre = (position(T - 1) + 1) / 2.0;  // T/2 for 0..T-1
    for (int slot = 0; slot < T; ++slot)
      for (int m = 0; m < half; ++m) {
        const int t = position(slot);
        const double phi = t * theta_[m], c = std::cos(phi), s = std::sin(phi);
        const double up = std::pow(zeta_[m], (t - centre) / scale_base_);  // queries
        const double down = 1 / up;                                        // keys
        const std::size_t at = std::size_t(slot) * half + m;
        q_cos_[at] = Real(up * c);
        q_sin_[at] = Real(up * s);
        k_cos_[at] = Real(down * c);
        k_sin_[at] = Real(down * s);
      }
    table_length_ = T;
  }

  double base_, gamma_, scale_base_;
  int dh_, d_rot_ = 0;
  ConfigNode scale_base_node_;
  std::vector<double> theta_, zeta_;  // [d_rot/2]
  int table_length_ = -1;
  std::uint64_t table_version_ = 0;
  RealBuffer q_cos_, q_sin_, k_cos_, k_sin_;  // [T, d_rot/2]
};

POSLAB_REGISTER_ENCODER(
    XposEncoder, "xpos",
    "RoPE with a per-pair exponential decay zeta^((i-j)/B) of the logits, causal only "
    "(Sun et al. 2023)",
    with_randomized({
        {"gamma", OptionSpec::Type::Float, "0.4",
         "zeta_m = (2m/d_rot + gamma)/(1 + gamma); larger = slower decay (> 0)", 1e-12},
        {"scale_base", OptionSpec::Type::Float, "512", "B: the decay is zeta^(distance/B) (> 0)", 1e-12},
        {"base", OptionSpec::Type::Float, "10000", "base of theta_m = base^(-2m/d_rot)", 1.0},
        {"rotary_dims", OptionSpec::Type::Int, "0",
         "rotated dimensions per head, even, <= d_head (0 = all)", 0}}))

}  // namespace
}  // namespace poslab
