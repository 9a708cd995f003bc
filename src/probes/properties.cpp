// properties — do position–position proximities behave like a distance? The three
// properties of Wang et al. (ICLR 2021), "On Position Embeddings in BERT", §3, measured.
//
// Proximity: S = P Pᵀ [L, L], φ(x, y) = P_x·P_y (the paper's inner product), or cosines
// with `measure: cosine`. The paper states each property as an exact law; here each is
// graded, so that a learned table can satisfy it partly:
//   Monotonicity (Property 1: m > n ⇔ φ(x, x+m) < φ(x, x+n)): over all triples (x, n, m)
//     with 1 ≤ n < m and x + m inside the matrix, the fraction with S(x, x+n) > S(x, x+m)
//     strictly ("nearer is more alike"); the same backward with x − n, x − m. The offset 0
//     (S(x, x)) is left out, so that a matrix with no position information scores 0.5.
//     1 = monotone, 0.5 = unrelated to distance, 0 = alike grows with distance.
//     `max_distance` > 0 keeps m ≤ max_distance (the paper's "local monotonicity").
//   Translation invariance (Property 2: φ(x1, x1+m) = φ(x2, x2+m)): the share of S's
//     variance that the offset j − i explains, 1 − Σ_δ Σ_i (S(i, i+δ) − mean_δ)² /
//     Σ (S(i, j) − mean)², over the off-diagonals with at least 2 entries
//     (1 ≤ |δ| ≤ L − 2; like monotonicity, it leaves the self-proximities S(i, i) out).
//     1 = every diagonal is constant (S is Toeplitz, as for the sinusoid); ≈ 2/L = the
//     offset says nothing (random vectors). 1 also when those entries are all equal.
//   Symmetry (Property 3: φ(x, y) = φ(y, x)): asymmetry = ‖(S − Sᵀ)/2‖_F / ‖S‖_F, the
//     size of S's antisymmetric part; 0 = symmetric, 1 = antisymmetric, 1/√2 for i.i.d.
//     entries. A dot product (or cosine) is symmetric by construction, so for P Pᵀ it is 0
//     up to rounding; it is informative for the attention-level form:
// Attention level, for a trained model with a position matrix (ProbeInput::first_layer_qk):
//   per head h of the first layer, S_h = (P W_Q,hᵀ)(P W_K,hᵀ)ᵀ / √d_h — the
//   position–position term of the paper's expansion of the attention logits, without layer
//   norm and biases — and the same three properties of each S_h (means over heads).
// Metrics:  monotonicity, monotonicity_forward, monotonicity_backward,
//           translation_invariance, asymmetry; with a model also qk_monotonicity,
//           qk_translation_invariance, qk_asymmetry (means over heads).
// Arrays:   diagonal_mean, diagonal_sd [2L − 1] (index (j − i) + L − 1); with a model
//           qk_monotonicity_by_head, qk_translation_invariance_by_head,
//           qk_asymmetry_by_head [H].
// Cost: O(L² log L) time (monotonicity counts inversions per anchor by merge sort) and
// O(L²) memory for S; `max_positions` caps L at the first rows.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "probes/linalg.h"
#include "probes/probe.h"

namespace poslab {
namespace {

// Number of pairs n < m with a[n] > a[m] (strict: ties are not ordered), by merge sort;
// sorts `a` ascending. `scratch` is reused between calls.
std::uint64_t count_strict_inversions(std::vector<double>& a, std::vector<double>& scratch) {
  const std::size_t n = a.size();
  scratch.resize(n);
  std::uint64_t inversions = 0;
  for (std::size_t width = 1; width < n; width *= 2) {
    for (std::size_t lo = 0; lo < n; lo += 2 * width) {
      const std::size_t mid = std::min(lo + width, n), hi = std::min(lo + 2 * width, n);
      std::size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        if (a[i] <= a[j]) {
          scratch[k++] = a[i++];
        } else {  // a[j] is smaller than every remaining left element
          inversions += mid - i;
          scratch[k++] = a[j++];
        }
      }
      while (i < mid) scratch[k++] = a[i++];
      while (j < hi) scratch[k++] = a[j++];
    }
    std::swap(a, scratch);
  }
  return inversions;
}

struct Counts {
  std::uint64_t ordered = 0, total = 0;
  double fraction() const {
    return total ? double(ordered) / double(total) : std::numeric_limits<double>::quiet_NaN();
  }
};

// Monotonicity in one direction (step +1 forward, −1 backward).
Counts monotonicity_counts(const Eigen::MatrixXd& S, int step, int max_distance) {
  const Eigen::Index L = S.rows();
  Counts counts;
  std::vector<double> row, scratch;
  for (Eigen::Index x = 0; x < L; ++x) {
    Eigen::Index reach = step > 0 ? L - 1 - x : x;  // offsets 1..reach stay inside
    if (max_distance > 0) reach = std::min<Eigen::Index>(reach, max_distance);
    if (reach < 2) continue;
    row.clear();
    for (Eigen::Index n = 1; n <= reach; ++n) row.push_back(S(x, x + step * n));
    const std::uint64_t k = row.size(), pairs = k * (k - 1) / 2;
    counts.ordered += count_strict_inversions(row, scratch);  // nearer strictly larger
    counts.total += pairs;
  }
  return counts;
}

}  // namespace

MatrixProperties matrix_properties(const Eigen::MatrixXd& S, int max_distance) {
  const Eigen::Index L = S.rows();
  if (L < 3 || S.cols() != L) throw std::invalid_argument("properties: S must be square, L >= 3");
  MatrixProperties out;
  const Counts forward = monotonicity_counts(S, +1, max_distance);
  const Counts backward = monotonicity_counts(S, -1, max_distance);
  out.monotonicity_forward = forward.fraction();
  out.monotonicity_backward = backward.fraction();
  out.monotonicity = Counts{forward.ordered + backward.ordered, forward.total + backward.total}.fraction();

  // Diagonal δ = j − i holds S(i, i + δ); its mean and spread. The invariance uses the
  // diagonals 1 ≤ |δ| ≤ L − 2: at least 2 entries each, and not the self-proximities
  // S(i, i) (squared norms, or all 1 for cosines), which would dominate the variance.
  out.diagonal_mean = Eigen::VectorXd::Zero(2 * L - 1);
  out.diagonal_sd = Eigen::VectorXd::Zero(2 * L - 1);
  double within = 0.0, sum = 0.0;
  Eigen::Index entries = 0;
  for (Eigen::Index delta = -(L - 1); delta <= L - 1; ++delta) {
    const Eigen::VectorXd d = S.diagonal(delta);
    const double mean = d.mean();
    const double squares = (d.array() - mean).square().sum();
    out.diagonal_mean(delta + L - 1) = mean;
    out.diagonal_sd(delta + L - 1) = std::sqrt(squares / double(d.size()));
    if (delta != 0 && d.size() >= 2) {
      within += squares;
      sum += d.sum();
      entries += d.size();
    }
  }
  const double grand = sum / double(entries);
  double total = 0.0;
  for (Eigen::Index delta = -(L - 2); delta <= L - 2; ++delta) {
    if (delta != 0) total += (S.diagonal(delta).array() - grand).square().sum();
  }
  out.translation_invariance = total > 0 ? 1.0 - within / total : 1.0;

  const double norm = S.norm();
  out.asymmetry = norm > 0 ? (0.5 * (S - S.transpose())).norm() / norm : 0.0;
  return out;
}

PropertiesResult properties_probe(const Eigen::MatrixXd& P_in, const PropertiesOptions& opt,
                                  const QueryKeyMaps* qk) {
  const Eigen::Index L =
      opt.max_positions > 0 ? std::min<Eigen::Index>(P_in.rows(), opt.max_positions) : P_in.rows();
  if (L < 3) throw std::invalid_argument("properties: the matrix needs at least 3 rows");
  // Every measure is a ratio or an ordering, so a badly scaled P is brought to scale 1 by
  // an exact power of two first (rescale_exponent in linalg.h): no overflow in P Pᵀ.
  const int e = rescale_exponent(P_in.topRows(L));
  Eigen::MatrixXd P = e == 0 ? Eigen::MatrixXd(P_in.topRows(L)) : scale_by_power_of_two(P_in.topRows(L), e);

  PropertiesResult result;
  Eigen::MatrixXd U = P;
  if (opt.cosine) {
    for (Eigen::Index k = 0; k < L; ++k) {
      const double norm = U.row(k).norm();
      if (norm > 0) U.row(k) /= norm;  // a zero row stays zero: cosine 0 with everything
    }
  }
  result.positions = matrix_properties(U * U.transpose(), opt.max_distance);

  if (qk) {
    const Eigen::Index D = qk->query.rows();
    if (qk->heads < 1 || D % qk->heads != 0 || qk->query.cols() != P.cols() ||
        qk->key.rows() != D || qk->key.cols() != P.cols()) {
      throw std::invalid_argument("properties: query/key maps do not match the position matrix");
    }
    const Eigen::Index dh = D / qk->heads;
    for (int h = 0; h < qk->heads; ++h) {
      const Eigen::MatrixXd q = P * qk->query.middleRows(h * dh, dh).transpose();  // [L, d_h]
      const Eigen::MatrixXd k = P * qk->key.middleRows(h * dh, dh).transpose();
      result.qk.push_back(matrix_properties(q * k.transpose() / std::sqrt(double(dh)), opt.max_distance));
    }
  }
  return result;
}

ProbeResult PropertiesResult::to_probe_result() const {
  ProbeResult out;
  out.scalars["monotonicity"] = positions.monotonicity;
  out.scalars["monotonicity_forward"] = positions.monotonicity_forward;
  out.scalars["monotonicity_backward"] = positions.monotonicity_backward;
  out.scalars["translation_invariance"] = positions.translation_invariance;
  out.scalars["asymmetry"] = positions.asymmetry;
  auto vector_array = [](const std::string& name, const Eigen::VectorXd& v, const std::string& what) {
    return NamedArray{name, std::vector<double>(v.data(), v.data() + v.size()),
                      {std::size_t(v.size())}, what};
  };
  out.arrays.push_back(vector_array("diagonal_mean", positions.diagonal_mean,
                                    "[2L-1] mean proximity S(i, i + delta) over i, index delta + L - 1"));
  out.arrays.push_back(vector_array("diagonal_sd", positions.diagonal_sd,
                                    "[2L-1] standard deviation of S(i, i + delta) over i, index delta + L - 1"));
  if (!qk.empty()) {
    const Eigen::Index H = Eigen::Index(qk.size());
    Eigen::VectorXd mono(H), ti(H), asym(H);
    for (Eigen::Index h = 0; h < H; ++h) {
      mono(h) = qk[h].monotonicity;
      ti(h) = qk[h].translation_invariance;
      asym(h) = qk[h].asymmetry;
    }
    out.scalars["qk_monotonicity"] = mono.mean();
    out.scalars["qk_translation_invariance"] = ti.mean();
    out.scalars["qk_asymmetry"] = asym.mean();
    out.arrays.push_back(vector_array("qk_monotonicity_by_head", mono,
                                      "[H] monotonicity of the first layer's position q.k term, per head"));
    out.arrays.push_back(vector_array("qk_translation_invariance_by_head", ti,
                                      "[H] translation invariance of the first layer's position q.k term, per head"));
    out.arrays.push_back(vector_array("qk_asymmetry_by_head", asym,
                                      "[H] asymmetry of the first layer's position q.k term, per head"));
  }
  return out;
}

namespace {

class PropertiesProbe : public Probe {
 public:
  explicit PropertiesProbe(const Options& o) {
    opt_.cosine = o.get_string("measure") == "cosine";
    opt_.max_distance = o.get_int("max_distance");
    opt_.max_positions = o.get_int("max_positions");
  }

  bool applies(const ProbeInput& in) const override {
    return in.position_matrix && in.position_matrix->rows() >= 3 &&
           (opt_.max_positions == 0 || opt_.max_positions >= 3);
  }

  ProbeResult run(const ProbeInput& in) const override {
    const QueryKeyMaps* qk = in.first_layer_qk ? &*in.first_layer_qk : nullptr;
    return properties_probe(*in.position_matrix, opt_, qk).to_probe_result();
  }

 private:
  PropertiesOptions opt_;
};

using T = OptionSpec::Type;
POSLAB_REGISTER_PROBE(
    PropertiesProbe, "properties",
    "Wang et al. 2021: monotonicity, translation invariance and symmetry of position proximities "
    "(P P^T, and the first layer's position q.k term when a model is given)",
    (std::vector<OptionSpec>{
        {"measure", T::String, "dot", "proximity of two positions' vectors: dot (the paper's) or cosine",
         -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(), {"dot", "cosine"}},
        {"max_distance", T::Int, "0", "monotonicity over offsets up to this only (0 = all)", 0},
        {"max_positions", T::Int, "0", "use only the first max_positions positions (0 = all)", 0},
    }))
POSLAB_PROBE_KNOWN_ANSWERS(PropertiesProbe, "properties",
                           {KnownInput::SinusoidMatrix, "translation_invariance", 0.999, 1.0},
                           {KnownInput::SinusoidMatrix, "asymmetry", 0.0, 1e-9},
                           {KnownInput::RandomMatrix, "translation_invariance", 0.0, 0.15},
                           {KnownInput::RandomMatrix, "monotonicity", 0.4, 0.6})

}  // namespace
}  // namespace poslab
