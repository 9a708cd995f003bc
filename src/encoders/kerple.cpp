// kerple (Chi et al. NeurIPS 2022, "KERPLE: Kernelized Relative Positional Embedding for
// Length Extrapolation"): a learned, conditionally positive definite kernel of the distance
// |i - j|, added to the attention logits of head h:
//   variant log:   logits[b,h,i,j] += -r1_h · log(1 + r2_h · |i - j|)
//   variant power: logits[b,h,i,j] += -r1_h · |i - j|^r2_h,      0 < r2_h <= 2
// r1_h, r2_h > 0 are learned per head and shared by all layers (as in the paper's
// implementation, which builds one bias module for the whole model).
//
// Positivity (the paper clamps after each step; we reparameterise, so gradients are smooth
// and finite differences see no kink):
//   r1 = softplus(ρ1),   r2 = softplus(ρ2) (log)   or   r2 = 2·σ(ρ2) (power: 0 < r2 < 2)
// ρ1, ρ2 are the stored parameters "encoder.rho1", "encoder.rho2" [H], initialised
// N(0, init_std) (default 1: the heads start with different scales, as the paper's uniform
// initialisation intends), not weight-decayed. Parameters: 2·H.
//
// Acts in score_bias only. Causal and bidirectional (the kernel is symmetric in i - j).
// Defined for any length.
//
// The bias depends on i and j only through j - i: the forward builds it per offset,
// [H, 2T-1], from the current parameters (H·(2T-1) logs), in double, rounded once; the
// streaming tiles evaluate the same double expression for the rows + cols - 1 offsets a
// tile spans, so both paths add the same numbers.
//
// Backward: dby_offset [H, 2T-1] = Σ over the diagonals of dlogits (offset_bias.h), then
//   log:   ∂b/∂r1 = -log(1 + r2 Δ),   ∂b/∂r2 = -r1 Δ / (1 + r2 Δ)
//   power: ∂b/∂r1 = -Δ^r2,            ∂b/∂r2 = -r1 Δ^r2 ln Δ   (0 at Δ = 0)
// and dr/dρ = σ(ρ) (softplus) or 2σ(ρ)(1 - σ(ρ)).
// Randomized positions: Δ = |p_i - p_j|; the per-offset table spans position_span(T)
// offsets (offset_bias.h), the tiles evaluate bias(p_j - p_i) per entry.
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "encoders/encoder.h"
#include "encoders/offset_bias.h"
#include "encoders/randomized_positions.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {
namespace {

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
double softplus(double x) { return x > 30 ? x : std::log1p(std::exp(x)); }

class KerpleEncoder : public PositionalEncoder {
 public:
  KerpleEncoder(const Options& o, const ModelDims& dims)
      : power_(o.get_string("variant") == "power"),
        init_std_(o.get_float("init_std")),
        heads_(dims.heads) {}

  void declare_parameters(ParameterSet& params) override {
    params_ = &params;
    rho1_ = params.declare("encoder.rho1", {heads_}, Init::Normal, init_std_, false);
    rho2_ = params.declare("encoder.rho2", {heads_}, Init::Normal, init_std_, false);
  }

  bool has_score_bias() const override { return true; }

  void score_bias_forward(int /*layer*/, const Real* /*q*/, const Real* /*k*/, Real* logits,
                          const AttnDims& d) override {
    const int S = position_span(d.T), W = 2 * S - 1;  // S = T for 0..T-1
    by_offset_.resize(std::size_t(heads_) * W);
    for (int h = 0; h < heads_; ++h) {
      const Coefficients c = coefficients(h);
      for (int o = 0; o < W; ++o) by_offset_[std::size_t(h) * W + o] = Real(bias(c, o - (S - 1)));
    }
    add_offset_bias(by_offset_.data(), logits, d, *this);
  }

  void score_bias_backward(int /*layer*/, const Real* /*q*/, const Real* /*k*/,
                           const Real* dlogits, Real* /*dq*/, Real* /*dk*/,
                           const AttnDims& d) override {
    const int T = position_span(d.T), W = 2 * T - 1;  // the offsets' span
    const std::vector<double> g = sum_by_offset(dlogits, d, *this);
    Real* grad1 = params_->grad(rho1_);
    Real* grad2 = params_->grad(rho2_);
    for (int h = 0; h < heads_; ++h) {
      const Coefficients c = coefficients(h);
      double dr1 = 0, dr2 = 0;
      for (int o = 0; o < W; ++o) {
        const double up = g[std::size_t(h) * W + o];
        if (up == 0) continue;
        const double delta = std::abs(o - (T - 1));
        if (power_) {
          const double p = delta == 0 ? 0.0 : std::pow(delta, c.r2);
          dr1 += up * -p;
          if (delta > 0) dr2 += up * -c.r1 * p * std::log(delta);
        } else {
          dr1 += up * -std::log1p(c.r2 * delta);
          dr2 += up * -c.r1 * delta / (1 + c.r2 * delta);
        }
      }
      grad1[h] += Real(dr1 * c.dr1_drho);
      grad2[h] += Real(dr2 * c.dr2_drho);
    }
  }

  // State: the bias of each offset the tile spans (rows + cols - 1 Reals).
  std::size_t tile_state_size(int rows, int cols) const override { return tile_offsets(rows, cols); }

  void score_bias_tile(const AttnTile& t, Real* scores, int ld, Real* state) const override {
    const Coefficients c = coefficients(t.h);
    if (!identity_positions()) {  // offsets p_j - p_i: per entry
      for (int r = 0; r < t.rows(); ++r) {
        const int pi = position(t.i0 + r), n = t.key_end(r) - t.j0;
        Real* s = scores + std::size_t(r) * ld;
        for (int col = 0; col < n; ++col) s[col] += Real(bias(c, position(t.j0 + col) - pi));
      }
      return;
    }
    const int first = t.j0 - (t.i1 - 1), last = (t.j1 - 1) - t.i0;
    for (int rp = first; rp <= last; ++rp) state[rp - first] = Real(bias(c, rp));
    add_tile_offset_bias(t, state, scores, ld);
  }

  std::vector<NamedArray> describe() const override {
    if (!params_) return {};
    NamedArray r1{"r1", {}, {std::size_t(heads_)}, "[head]: r1_h = softplus(rho1_h), the kernel's scale"};
    NamedArray r2{"r2", {}, {std::size_t(heads_)},
                  power_ ? "[head]: r2_h = 2 sigmoid(rho2_h), the exponent of |i - j|"
                         : "[head]: r2_h = softplus(rho2_h), inside log(1 + r2 |i - j|)"};
    for (int h = 0; h < heads_; ++h) {
      const Coefficients c = coefficients(h);
      r1.data.push_back(c.r1);
      r2.data.push_back(c.r2);
    }
    return {r1, r2};
  }

  // The bias as added to the logits, [H, L, L] (causal models use only j <= i).
  std::vector<NamedArray> encode(int length) const override {
    auto out = describe();
    if (!params_) return out;
    const std::size_t L = std::size_t(length);
    NamedArray b{"bias", {}, {std::size_t(heads_), L, L},
                 std::string("[head, query i, key j]: ") +
                     (power_ ? "-r1 |i - j|^r2" : "-r1 log(1 + r2 |i - j|)") +
                     " added to the logits (a causal model uses only j <= i)"};
    b.data.reserve(heads_ * L * L);
    for (int h = 0; h < heads_; ++h) {
      const Coefficients c = coefficients(h);
      for (int i = 0; i < length; ++i)
        for (int j = 0; j < length; ++j) b.data.push_back(bias(c, j - i));
    }
    out.push_back(std::move(b));
    return out;
  }

 private:
  struct Coefficients {
    double r1, r2, dr1_drho, dr2_drho;
  };
  Coefficients coefficients(int h) const {
    const double p1 = params_->value(rho1_)[h], p2 = params_->value(rho2_)[h];
    Coefficients c;
    c.r1 = softplus(p1);
    c.dr1_drho = sigmoid(p1);
    if (power_) {
      const double s = sigmoid(p2);
      c.r2 = 2 * s;
      c.dr2_drho = 2 * s * (1 - s);
    } else {
      c.r2 = softplus(p2);
      c.dr2_drho = sigmoid(p2);
    }
    return c;
  }
  // The bias at offset rp = j - i, in double (the one expression both paths round).
  double bias(const Coefficients& c, int rp) const {
    const double delta = std::abs(rp);
    if (power_) return delta == 0 ? 0.0 : -c.r1 * std::pow(delta, c.r2);
    return -c.r1 * std::log1p(c.r2 * delta);
  }

  bool power_;
  double init_std_;
  int heads_;
  ParameterSet* params_ = nullptr;
  ParameterSet::Handle rho1_ = -1, rho2_ = -1;  // encoder.rho1, encoder.rho2 [H]
  RealBuffer by_offset_;                        // [H, 2T-1] scratch of the forward
};

POSLAB_REGISTER_ENCODER(
    KerpleEncoder, "kerple",
    "learned kernel of |i - j| on the attention logits, -r1·log(1 + r2·|i - j|) or "
    "-r1·|i - j|^r2 per head, shared by all layers (Chi et al. 2022)",
    with_randomized({
        {"variant", OptionSpec::Type::String, "log",
         "log: -r1·log(1 + r2·|i-j|); power: -r1·|i-j|^r2 with 0 < r2 < 2",
         -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(),
         {"log", "power"}},
        {"init_std", OptionSpec::Type::Float, "1.0",
         "std of the N(0, s) initialisation of rho1, rho2 (r1 = softplus(rho1); r2 = "
         "softplus(rho2) for log, 2·sigmoid(rho2) for power)", 0}}))

}  // namespace
}  // namespace poslab
