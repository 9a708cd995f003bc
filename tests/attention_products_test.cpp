// model/attention_products.h: the blocked causal products equal the full [T, T] products
// on every entry a query can see, at lengths that are and are not multiples of the row
// block (several blocks and a partial one), and bidirectionally.
#include <gtest/gtest.h>

#include <cmath>

#include "core/rng.h"
#include "model/attention_products.h"

namespace poslab {
namespace {

MatR random_matrix(int rows, int cols, std::uint64_t seed) {
  Rng rng(seed);
  MatR m(rows, cols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) m(i, j) = Real(2 * rng.uniform() - 1);
  return m;
}

// A row-stochastic P with exact zeros where j > i (causal), as the softmax leaves it.
MatR masked(MatR p, bool causal) {
  if (causal)
    for (int i = 0; i < p.rows(); ++i)
      for (int j = i + 1; j < p.cols(); ++j) p(i, j) = 0;
  return p;
}

void expect_close(const MatR& got, const MatR& want, const char* what) {
  ASSERT_EQ(got.rows(), want.rows());
  ASSERT_EQ(got.cols(), want.cols());
  for (int i = 0; i < got.rows(); ++i)
    for (int j = 0; j < got.cols(); ++j)
      ASSERT_NEAR(got(i, j), want(i, j), 2e-5 * (1 + std::abs(want(i, j))))
          << what << " (" << i << ", " << j << ")";
}

class AttentionProducts : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(AttentionProducts, MatchFullProductsOnVisibleEntries) {
  const auto [T, causal] = GetParam();
  const int dh = 16;
  const Real scale = Real(0.25);
  const MatR q = random_matrix(T, dh, 1), k = random_matrix(T, dh, 2), v = random_matrix(T, dh, 3),
             dout = random_matrix(T, dh, 4);
  const MatR p = masked(random_matrix(T, T, 5).cwiseAbs(), causal);
  const MatR ds = masked(random_matrix(T, T, 6), causal);

  // Scores and dP: compare where j <= i (causal) or everywhere; other entries are the
  // softmax's to overwrite.
  MatR s = MatR::Zero(T, T), dp = MatR::Zero(T, T);
  MatR o(T, dh), dv(T, dh), dq(T, dh), dk(T, dh);
  attention_scores(s.data(), q.data(), k.data(), T, dh, causal, scale);
  attention_values(o.data(), p.data(), v.data(), T, dh, causal);
  attention_values_backward(dp.data(), dv.data(), p.data(), dout.data(), v.data(), T, dh,
                            causal);
  attention_scores_backward(dq.data(), dk.data(), ds.data(), q.data(), k.data(), T, dh, causal,
                            scale);
  expect_close(masked(s, causal), masked((q * k.transpose()) * scale, causal), "scores");
  expect_close(masked(dp, causal), masked(dout * v.transpose(), causal), "dP");
  expect_close(o, p * v, "O");
  expect_close(dv, p.transpose() * dout, "dV");
  expect_close(dq, (ds * k) * scale, "dQ");
  expect_close(dk, (ds.transpose() * q) * scale, "dK");
}

INSTANTIATE_TEST_SUITE_P(Lengths, AttentionProducts,
                         ::testing::Combine(::testing::Values(1, 5, 64, 65, 150, 256),
                                            ::testing::Bool()));

}  // namespace
}  // namespace poslab
