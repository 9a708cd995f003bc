// sinusoidal (Vaswani et al. 2017): a fixed vector added to the token embedding at each
// position k, for i = 0 .. d/2 - 1:
//   P(k, 2i)   = sin(k / n^(2i/d))
//   P(k, 2i+1) = cos(k / n^(2i/d))
// n ("base") is 10000 by default. No parameters; defined for any length. An odd d leaves
// the last column as the sine of its pair (there is no cosine partner).
//
// `scale` multiplies P (default 1: the formula exactly). Why it exists: token embeddings
// start at N(0, 0.02) while every entry of P has magnitude up to 1, so at scale 1 the
// position signal is ~30x the token signal after the pre-norm layer norm and training is
// slow (Vaswani et al. instead multiply the embeddings by sqrt(d)). A scale near the
// embeddings' size (e.g. 0.05) lets both be read from the start.
// Randomized positions: slot t gets P(p[t], :) (k = p[t]); position_matrix stays 0..L-1.
#include <cmath>

#include "encoders/encoder.h"
#include "encoders/randomized_positions.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {
namespace {

class SinusoidalEncoder : public PositionalEncoder {
 public:
  SinusoidalEncoder(const Options& o, const ModelDims& dims)
      : base_(o.get_float("base")), scale_(o.get_float("scale")), d_(dims.d_model) {}

  // Cached per length (and positions), so the training loop does not recompute sines every
  // step unless the positions change.
  void embed_forward(Real* x, int B, int T) override {
    if (table_.rows() != T || table_version_ != positions_version()) {
      table_ = (scale_ * formula(T, true)).cast<Real>();
      table_version_ = positions_version();
    }
    for (int b = 0; b < B; ++b) MapR(x + std::size_t(b) * T * d_, T, d_) += table_;
  }
  // Fixed: nothing to learn, and the added constant passes dx through unchanged.

  std::optional<Eigen::MatrixXd> position_matrix(int length) const override {
    return scale_ * formula(length, false);
  }
  std::vector<NamedArray> describe() const override {
    return {NamedArray{"base", {base_}, {}, "n in P(k,2i) = sin(k / n^(2i/d))"},
            NamedArray{"scale", {scale_}, {}, "multiplier applied to P"},
            matrix_array("position_matrix", *position_matrix(table_.rows() ? table_.rows() : 128),
                         "[position, dim]: scale * P for the last length used (128 if none)")};
  }

 private:
  // [T, d]: row t is P(k, :) at k = t, or k = position(t) when at_positions.
  Eigen::MatrixXd formula(int T, bool at_positions) const {
    Eigen::MatrixXd P(T, d_);
    for (int t = 0; t < T; ++t)
      for (int c = 0; c < d_; ++c) {
        const int i = c / 2;
        const double k = at_positions ? position(t) : t;
        const double angle = k / std::pow(base_, 2.0 * i / d_);
        P(t, c) = (c % 2 == 0) ? std::sin(angle) : std::cos(angle);
      }
    return P;
  }

  double base_;
  double scale_;
  int d_;
  MatR table_;
  std::uint64_t table_version_ = 0;
};

POSLAB_REGISTER_ENCODER(SinusoidalEncoder, "sinusoidal",
                        "fixed sin/cos vectors added to the embeddings (Vaswani et al. 2017)",
                        with_randomized({
                            {"base", OptionSpec::Type::Float, "10000", "n in sin(k / n^(2i/d))", 1.0},
                            {"scale", OptionSpec::Type::Float, "1",
                             "multiplier on P (1 = the formula; ~0.05 matches N(0,0.02) token embeddings)",
                             0.0}}))

}  // namespace
}  // namespace poslab
