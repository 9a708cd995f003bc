#include "probes/linalg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace poslab {
namespace {

// Minimum-norm solution of min ‖A w − r‖ with numpy's rank cut (see linalg.h).
Eigen::VectorXd min_norm_solve(const Eigen::MatrixXd& A, const Eigen::VectorXd& r, int* rank) {
  Eigen::CompleteOrthogonalDecomposition<Eigen::MatrixXd> cod;
  cod.setThreshold(std::numeric_limits<double>::epsilon() *
                   double(std::max(A.rows(), A.cols())));
  cod.compute(A);
  if (rank) *rank = int(cod.rank());
  return cod.solve(r);
}

// log(1 + exp(−m)) for a margin m, without overflow for either sign.
double log1p_exp_neg(double m) {
  return m > 0 ? std::log1p(std::exp(-m)) : -m + std::log1p(std::exp(m));
}

double sigmoid(double z) {
  return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
}

// J(c, b) of linalg.h on features Z.
double logistic_objective(const Eigen::MatrixXd& Z, const Eigen::VectorXd& y,
                          const Eigen::VectorXd& c, double b, double l2) {
  const Eigen::VectorXd z = (Z * c).array() + b;
  double loss = 0.0;
  for (Eigen::Index i = 0; i < z.size(); ++i) {
    const double sign = y(i) > 0.5 ? 1.0 : -1.0;
    loss += log1p_exp_neg(sign * z(i));
  }
  return loss / double(z.size()) + 0.5 * l2 * c.squaredNorm();
}

// Newton/IRLS on features Z [n, p] (see linalg.h); fills w (= c here), b and diagnostics.
LogisticModel newton_logistic(const Eigen::MatrixXd& Z, const Eigen::VectorXd& y,
                              const LogisticOptions& opt) {
  const Eigen::Index n = Z.rows(), p = Z.cols();
  const double inv_n = 1.0 / double(n);
  LogisticModel m;
  m.w = Eigen::VectorXd::Zero(p);
  m.b = 0.0;
  double J = logistic_objective(Z, y, m.w, m.b, opt.l2);

  Eigen::MatrixXd W(n, p + 1);  // rows sqrt(s_i / n)·[z_i, 1], so that H = WᵀW + penalty
  Eigen::MatrixXd H(p + 1, p + 1);
  Eigen::VectorXd g(p + 1), step(p + 1), prob(n);
  for (m.iterations = 0; m.iterations < opt.max_iter; ++m.iterations) {
    const Eigen::VectorXd z = (Z * m.w).array() + m.b;
    for (Eigen::Index i = 0; i < n; ++i) prob(i) = sigmoid(z(i));
    const Eigen::VectorXd resid = prob - y;  // dℓ/dz per example
    g.head(p) = inv_n * (Z.transpose() * resid) + opt.l2 * m.w;
    g(p) = inv_n * resid.sum();
    if (g.lpNorm<Eigen::Infinity>() <= opt.tol) {
      m.converged = true;
      break;
    }

    for (Eigen::Index i = 0; i < n; ++i) {
      const double s = std::sqrt(prob(i) * (1.0 - prob(i)) * inv_n);
      W.row(i).head(p) = s * Z.row(i);
      W(i, p) = s;
    }
    H.setZero();
    H.selfadjointView<Eigen::Lower>().rankUpdate(W.transpose());
    H.diagonal().head(p).array() += opt.l2;
    H.triangularView<Eigen::StrictlyUpper>() = H.transpose();
    // When every example is confidently classified the intercept's curvature (1/n)Σs_i can
    // underflow; LDLT then treats that pivot as zero, and the line search still decides.
    Eigen::LDLT<Eigen::MatrixXd> ldlt(H);
    step = -ldlt.solve(g);
    double slope = g.dot(step);
    if (ldlt.info() != Eigen::Success || !step.allFinite() || !(slope < 0)) {
      step = -g;  // not a descent direction: fall back to steepest descent
      slope = -g.squaredNorm();
    }

    // Backtracking line search with the Armijo condition.
    double t = 1.0, J_new = J;
    Eigen::VectorXd w_new;
    double b_new = m.b;
    bool accepted = false;
    for (int halvings = 0; halvings < 60; ++halvings, t *= 0.5) {
      w_new = m.w + t * step.head(p);
      b_new = m.b + t * step(p);
      J_new = logistic_objective(Z, y, w_new, b_new, opt.l2);
      if (J_new <= J + 1e-4 * t * slope) {
        accepted = true;
        break;
      }
    }
    if (!accepted) break;  // no decrease possible at double precision: we are at the optimum
    m.w = std::move(w_new);
    m.b = b_new;
    J = J_new;
  }
  if (!m.converged) {
    // Report convergence honestly if the last accepted point meets the tolerance.
    const Eigen::VectorXd z = (Z * m.w).array() + m.b;
    for (Eigen::Index i = 0; i < n; ++i) prob(i) = sigmoid(z(i));
    const Eigen::VectorXd resid = prob - y;
    g.head(p) = inv_n * (Z.transpose() * resid) + opt.l2 * m.w;
    g(p) = inv_n * resid.sum();
    m.converged = g.lpNorm<Eigen::Infinity>() <= opt.tol;
  }
  m.objective = J;
  return m;
}

}  // namespace

LinearModel fit_least_squares(const Eigen::MatrixXd& X, const Eigen::VectorXd& y,
                              double ridge) {
  if (X.rows() != y.size()) throw std::invalid_argument("fit_least_squares: X and y differ in rows");
  if (X.rows() < 1) throw std::invalid_argument("fit_least_squares: no rows");
  if (ridge < 0) throw std::invalid_argument("fit_least_squares: negative ridge");
  const Eigen::Index n = X.rows(), d = X.cols();
  const Eigen::RowVectorXd x_mean = X.colwise().mean();
  const double y_mean = y.mean();
  const Eigen::MatrixXd Xc = X.rowwise() - x_mean;
  const Eigen::VectorXd yc = y.array() - y_mean;

  LinearModel model;
  if (ridge == 0.0) {
    model.w = min_norm_solve(Xc, yc, &model.rank);
  } else {
    bool solved = false;
    if (d > n) {
      Eigen::MatrixXd K = Eigen::MatrixXd::Zero(n, n);
      K.selfadjointView<Eigen::Lower>().rankUpdate(Xc);  // Xc Xcᵀ
      K.diagonal().array() += ridge;
      Eigen::LLT<Eigen::MatrixXd> llt(K);
      if (llt.info() == Eigen::Success) {
        model.w = Xc.transpose() * llt.solve(yc);
        solved = true;
      }
    } else {
      Eigen::MatrixXd G = Eigen::MatrixXd::Zero(d, d);
      G.selfadjointView<Eigen::Lower>().rankUpdate(Xc.transpose());  // Xcᵀ Xc
      G.diagonal().array() += ridge;
      Eigen::LLT<Eigen::MatrixXd> llt(G);
      if (llt.info() == Eigen::Success) {
        model.w = llt.solve(Xc.transpose() * yc);
        solved = true;
      }
    }
    if (!solved || !model.w.allFinite()) {
      // ‖Xc w − yc‖² + λ‖w‖² is the plain least-squares problem of [Xc; √λ I] w ≈ [yc; 0].
      Eigen::MatrixXd A(n + d, d);
      A << Xc, std::sqrt(ridge) * Eigen::MatrixXd::Identity(d, d);
      Eigen::VectorXd r = Eigen::VectorXd::Zero(n + d);
      r.head(n) = yc;
      model.w = min_norm_solve(A, r, nullptr);
    }
    model.rank = int(std::min(n, d));
  }
  model.b = y_mean - x_mean.dot(model.w);
  return model;
}

Eigen::MatrixXd row_space_basis(const Eigen::MatrixXd& X) {
  const Eigen::Index n = X.rows(), d = X.cols();
  const Eigen::Index k = std::min(n, d);
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(X.transpose());  // Xᵀ [d, n] = Q R
  return qr.householderQ() * Eigen::MatrixXd::Identity(d, k);
}

LogisticModel fit_logistic(const Eigen::MatrixXd& X, const Eigen::VectorXd& y,
                           const LogisticOptions& options) {
  if (X.rows() != y.size()) throw std::invalid_argument("fit_logistic: X and y differ in rows");
  if (X.rows() < 1) throw std::invalid_argument("fit_logistic: no rows");
  if (options.l2 < 0) throw std::invalid_argument("fit_logistic: negative l2");
  for (Eigen::Index i = 0; i < y.size(); ++i)
    if (y(i) != 0.0 && y(i) != 1.0) throw std::invalid_argument("fit_logistic: labels must be 0 or 1");

  if (X.cols() <= X.rows()) return newton_logistic(X, y, options);
  // d > n: fit in the n-dimensional row space (exact; see linalg.h), then map back.
  const Eigen::MatrixXd V = row_space_basis(X);  // [d, n]
  LogisticModel m = newton_logistic(X * V, y, options);
  m.w = V * m.w;
  return m;
}

int rescale_exponent(const Eigen::MatrixXd& P) {
  const double largest = P.size() == 0 ? 0.0 : P.cwiseAbs().maxCoeff();
  if (!std::isfinite(largest) || largest == 0.0 ||
      (largest >= std::ldexp(1.0, -256) && largest <= std::ldexp(1.0, 256)))
    return 0;  // non-finite input is the caller's to refuse; it is not rescaled
  int e = 0;
  std::frexp(largest, &e);  // largest = m·2^e with m in [0.5, 1), also for subnormals
  return e;
}

Eigen::MatrixXd scale_by_power_of_two(const Eigen::MatrixXd& P, int e) {
  return P.unaryExpr([e](double x) { return std::ldexp(x, -e); });
}

double rescaled_penalty(const std::string& probe, const std::string& name, double penalty,
                        const Eigen::MatrixXd& P, int e) {
  const double scaled = std::ldexp(penalty, -2 * e);
  if (penalty == 0 || std::isnormal(scaled)) return scaled;
  char largest[32], given[32];
  std::snprintf(largest, sizeof largest, "%.3g", P.cwiseAbs().maxCoeff());
  std::snprintf(given, sizeof given, "%g", penalty);
  throw IllConditionedFit(probe + ": the matrix's entries reach " + largest + ", at which the " +
                          name + " penalty " + given +
                          " (it acts on the scale of the matrix) is effectively " +
                          (scaled == 0 ? "0" : "infinite") +
                          ": the fit is ill-conditioned; expected a matrix rescaled to entries of order 1");
}

std::vector<int> kfold_assignment(int n, int folds, Rng& rng) {
  if (folds < 2 || folds > n)
    throw std::invalid_argument("kfold_assignment: need 2 <= folds <= n, got folds = " +
                                std::to_string(folds) + ", n = " + std::to_string(n));
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  for (int i = n - 1; i > 0; --i) std::swap(order[i], order[rng.uniform_int(0, i)]);

  std::vector<int> fold(n);
  const int base = n / folds, extra = n % folds;
  int t = 0;
  for (int f = 0; f < folds; ++f) {
    const int size = base + (f < extra ? 1 : 0);
    for (int s = 0; s < size; ++s) fold[order[t++]] = f;
  }
  return fold;
}

std::vector<int> stratified_kfold_unshuffled(const std::vector<int>& label, int K) {
  const int N = int(label.size());
  if (K < 2 || K > N) throw std::invalid_argument("stratified_kfold_unshuffled: need 2 <= folds <= n");
  for (int y : label)
    if (y != 0 && y != 1) throw std::invalid_argument("stratified_kfold_unshuffled: labels must be 0 or 1");
  std::vector<int> code_of(2, -1), count;  // label (0/1) -> class number by appearance
  for (int y : label)
    if (code_of[y] < 0) {
      code_of[y] = int(count.size());
      count.push_back(0);
    }
  for (int y : label) ++count[code_of[y]];
  const int classes = int(count.size());
  // allocation[f][k]: sorted position p (class k occupies [start_k, start_k + count_k))
  // goes to fold p % K.
  std::vector<std::vector<int>> allocation(K, std::vector<int>(classes, 0));
  for (int k = 0, start = 0; k < classes; start += count[k], ++k)
    for (int p = start; p < start + count[k]; ++p) ++allocation[p % K][k];
  std::vector<int> fold(N);
  for (int k = 0; k < classes; ++k) {
    int f = 0, used = 0;  // next fold to fill for class k, and how many it has so far
    for (int n = 0; n < N; ++n) {
      if (code_of[label[n]] != k) continue;
      while (used == allocation[f][k]) {
        ++f;
        used = 0;
      }
      fold[n] = f;
      ++used;
    }
  }
  return fold;
}

}  // namespace poslab
