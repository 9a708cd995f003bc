// similarity — how alike are the vectors of two positions, as a function of their distance?
//
// Question: does the geometry of P [L, d] reflect order, i.e. are nearby positions more
//           alike than distant ones (as for sinusoids, and learned tables such as GPT-2's)?
// Method:   cosine similarity of every pair of rows, cos(i, j) = P_i·P_j / (‖P_i‖‖P_j‖)
//           (0 where a row is all zeros), and its mean over each diagonal |i − j| = δ.
// Metrics:  locality = mean_by_distance[1] − (1/(L−1)) Σ_{δ=1..L−1} mean_by_distance[δ]:
//           how much more alike neighbours are than positions at a typical distance, with
//           every distance weighted equally (not every pair, which would favour short
//           distances). Between −2 and 2; NaN when L < 2.
// Reading:  locality > 0: neighbours are more alike than far-apart positions (a smooth,
//           ordered representation); ≈ 0: similarity does not depend on distance (e.g.
//           random vectors). The arrays show the shape: mean_by_distance[0] is 1 for rows
//           that are not zero, and a slow decay means smooth change along positions.
// Arrays:   cosine [L, L], mean_by_distance [L].
// Option max_positions caps L at the first max_positions rows (cosine is L×L).
#include <algorithm>
#include <cmath>
#include <limits>

#include "probes/linalg.h"
#include "probes/probe.h"

namespace poslab {

SimilarityResult similarity_probe(const Eigen::MatrixXd& P, const SimilarityOptions& opt) {
  const Eigen::Index L =
      opt.max_positions > 0 ? std::min<Eigen::Index>(P.rows(), opt.max_positions) : P.rows();
  // Cosines do not depend on scale: a badly scaled P is brought to scale 1 exactly first
  // (rescale_exponent in linalg.h), so that squared norms neither overflow nor underflow.
  const int e = rescale_exponent(P.topRows(L));
  Eigen::MatrixXd U = e == 0 ? Eigen::MatrixXd(P.topRows(L)) : scale_by_power_of_two(P.topRows(L), e);
  for (Eigen::Index k = 0; k < L; ++k) {
    double norm = U.row(k).norm();
    // A row far smaller than the largest entry can still underflow its squared norm.
    if (norm == 0 && !U.row(k).isZero(0)) norm = U.row(k).stableNorm();
    if (norm > 0) U.row(k) /= norm;  // a zero row stays zero: cosine 0 with everything
  }
  SimilarityResult result;
  result.cosine = U * U.transpose();

  result.mean_by_distance = Eigen::VectorXd::Zero(L);
  for (Eigen::Index delta = 0; delta < L; ++delta) {
    // The pairs at distance δ are the δ-th superdiagonal (the matrix is symmetric).
    result.mean_by_distance(delta) =
        result.cosine.diagonal(delta).sum() / double(L - delta);
  }
  result.locality = L >= 2 ? result.mean_by_distance(1) - result.mean_by_distance.tail(L - 1).mean()
                           : std::numeric_limits<double>::quiet_NaN();
  return result;
}

ProbeResult SimilarityResult::to_probe_result() const {
  ProbeResult out;
  out.scalars["locality"] = locality;
  out.arrays.push_back(matrix_array("cosine", cosine, "[L, L] cosine similarity of the vectors of positions i (row) and j (column)"));
  out.arrays.push_back({"mean_by_distance",
                        std::vector<double>(mean_by_distance.data(),
                                            mean_by_distance.data() + mean_by_distance.size()),
                        {std::size_t(mean_by_distance.size())},
                        "[L] mean cosine similarity over position pairs at distance |i - j| = index"});
  return out;
}

namespace {

class SimilarityProbe : public Probe {
 public:
  explicit SimilarityProbe(const Options& o) { opt_.max_positions = o.get_int("max_positions"); }

  bool applies(const ProbeInput& in) const override {
    return in.position_matrix && in.position_matrix->rows() >= 1;
  }

  ProbeResult run(const ProbeInput& in) const override {
    return similarity_probe(*in.position_matrix, opt_).to_probe_result();
  }

 private:
  SimilarityOptions opt_;
};

using T = OptionSpec::Type;
POSLAB_REGISTER_PROBE(
    SimilarityProbe, "similarity",
    "cosine similarity of position vectors [L, L], its mean by distance |i - j|, and locality",
    (std::vector<OptionSpec>{
        {"max_positions", T::Int, "0", "use only the first max_positions positions (0 = all)", 0},
    }))
POSLAB_PROBE_KNOWN_ANSWERS(SimilarityProbe, "similarity",
                           {KnownInput::SinusoidMatrix, "locality", 0.3, 1.0},
                           {KnownInput::RandomMatrix, "locality", -0.1, 0.1})

}  // namespace
}  // namespace poslab
