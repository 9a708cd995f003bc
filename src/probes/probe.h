#pragma once
// Probes ask what a model's position representations learned (docs/design.md, "Probes").
// A probe is a plugin: one file, registered by name with POSLAB_REGISTER_PROBE, built from
// its YAML node, and run on a ProbeInput. Its ProbeResult goes to /probes/<name>/ in the
// results file: each scalar as an attribute AND as a scalar dataset, each array as a
// dataset (so scalar and array names of one probe must differ).
//
// The matrix probes (absolute_position, relative_position, similarity) read a position
// matrix P [L, d] (row k = position k). They are also plain functions below, so that other
// probes (e.g. `hidden`, on each layer's hidden states) can call them on any matrix.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "core/named_array.h"
#include "core/registry.h"

namespace poslab {

struct ProbeResult {
  std::map<std::string, double> scalars;  // metric name -> value
  std::vector<NamedArray> arrays;
};

// What a probe may read. Everything is optional: each probe's applies() says whether what
// it needs is here, so a probe that needs something new (a trained model, a task, hidden
// states) adds a field and existing probes are unaffected.
// What a trained model did on held-out batches at its training length (filled by the
// run loop after training; Real-independent so probes stay in the base library).
struct ModelActivations {
  int examples = 0;  // B
  int length = 0;    // T, sequence positions
  int heads = 0;     // H
  bool causal = true;
  // hidden[l]: [B*T, d] row-major (row b*T + t) — the residual stream entering layer l;
  // l = 0 is the embedding output (positions included), l = layers the final stream
  // (before the final layer norm). So hidden.size() = layers + 1.
  std::vector<Eigen::MatrixXd> hidden;
  // attention[l]: attention probabilities of layer l, flat [B, H, T, T] row-major
  // (query i = row, key j = column; 0 above the diagonal when causal).
  std::vector<std::vector<double>> attention;
  // loss_mask [B*T] of the batch (1 = scored position), for probes that want it.
  std::vector<std::uint8_t> loss_mask;
  // lengths [B]: example b's real positions are t < lengths[b]; the rest is right padding
  // (PAD inputs, which the model still processes). Empty = every example fills all T.
  // Probes that average over positions use real positions only (hidden, attention).
  std::vector<int> lengths;
  int length_of(int b) const { return lengths.empty() ? length : lengths[std::size_t(b)]; }
};

// The evaluator's metrics per evaluation length (extrapolation).
struct EvalTable {
  std::vector<double> length, sequence_length, loss, token_accuracy, exact_match;
  int train_length = 0;  // longest training length (task unit)
};

// The first attention layer's query and key maps, for probes of the attention-level
// position term (properties): q = x·W_Qᵀ, k = x·W_Kᵀ, each [D, D] (PyTorch layout); head h
// owns rows h·d_h … (h+1)·d_h − 1.
struct QueryKeyMaps {
  Eigen::MatrixXd query, key;
  int heads = 1;
};

struct ProbeInput {
  // P [L, d], row k = position k: from the encoder of a trained model, from an imported
  // .npy / HDF5 matrix, or from hidden states averaged over examples.
  std::optional<Eigen::MatrixXd> position_matrix;
  std::string matrix_source;  // where P came from, e.g. "encoder", "gpt2.npy"
  std::optional<ModelActivations> activations;  // trained model only
  std::optional<EvalTable> evaluation;          // trained model only
  std::optional<QueryKeyMaps> first_layer_qk;   // trained model with a position matrix
};

class Probe {
 public:
  virtual ~Probe() = default;
  // Whether this probe can run on `input` (e.g. there is a position matrix, long enough).
  virtual bool applies(const ProbeInput& input) const = 0;
  virtual ProbeResult run(const ProbeInput& input) const = 0;
};

using ProbeRegistry = Registry<Probe>;
#define POSLAB_REGISTER_PROBE(ClassName, Name, Summary, OptionList)                  \
  static const ::poslab::Registrar<::poslab::ProbeRegistry> registrar_##ClassName{     \
      {Name, Summary, OptionList,                                                      \
       [](const ::poslab::Options& o) -> std::unique_ptr<::poslab::Probe> {            \
         return std::make_unique<ClassName>(o);                                        \
       }, __FILE__}};

// Known answers for the generic probe test (tests/probe_known_answers_test.cpp), declared
// next to a probe's registration so that a new probe is tested without editing any list
// (docs/extending.md). The test builds each canned input below, runs the probe with its
// default options and checks that the scalar `metric` lies in [low, high]. Every
// registered probe must declare at least two, on inputs whose answers differ, so that a
// probe returning a constant fails.
enum class KnownInput {
  SinusoidMatrix,         // position_matrix: 64 x 32 sinusoid (n = 10000): position readable
  RandomMatrix,           // position_matrix: 64 x 32 seeded N(0, 1): no position in it
  PositionalActivations,  // hidden states = sinusoid(position) + noise, attention on the
                          // previous token (distance 1), 8 examples x 32 positions, 2 layers
  PositionlessActivations,  // hidden states = noise only, uniform causal attention
  FlatEvaluation,         // loss and accuracy the same at 1x, 2x, 4x the training length
  CollapsingEvaluation,   // accuracy 0.9 at the training length, 0.1 at 4x
};
struct ProbeKnownAnswer {
  KnownInput input;
  std::string metric;
  double low, high;
};
class ProbeKnownAnswerRegistry {
 public:
  static std::map<std::string, std::vector<ProbeKnownAnswer>>& instance() {
    static std::map<std::string, std::vector<ProbeKnownAnswer>> answers;
    return answers;
  }
};
#define POSLAB_PROBE_KNOWN_ANSWERS(ClassName, Name, ...)                                    \
  static const bool known_answers_##ClassName = [] {                                        \
    ::poslab::ProbeKnownAnswerRegistry::instance()[Name] =                                  \
        std::vector<::poslab::ProbeKnownAnswer>{__VA_ARGS__};                               \
    return true;                                                                            \
  }();

// ---- Matrix probes as plain functions ----------------------------------------------------

// absolute_position.cpp — can a linear map read the position index k off row k of P?
struct AbsoluteOptions {
  int folds = 5;
  std::uint64_t seed = 0;
  double ridge = 0.0;     // 0 = ordinary least squares, minimum-norm solution
  int max_positions = 0;  // 0 = all rows; otherwise a seeded random subset of this many
};
struct AbsoluteResult {
  double mae = 0.0;  // mean |round(prediction) − k| over held-out predictions
  double r2 = 0.0;   // out-of-fold R² of the unrounded predictions
  std::vector<int> positions;   // [m] the positions (rows of P) used, ascending
  std::vector<int> fold;        // [m] fold id of each used position
  Eigen::VectorXd predictions;  // [m] out-of-fold prediction of each used position
  ProbeResult to_probe_result() const;
};
// Throws std::invalid_argument if there are fewer usable rows than folds.
AbsoluteResult absolute_position_probe(const Eigen::MatrixXd& P, const AbsoluteOptions& options);

// relative_position.cpp — can a linear classifier tell, from [P_i ; P_j], whether j > i?
// Two protocols (see relative_position.cpp): poslab's (the fields below) and Wang & Chen's
// released relative.py (pairs = L drawn from all L² ordered pairs including i = j,
// unshuffled stratified folds, scikit-learn's default C = 1, error = mean of fold errors);
// under wang_chen `pairs` and `l2` are not used.
enum class RelativeProtocol { Poslab, WangChen };
struct RelativeOptions {
  int pairs = 2000;  // ordered pairs (i, j), i ≠ j, sampled without replacement (or all)
  int folds = 5;
  std::uint64_t seed = 0;
  double l2 = 1e-3;  // λ in: mean log-loss + (λ/2)‖w‖² (see fit_logistic in linalg.h)
  RelativeProtocol protocol = RelativeProtocol::Poslab;
};
struct RelativeResult {
  double error_rate = 0.0;        // out-of-fold fraction of pairs misclassified (wang_chen:
                                  // the mean over folds of each fold's fraction)
  double train_error_rate = 0.0;  // mean over folds of the training-fold error rate
  bool converged = true;          // every fold's logistic regression met its tolerance
  bool wang_chen = false;         // which protocol produced it
  std::vector<int> first, second;  // [N] the pairs (i, j); label is second > first
  std::vector<int> fold;           // [N] fold id of each pair
  Eigen::VectorXd decision;        // [N] out-of-fold decision value w·x + b (> 0: j > i)
  ProbeResult to_probe_result() const;
};
// Throws std::invalid_argument if P has fewer than 2 rows or there are fewer pairs than folds.
RelativeResult relative_position_probe(const Eigen::MatrixXd& P, const RelativeOptions& options);

// similarity.cpp — how alike are the vectors of positions i and j, by distance |i − j|?
struct SimilarityOptions {
  int max_positions = 0;  // 0 = all rows; otherwise the first max_positions rows
};
struct SimilarityResult {
  Eigen::MatrixXd cosine;            // [L, L] cosine similarity of rows i and j
  Eigen::VectorXd mean_by_distance;  // [L] mean of cosine(i, j) over |i − j| = δ
  double locality = 0.0;  // mean_by_distance[1] − mean of mean_by_distance[δ], δ ≥ 1
  ProbeResult to_probe_result() const;
};
SimilarityResult similarity_probe(const Eigen::MatrixXd& P, const SimilarityOptions& options);

// properties.cpp — Wang et al. (ICLR 2021): monotonicity, translation invariance and
// symmetry of a position–position proximity matrix S [L, L].
struct PropertiesOptions {
  bool cosine = false;    // S = P Pᵀ (false, the paper's inner product) or cosines
  int max_distance = 0;   // monotonicity over offsets up to this (0 = all: global)
  int max_positions = 0;  // 0 = all rows; otherwise the first max_positions rows
};
struct MatrixProperties {
  double monotonicity = 0.0;           // both directions pooled, in [0, 1]
  double monotonicity_forward = 0.0;   // anchor x, positions x + n, x + m
  double monotonicity_backward = 0.0;  // anchor x, positions x − n, x − m
  double translation_invariance = 0.0; // share of S's variance explained by j − i
  double asymmetry = 0.0;              // ‖(S − Sᵀ)/2‖_F / ‖S‖_F, in [0, 1]
  Eigen::VectorXd diagonal_mean, diagonal_sd;  // [2L − 1], index (j − i) + L − 1
};
// The three properties of one proximity matrix S [L, L] (L ≥ 3).
MatrixProperties matrix_properties(const Eigen::MatrixXd& S, int max_distance);

struct PropertiesResult {
  MatrixProperties positions;            // of S = P Pᵀ (or cosines)
  std::vector<MatrixProperties> qk;      // per head, of the first layer's q·k position term
  ProbeResult to_probe_result() const;
};
// Throws std::invalid_argument if P has fewer than 3 rows (after max_positions).
PropertiesResult properties_probe(const Eigen::MatrixXd& P, const PropertiesOptions& options,
                                  const QueryKeyMaps* first_layer_qk = nullptr);

}  // namespace poslab
