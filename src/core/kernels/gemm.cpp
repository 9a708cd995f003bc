#include "core/kernels/gemm.h"

#include <stdexcept>
#include <string>

#ifdef POSLAB_HAVE_BLAS
#include <cblas.h>
#endif

namespace poslab::inline POSLAB_REAL_NAMESPACE::kernels {

namespace {

using Strided = Eigen::OuterStride<>;
using CMapS = Eigen::Map<const MatR, 0, Strided>;
using MapS = Eigen::Map<MatR, 0, Strided>;

template <class OpA, class OpB>
void eigen_product(MapS& C, const OpA& a, const OpB& b, Real alpha, Real beta) {
  if (beta == Real(0)) {
    C.noalias() = alpha * a * b;
  } else {
    if (beta != Real(1)) C *= beta;
    C.noalias() += alpha * a * b;
  }
}

}  // namespace

void gemm_eigen(bool trans_a, bool trans_b, int M, int N, int K, Real alpha, const Real* A,
                int lda, const Real* B, int ldb, Real beta, Real* C, int ldc) {
  MapS c(C, M, N, Strided(ldc));
  // A stored [M, K] (or [K, M] when transposed), B stored [K, N] (or [N, K]).
  const CMapS a(A, trans_a ? K : M, trans_a ? M : K, Strided(lda));
  const CMapS b(B, trans_b ? N : K, trans_b ? K : N, Strided(ldb));
  if (!trans_a && !trans_b) eigen_product(c, a, b, alpha, beta);
  else if (!trans_a) eigen_product(c, a, b.transpose(), alpha, beta);
  else if (!trans_b) eigen_product(c, a.transpose(), b, alpha, beta);
  else eigen_product(c, a.transpose(), b.transpose(), alpha, beta);
}

#if defined(POSLAB_HAVE_BLAS) && !defined(POSLAB_DOUBLE)

bool blas_available() { return true; }

void gemm_blas(bool trans_a, bool trans_b, int M, int N, int K, Real alpha, const Real* A,
               int lda, const Real* B, int ldb, Real beta, Real* C, int ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char* gemm_library() {
  static const std::string name = std::string("openblas ") + openblas_get_config() + " (" +
                                  openblas_get_corename() + ")";
  return name.c_str();
}

#else

bool blas_available() { return false; }

void gemm_blas(bool, bool, int, int, int, Real, const Real*, int, const Real*, int, Real, Real*,
               int) {
  throw std::logic_error("gemm_blas: this build has no BLAS (CMake option POSLAB_BLAS)");
}

const char* gemm_library() { return "eigen"; }

#endif

void gemm(bool trans_a, bool trans_b, int M, int N, int K, Real alpha, const Real* A, int lda,
          const Real* B, int ldb, Real beta, Real* C, int ldc) {
#if defined(POSLAB_HAVE_BLAS) && !defined(POSLAB_DOUBLE)
  gemm_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
  gemm_eigen(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

}  // namespace poslab::kernels
