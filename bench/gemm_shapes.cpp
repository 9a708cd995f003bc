// Per-shape GEMM rates of the reference configuration (B 32, T 128, d 128, 4 heads,
// d_ff 512, V 64): Eigen's GEMM against the BLAS path of kernels::gemm, shape by shape, at
// the OpenMP thread count (OMP_NUM_THREADS). Linear-layer products run as the model runs
// them (one call, threaded by the library); attention products run per (b, h) inside an
// OpenMP loop, one thread per call, as model/attention_products.cpp calls them.
// Build: cmake --build build --target poslab_gemm_shapes; run: build/poslab_gemm_shapes.
// Prints GFLOP/s (median of 7 timings) per path and the ratio BLAS / Eigen.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include "core/kernels/gemm.h"

using poslab::Real;
using poslab::RealBuffer;
namespace k = poslab::kernels;

namespace {

using Gemm = void (*)(bool, bool, int, int, int, Real, const Real*, int, const Real*, int, Real,
                      Real*, int);

struct Shape {
  const char* name;
  bool ta, tb;
  int M, N, K;
  Real beta;
  int batch;  // > 0: this many independent products in an OpenMP loop (attention)
};

double median_seconds(const std::function<void()>& run) {
  run();  // warm caches and the library's buffers
  std::vector<double> t;
  for (int r = 0; r < 7; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double rate(const Shape& s, Gemm g) {
  const int count = std::max(1, s.batch);
  const std::size_t a_size = std::size_t(s.M) * s.K, b_size = std::size_t(s.K) * s.N,
                    c_size = std::size_t(s.M) * s.N;
  RealBuffer A(a_size * count, Real(0.01)), B(b_size * count, Real(0.02)),
      C(c_size * count, Real(0));
  const int lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
  // Repeat small shapes so that one timing lasts long enough to mean something.
  const double flops = 2.0 * s.M * s.N * s.K * count;
  const int reps = std::max(1, int(2e8 / flops));
  const double sec = median_seconds([&] {
    for (int r = 0; r < reps; ++r) {
      if (s.batch > 0) {
#pragma omp parallel for schedule(dynamic, 1)
        for (int i = 0; i < count; ++i)
          g(s.ta, s.tb, s.M, s.N, s.K, Real(1), A.data() + i * a_size, lda,
            B.data() + i * b_size, ldb, s.beta, C.data() + i * c_size, s.N);
      } else {
        g(s.ta, s.tb, s.M, s.N, s.K, Real(1), A.data(), lda, B.data(), ldb, s.beta, C.data(),
          s.N);
      }
    }
  });
  return flops * reps / sec / 1e9;
}

}  // namespace

int main() {
  const int N = 32 * 128, D = 128, F = 512, V = 64, T = 128, dh = 32, BH = 32 * 4;
  const std::vector<Shape> shapes = {
      {"qkv fwd    Y=X·Wᵀ", false, true, N, 3 * D, D, 1, 0},
      {"out fwd", false, true, N, D, D, 1, 0},
      {"fc1 fwd", false, true, N, F, D, 1, 0},
      {"fc2 fwd", false, true, N, D, F, 1, 0},
      {"head fwd", false, true, N, V, D, 0, 0},
      {"qkv dX=dY·W", false, false, N, D, 3 * D, 1, 0},
      {"fc1 dX", false, false, N, D, F, 1, 0},
      {"fc2 dX", false, false, N, F, D, 1, 0},
      {"qkv dW=dYᵀ·X", true, false, 3 * D, D, N, 1, 0},
      {"fc1 dW", true, false, F, D, N, 1, 0},
      {"fc2 dW", true, false, D, F, N, 1, 0},
      {"head dW", true, false, V, D, N, 1, 0},
      {"att S=QKᵀ 64-row", false, true, 64, T, dh, 0, BH},
      {"att S=QKᵀ full", false, true, T, T, dh, 0, BH},
      {"att O=PV 64-row", false, false, 64, dh, T, 0, BH},
      {"att O=PV full", false, false, T, dh, T, 0, BH},
      {"att dV=Pᵀ·dO 64", true, false, 64, dh, T, 0, BH},
      {"att dV full", true, false, T, dh, T, 0, BH},
  };
  std::printf("GEMM library: %s; OpenMP threads: %d\n", k::gemm_library(),
              omp_get_max_threads());
  std::printf("%-20s %5s %5s %5s  %9s %9s  %6s\n", "shape", "M", "N", "K", "eigen", "blas",
              "ratio");
  for (const Shape& s : shapes) {
    const double e = rate(s, k::gemm_eigen);
    const double b = k::blas_available() ? rate(s, k::gemm_blas) : 0.0;
    std::printf("%-20s %5d %5d %5d  %9.1f %9.1f  %6.2f%s\n", s.name, s.M, s.N, s.K, e, b,
                b / e, s.batch ? "  (per b·h, 128 in a loop)" : "");
  }
}
