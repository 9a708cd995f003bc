// sinusoidal (Vaswani et al. 2017): a fixed vector added to the token embedding at each
// position k, for i = 0 .. d/2 - 1:
//   P(k, 2i)   = sin(k / n^(2i/d))
//   P(k, 2i+1) = cos(k / n^(2i/d))
// n ("base") is 10000 by default. No parameters; defined for any length. An odd d leaves
// the last column as the sine of its pair (there is no cosine partner).
#include <cmath>

#include "encoders/encoder.h"

namespace poslab {
namespace {

class SinusoidalEncoder : public PositionalEncoder {
 public:
  SinusoidalEncoder(const Options& o, const ModelDims& dims)
      : base_(o.get_float("base")), d_(dims.d_model) {}

  // Cached per length, so the training loop does not recompute sines every step.
  void embed_forward(Real* x, int B, int T) override {
    if (table_.rows() != T) table_ = formula(T).cast<Real>();
    for (int b = 0; b < B; ++b) MapR(x + std::size_t(b) * T * d_, T, d_) += table_;
  }
  // Fixed: nothing to learn, and the added constant passes dx through unchanged.

  std::optional<Eigen::MatrixXd> position_matrix(int length) const override {
    return formula(length);
  }
  std::vector<NamedArray> describe() const override {
    NamedArray base{"base", {base_}, {}, "n in P(k,2i) = sin(k / n^(2i/d))"};
    return {base};
  }

 private:
  Eigen::MatrixXd formula(int T) const {
    Eigen::MatrixXd P(T, d_);
    for (int k = 0; k < T; ++k)
      for (int c = 0; c < d_; ++c) {
        const int i = c / 2;
        const double angle = k / std::pow(base_, 2.0 * i / d_);
        P(k, c) = (c % 2 == 0) ? std::sin(angle) : std::cos(angle);
      }
    return P;
  }

  double base_;
  int d_;
  MatR table_;
};

POSLAB_REGISTER_ENCODER(SinusoidalEncoder, "sinusoidal",
                        "fixed sin/cos vectors added to the embeddings (Vaswani et al. 2017)",
                        (std::vector<OptionSpec>{{"base", OptionSpec::Type::Float, "10000",
                                                  "n in sin(k / n^(2i/d))", 1.0}}))

}  // namespace
}  // namespace poslab
