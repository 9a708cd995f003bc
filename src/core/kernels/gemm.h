#pragma once
// One entry point for every large matrix product of the model (linear layers, attention):
//
//   C[M, N] = alpha · op(A) · op(B) + beta · C        op(X) = X or Xᵀ
//
// All matrices row-major; lda, ldb, ldc are row strides (elements), so a sub-block of a
// larger matrix is passed as (pointer to its first element, the parent's row length).
// op(A) is [M, K] (A itself [M, lda≥K], or [K, lda≥M] when trans_a); op(B) is [K, N].
// beta = 0 overwrites C (it is not read, NaNs in it do not propagate); beta = 1 accumulates.
//
// Paths: the float build with POSLAB_HAVE_BLAS (CMake option POSLAB_BLAS) calls OpenBLAS's
// cblas_sgemm; the double build (gradient checks, PyTorch parity) and builds without BLAS
// use Eigen's GEMM. Both are deterministic for a given thread count: each element of C is
// one dot product over K in a fixed order. Called inside an OpenMP parallel region both
// run single-threaded; outside, both use the OpenMP thread count.
#include "core/real.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE::kernels {

void gemm(bool trans_a, bool trans_b, int M, int N, int K, Real alpha, const Real* A, int lda,
          const Real* B, int ldb, Real beta, Real* C, int ldc);

// The two paths by name, for the per-shape measurements (bench/gemm_shapes.cpp) and the
// tests that compare them. gemm_blas exists only where blas_available() is true.
void gemm_eigen(bool trans_a, bool trans_b, int M, int N, int K, Real alpha, const Real* A,
                int lda, const Real* B, int ldb, Real beta, Real* C, int ldc);
bool blas_available();
void gemm_blas(bool trans_a, bool trans_b, int M, int N, int K, Real alpha, const Real* A,
               int lda, const Real* B, int ldb, Real beta, Real* C, int ldc);
// "openblas-openmp 0.3.21 (Zen)"-style description of the GEMM library, or "eigen".
const char* gemm_library();

}  // namespace poslab::kernels
