// Finite-difference checks of every kernel's backward (double precision). Each checks the
// gradient of the scalar L = Σ R ⊙ output for a random R.
#include <numeric>

#include "core/kernels/kernels.h"
#include "f64/gradcheck.h"

namespace poslab {
namespace {

using namespace kernels;
using testing::expect_gradient;
using testing::random_vector;

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}

TEST(KernelGradcheck, Linear) {
  const int N = 5, I = 4, O = 3;
  auto x = random_vector(N * I, 1), w = random_vector(O * I, 2), b = random_vector(O, 3),
       R = random_vector(N * O, 4);
  std::vector<double> y(N * O);
  auto f = [&] {
    linear_forward(y.data(), x.data(), w.data(), b.data(), N, I, O);
    return dot(y, R);
  };
  std::vector<double> dx(N * I, 0), dw(O * I, 0), db(O, 0);
  linear_backward(dx.data(), dw.data(), db.data(), R.data(), x.data(), w.data(), N, I, O);
  expect_gradient("dx", x.data(), x.size(), f, dx.data());
  expect_gradient("dw", w.data(), w.size(), f, dw.data());
  expect_gradient("db", b.data(), b.size(), f, db.data());
}

TEST(KernelGradcheck, LayerNorm) {
  const int N = 4, C = 6;
  auto x = random_vector(N * C, 5, 2.0), g = random_vector(C, 6), be = random_vector(C, 7),
       R = random_vector(N * C, 8);
  std::vector<double> y(N * C), mean(N), rstd(N);
  auto f = [&] {
    layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), g.data(), be.data(), N, C);
    return dot(y, R);
  };
  f();
  std::vector<double> dx(N * C, 0), dg(C, 0), db(C, 0);
  layernorm_backward(dx.data(), dg.data(), db.data(), R.data(), x.data(), mean.data(), rstd.data(),
                     g.data(), N, C);
  expect_gradient("dx", x.data(), x.size(), f, dx.data(), 1e-5);
  expect_gradient("dgamma", g.data(), g.size(), f, dg.data());
  expect_gradient("dbeta", be.data(), be.size(), f, db.data());
}

TEST(KernelGradcheck, Gelu) {
  auto x = random_vector(20, 9, 3.0), R = random_vector(20, 10);
  std::vector<double> y(20);
  auto f = [&] {
    gelu_forward(y.data(), x.data(), x.size());
    return dot(y, R);
  };
  std::vector<double> dx(20, 0);
  gelu_backward(dx.data(), R.data(), x.data(), x.size());
  expect_gradient("dx", x.data(), x.size(), f, dx.data());
}

TEST(KernelGradcheck, SoftmaxCausalAndBidirectional) {
  for (bool causal : {true, false}) {
    const int T = 5;
    auto s = random_vector(T * T, 11, 2.0), R = random_vector(T * T, 12);
    std::vector<double> p(T * T);
    auto f = [&] {
      p = s;
      softmax_rows_forward(p.data(), T, causal);
      return dot(p, R);
    };
    f();
    std::vector<double> ds(T * T);
    softmax_rows_backward(ds.data(), p.data(), R.data(), T, causal);
    expect_gradient(causal ? "causal ds" : "bidirectional ds", s.data(), s.size(), f, ds.data());
    if (causal) {
      EXPECT_EQ(p[0 * T + 1], 0.0);  // query 0 cannot see key 1
    }
  }
}

TEST(KernelGradcheck, CrossEntropyWithMask) {
  const int N = 6, V = 5;
  auto logits = random_vector(N * V, 13, 2.0);
  std::vector<std::int32_t> targets = {0, 4, 2, 1, 3, 2};
  std::vector<std::uint8_t> mask = {1, 0, 1, 1, 0, 1};
  auto f = [&] { return cross_entropy_forward(logits.data(), targets.data(), mask.data(), N, V, nullptr, nullptr); };
  std::vector<double> d(N * V);
  cross_entropy_backward(d.data(), logits.data(), targets.data(), mask.data(), N, V);
  expect_gradient("dlogits", logits.data(), logits.size(), f, d.data());
  for (int v = 0; v < V; ++v) EXPECT_EQ(d[1 * V + v], 0.0);  // masked position: no gradient
}

TEST(KernelGradcheck, Embedding) {
  const int N = 5, C = 3, V = 4;
  auto table = random_vector(V * C, 14), R = random_vector(N * C, 15);
  std::vector<std::int32_t> ids = {1, 3, 1, 0, 1};  // repeated id: contributions add up
  std::vector<double> out(N * C);
  auto f = [&] {
    embedding_forward(out.data(), ids.data(), table.data(), N, C);
    return dot(out, R);
  };
  std::vector<double> d(V * C, 0);
  embedding_backward(d.data(), R.data(), ids.data(), N, C);
  expect_gradient("dtable", table.data(), table.size(), f, d.data());
}

}  // namespace
}  // namespace poslab
