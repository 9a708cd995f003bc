// kernels::gemm (core/kernels/gemm.h): every transpose combination on strided sub-blocks
// against a double-precision reference, beta = 0 not reading C, both paths agreeing, and
// the BLAS (when configured) being the OpenMP flavour that follows poslab's thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/kernels/gemm.h"
#include "core/rng.h"

namespace poslab::kernels {
namespace {

struct Case {
  bool ta, tb;
  int M, N, K;
};

// Fills a buffer with values in [-1, 1) from a fixed seed.
RealBuffer random_buffer(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  RealBuffer out(n);
  for (auto& x : out) x = Real(2 * rng.uniform() - 1);
  return out;
}

using Gemm = void (*)(bool, bool, int, int, int, Real, const Real*, int, const Real*, int, Real,
                      Real*, int);

// Runs `g` on sub-blocks of larger buffers (row strides M+3 / K+5 / N+7) and checks
// C = alpha·op(A)·op(B) + beta·C against a double reference; the padding is untouched.
void check(Gemm g, const Case& c, Real alpha, Real beta) {
  const int a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  const int b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  const int lda = a_cols + 3, ldb = b_cols + 5, ldc = c.N + 7;
  RealBuffer A = random_buffer(std::size_t(a_rows) * lda, 1);
  RealBuffer B = random_buffer(std::size_t(b_rows) * ldb, 2);
  RealBuffer C = random_buffer(std::size_t(c.M) * ldc, 3);
  if (beta == Real(0))  // beta = 0 must overwrite, never read (NaN * 0 would be NaN)
    for (int i = 0; i < c.M; ++i)
      for (int j = 0; j < c.N; ++j)
        C[std::size_t(i) * ldc + j] = std::numeric_limits<Real>::quiet_NaN();
  const RealBuffer C0 = C;
  g(c.ta, c.tb, c.M, c.N, c.K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
  for (int i = 0; i < c.M; ++i) {
    for (int j = 0; j < c.N; ++j) {
      double ref = 0;
      for (int k = 0; k < c.K; ++k) {
        const double a = c.ta ? A[std::size_t(k) * lda + i] : A[std::size_t(i) * lda + k];
        const double b = c.tb ? B[std::size_t(j) * ldb + k] : B[std::size_t(k) * ldb + j];
        ref += a * b;
      }
      ref *= alpha;
      if (beta != Real(0)) ref += double(beta) * C0[std::size_t(i) * ldc + j];
      ASSERT_NEAR(C[std::size_t(i) * ldc + j], ref, 1e-5 * (1 + std::abs(ref)))
          << "ta " << c.ta << " tb " << c.tb << " at (" << i << ", " << j << ")";
    }
    for (int j = c.N; j < ldc; ++j)  // padding of the row
      ASSERT_EQ(C[std::size_t(i) * ldc + j], C0[std::size_t(i) * ldc + j]);
  }
}

const std::vector<Case> kCases = {
    {false, false, 37, 29, 41}, {false, true, 64, 130, 32}, {true, false, 33, 17, 200},
    {true, true, 5, 70, 19},    {false, true, 1, 1, 1},     {true, false, 128, 32, 64}};

TEST(Gemm, EigenPathMatchesReference) {
  for (const Case& c : kCases)
    for (Real beta : {Real(0), Real(1), Real(0.5)}) check(gemm_eigen, c, Real(0.75), beta);
}

TEST(Gemm, DispatchedPathMatchesReference) {
  for (const Case& c : kCases)
    for (Real beta : {Real(0), Real(1), Real(0.5)}) check(gemm, c, Real(0.75), beta);
}

TEST(Gemm, BlasPathMatchesReferenceWhenConfigured) {
  if (!blas_available()) GTEST_SKIP() << "built without BLAS (POSLAB_BLAS=OFF or not found)";
  for (const Case& c : kCases)
    for (Real beta : {Real(0), Real(1), Real(0.5)}) check(gemm_blas, c, Real(0.75), beta);
}

// The pthread flavour would run its own pool of spinning threads beside OpenMP's.
TEST(Gemm, BlasIsTheOpenMPFlavour) {
  if (!blas_available()) GTEST_SKIP() << "built without BLAS";
  EXPECT_NE(std::string(gemm_library()).find("USE_OPENMP"), std::string::npos)
      << gemm_library();
}

// The same product gives the same bits after unrelated products of other shapes (no state
// carried between calls changes a result).
TEST(Gemm, ResultDoesNotDependOnEarlierCalls) {
  const int M = 300, N = 200, K = 150;
  const RealBuffer A = random_buffer(std::size_t(M) * K, 4), B = random_buffer(std::size_t(K) * N, 5);
  RealBuffer first(std::size_t(M) * N), again(std::size_t(M) * N);
  gemm(false, false, M, N, K, Real(1), A.data(), K, B.data(), N, Real(0), first.data(), N);
  RealBuffer big = random_buffer(std::size_t(512) * 512, 6), out(std::size_t(512) * 512);
  gemm(true, false, 512, 512, 512, Real(1), big.data(), 512, big.data(), 512, Real(0),
       out.data(), 512);
  gemm(false, true, 7, 9, 3, Real(2), big.data(), 3, big.data(), 3, Real(0), out.data(), 9);
  gemm(false, false, M, N, K, Real(1), A.data(), K, B.data(), N, Real(0), again.data(), N);
  EXPECT_EQ(0, std::memcmp(first.data(), again.data(), first.size() * sizeof(Real)));
}

}  // namespace
}  // namespace poslab::kernels
