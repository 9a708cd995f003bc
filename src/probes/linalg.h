#pragma once
// The linear algebra behind the probes, in double precision on Eigen: least squares (with
// intercept, minimum-norm or ridge), L2-regularised binary logistic regression, and a
// seeded K-fold splitter. Everything here is deterministic for given inputs and seeds, so
// a probe's numbers can be recomputed elsewhere (scripts/compare_probes_sklearn.py does
// this with scikit-learn on the same rows, folds and pairs).
//
// Shapes: X [n, d] (row = example), y [n].
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "core/rng.h"

namespace poslab {

// An affine predictor y ≈ X w + b.
struct LinearModel {
  Eigen::VectorXd w;  // [d]
  double b = 0.0;
  int rank = 0;  // numerical rank of the centred X (min-norm fits; min(n, d) for ridge)

  Eigen::VectorXd predict(const Eigen::MatrixXd& X) const {
    return (X * w).array() + b;
  }
};

// Least squares with an intercept: minimise ‖Xc w − yc‖² + ridge·‖w‖², where Xc and yc
// are X and y with their column means removed, then b = mean(y) − mean(X)·w. Centring is
// exactly equivalent to an unpenalised intercept column, without that column's effect on
// the conditioning or on the penalty.
//  - ridge == 0: the minimum-norm solution (the one scikit-learn's LinearRegression and
//    numpy.linalg.lstsq return). Computed by a complete orthogonal decomposition (QR with
//    column pivoting, then an RQ step): the same minimum-norm answer as an SVD for the
//    numerical rank it detects, and about 4x faster than Eigen's SVD on 400x768. The rank
//    cut is numpy's: pivots below eps·max(n, d)·|largest pivot| count as zero. Centring
//    always removes one dimension (rank ≤ n − 1), and this cut is what removes it.
//  - ridge > 0: a Cholesky solve of the smaller Gram system: (XcᵀXc + λI) w = Xcᵀyc when
//    d ≤ n, or the dual form w = Xcᵀ(XcXcᵀ + λI)⁻¹yc when d > n (an n×n system instead
//    of d×d; same answer). Falls back to the orthogonal decomposition route (via the
//    augmented system [Xc; √λ I]) if the Gram matrix is numerically not positive definite.
LinearModel fit_least_squares(const Eigen::MatrixXd& X, const Eigen::VectorXd& y,
                              double ridge = 0.0);

struct LogisticOptions {
  double l2 = 1e-3;    // λ in the objective below; > 0 keeps separable data finite
  double tol = 1e-10;  // stop when every gradient component is at most this
  int max_iter = 100;  // Newton iterations
};

struct LogisticModel {
  Eigen::VectorXd w;  // [d]
  double b = 0.0;
  int iterations = 0;
  bool converged = false;
  double objective = 0.0;  // J at the returned (w, b)

  // The decision value w·x + b per row; label 1 where it is > 0.
  Eigen::VectorXd decision(const Eigen::MatrixXd& X) const { return (X * w).array() + b; }
};

// Binary logistic regression with labels y ∈ {0, 1}, minimising
//     J(w, b) = (1/n) Σ_i log(1 + exp(−s_i (w·x_i + b))) + (λ/2)‖w‖²,   s_i = 2y_i − 1,
// i.e. the MEAN log-loss plus an L2 penalty on w only (the intercept is not penalised).
// The same minimiser as scikit-learn's LogisticRegression(C = 1/(n·λ), fit_intercept=True)
// with an lbfgs/newton-cg/newton-cholesky solver (which do not penalise the intercept).
// Because the loss is a mean, λ means the same thing whatever the number of examples.
//
// Method: Newton's method (IRLS) from w = 0, b = 0, with the Hessian
// (1/n)[X 1]ᵀS[X 1] + diag(λ,…,λ,0) factorised by LDLT and a backtracking (Armijo) line
// search, so every step decreases J; Newton's quadratic convergence gives an accurate
// optimum in a few iterations, which keeps comparisons with other solvers tight.
// When d > n the problem is first reduced exactly to n dimensions: the optimal w lies in
// the row space of X (a component orthogonal to it leaves the loss unchanged and only adds
// penalty), so with V [d, n] an orthonormal basis of a space containing that row space
// (thin Householder QR of Xᵀ), w = V c and we fit c on the features XV [n, n], whose
// penalty ‖c‖ = ‖w‖ is unchanged. Each Newton step then costs O(n·min(n,d)²) instead of
// O(n·d²).
LogisticModel fit_logistic(const Eigen::MatrixXd& X, const Eigen::VectorXd& y,
                           const LogisticOptions& options = {});

// An orthonormal basis V [d, min(n, d)] of a space that contains the row space of X [n, d]
// (Householder QR of Xᵀ; no rank decision is needed because the space may be larger).
// Used to shrink wide feature matrices before fitting L2-penalised linear models.
Eigen::MatrixXd row_space_basis(const Eigen::MatrixXd& X);

// ---- Badly scaled input (e.g. a matrix ×1e300 or ×1e-310)
// Squares of entries beyond about 2^±511 overflow or underflow, so norms, Gram matrices and
// QR factors of such a matrix turn into inf, NaN or zeros. Probes that do not depend on the
// scale of P (least squares without a penalty, cosine similarity) rescale it by a power of
// two, which is exact; probes whose penalty acts on the scale of P (ridge, logistic l2)
// rescale the penalty with it, and throw IllConditionedFit when that penalty is then no
// longer a normal double (effectively 0 or infinite).
class IllConditionedFit : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// e such that P·2^−e has its largest |entry| in [0.5, 1), when that largest entry lies
// outside [2^−256, 2^256]; otherwise 0, so that ordinarily scaled input (and an all-zero
// matrix) is used exactly as it is. 0 also for a matrix with NaN or inf entries (which
// `poslab probe` refuses before any probe runs).
int rescale_exponent(const Eigen::MatrixXd& P);
// P·2^−e, entry by entry (exact unless an entry leaves the normal range).
Eigen::MatrixXd scale_by_power_of_two(const Eigen::MatrixXd& P, int e);
// The penalty λ of a fit on P rewritten for the fit on P·2^−e: λ·2^−2e (the weights scale
// by 2^e, their squared norm by 2^2e). 0 stays 0; a positive λ that is then 0, subnormal
// or infinite throws IllConditionedFit "<probe>: the matrix's entries reach 4.3e+300, at
// which the <name> penalty 0.001 ... is effectively 0: ...".
double rescaled_penalty(const std::string& probe, const std::string& name, double penalty,
                        const Eigen::MatrixXd& P, int e);

// K-fold assignment of n rows: a Fisher–Yates shuffle of 0..n−1 with `rng`, then K
// contiguous blocks of the shuffled order; the first n mod K blocks get one extra row (the
// same sizes as scikit-learn's KFold). Returns the fold id (0..K−1) of each row. Probes
// write these ids into their results so other tools can reuse the identical folds.
// Requires 2 ≤ folds ≤ n.
std::vector<int> kfold_assignment(int n, int folds, Rng& rng);

// scikit-learn's StratifiedKFold(n_splits = K, shuffle = False) for 0/1 labels (its
// documented behaviour, restated; what cross_val_score(cv = K) uses for a classifier):
// classes are numbered in order of first appearance; fold f's share of class k is the
// number of class-k entries at positions f, f + K, f + 2K, ... of the labels sorted by
// that number (a round robin); each class's rows, in data order, are then handed out in
// blocks: the first share to fold 0, the next to fold 1, and so on. Returns the fold id
// of each row. Requires 2 ≤ K ≤ n and labels in {0, 1}.
std::vector<int> stratified_kfold_unshuffled(const std::vector<int>& label, int K);

}  // namespace poslab
