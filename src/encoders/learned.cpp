// learned absolute positions (GPT-2, BERT): a trainable table [max_length, d] whose row t
// is added to the token embedding at position t. Initialised N(0, init_std). A sequence
// longer than max_length is a configuration error found before training — never clamped.
// Randomized positions: slot t reads row p[t] (rows up to max_position - 1 are used, so
// max_length >= max_position is required); the rows no draw picked get no gradient.
#include <string>

#include "encoders/encoder.h"
#include "encoders/randomized_positions.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {
namespace {

class LearnedEncoder : public PositionalEncoder {
 public:
  LearnedEncoder(const Options& o, const ModelDims& dims)
      : max_length_(o.get_int("max_length")),
        init_std_(o.get_float("init_std")),
        d_(dims.d_model),
        max_length_node_(o.node("max_length")) {}

  void declare_parameters(ParameterSet& params) override {
    params_ = &params;
    table_ = params.declare("encoder.table", {max_length_, d_}, Init::Normal, init_std_, false);
  }

  void check_length(int T) const override {
    if (const int P = randomized_max_position(); P > max_length_)
      max_length_node_.fail("randomized positions reach max_position - 1 = " + std::to_string(P - 1) +
                            "; expected max_length >= max_position = " + std::to_string(P) +
                            ", got " + std::to_string(max_length_));
    if (T > max_length_)
      max_length_node_.fail("sequences of length " + std::to_string(T) +
                            " need that many learned positions; expected max_length >= " +
                            std::to_string(T) + ", got " + std::to_string(max_length_));
  }

  void embed_forward(Real* x, int B, int T) override {
    check_length(T);
    if (!identity_positions()) {  // row p[t] for slot t
      const Real* table = params_->value(table_);
      for (int b = 0; b < B; ++b)
        for (int t = 0; t < T; ++t)
          MapVecR(x + (std::size_t(b) * T + t) * d_, d_) +=
              CMapVecR(table + std::size_t(position(t)) * d_, d_);
      return;
    }
    CMapR table(params_->value(table_), T, d_);  // the first T rows
    for (int b = 0; b < B; ++b) MapR(x + std::size_t(b) * T * d_, T, d_) += table;
  }

  void embed_backward(const Real* dx, int B, int T) override {
    if (!identity_positions()) {  // distinct positions: each row is one slot's sum
      Real* dtable = params_->grad(table_);
      for (int b = 0; b < B; ++b)
        for (int t = 0; t < T; ++t)
          MapVecR(dtable + std::size_t(position(t)) * d_, d_) +=
              CMapVecR(dx + (std::size_t(b) * T + t) * d_, d_);
      return;
    }
    MapR dtable(params_->grad(table_), T, d_);
    for (int b = 0; b < B; ++b) dtable += CMapR(dx + std::size_t(b) * T * d_, T, d_);
  }

  std::optional<Eigen::MatrixXd> position_matrix(int length) const override {
    check_length(length);
    return CMapR(params_->value(table_), length, d_).cast<double>();
  }
  std::vector<NamedArray> describe() const override {
    return {matrix_array("position_matrix", *position_matrix(max_length_),
                         "[position, dim]: the learned table")};
  }

 private:
  int max_length_;
  double init_std_;
  int d_;
  ConfigNode max_length_node_;
  ParameterSet* params_ = nullptr;
  ParameterSet::Handle table_ = -1;
};

POSLAB_REGISTER_ENCODER(
    LearnedEncoder, "learned", "trainable absolute position table added to the embeddings",
    with_randomized({
        {"max_length", OptionSpec::Type::Int, "512", "rows of the table (longest sequence)", 1},
        {"init_std", OptionSpec::Type::Float, "0.02", "std of the N(0, s) initialisation", 0}}))

}  // namespace
}  // namespace poslab
