#pragma once
// Forward/backward pairs over flat row-major buffers, in the style of llm.c: plain
// functions, explicit shapes, no hidden state. Backward functions ACCUMULATE (+=) into
// every gradient they write, so a tensor used twice (tied embeddings, residuals) simply
// receives both contributions. Matrix products go through gemm() (core/kernels/gemm.h):
// OpenBLAS in the float build when configured with it, Eigen otherwise.
#include <cstdint>

#include "core/real.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE::kernels {

// out[N, C] = table[ids[n], :]                                  table [V, C]
void embedding_forward(Real* out, const std::int32_t* ids, const Real* table, int N, int C);
// dtable[ids[n], :] += dout[n, :]   (serial over n: rows may repeat)
void embedding_backward(Real* dtable, const Real* dout, const std::int32_t* ids, int N, int C);

// y[N, O] = x[N, I] · wᵀ + b (+ residual)   w [O, I] (PyTorch layout), b [O] or null,
// residual [N, O] or null (may not alias y)
void linear_forward(Real* y, const Real* x, const Real* w, const Real* b, int N, int I, int O,
                    const Real* residual = nullptr);
// dx += dy · w;  dw += dyᵀ · x;  db += Σ_n dy   (dx may be null). With accumulate_dx =
// false, dx = dy · w instead (dx need not be zeroed: saves a pass over it).
void linear_backward(Real* dx, Real* dw, Real* db, const Real* dy, const Real* x, const Real* w,
                     int N, int I, int O, bool accumulate_dx = true);

// y[N, C] = (x - mean) * rstd * gamma + beta, eps 1e-5; saves mean[N] and rstd[N].
void layernorm_forward(Real* y, Real* mean, Real* rstd, const Real* x, const Real* gamma,
                       const Real* beta, int N, int C);
void layernorm_backward(Real* dx, Real* dgamma, Real* dbeta, const Real* dy, const Real* x,
                        const Real* mean, const Real* rstd, const Real* gamma, int N, int C);

// GELU, tanh approximation: 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))).
void gelu_forward(Real* y, const Real* x, std::size_t n);
// dx += dy ⊙ gelu'(x); with accumulate = false, dx = dy ⊙ gelu'(x) (dx need not be zeroed).
void gelu_backward(Real* dx, const Real* dy, const Real* x, std::size_t n,
                   bool accumulate = true);

// Row softmax of a [T, T] score block in place; causal rows use only j <= i (the rest are
// set to 0). Backward: ds = p ⊙ (dp − Σ_j p dp), written (not accumulated) into ds.
void softmax_rows_forward(Real* scores, int T, bool causal);
void softmax_rows_backward(Real* ds, const Real* p, const Real* dp, int T, bool causal);

// Mean cross-entropy over positions with mask = 1. logits [N, V]. Returns the loss; fills
// per-position losses (0 where masked out) and argmax-correctness if the pointers are set.
double cross_entropy_forward(const Real* logits, const std::int32_t* targets,
                             const std::uint8_t* mask, int N, int V, Real* position_loss,
                             std::uint8_t* correct);
// dlogits = (softmax(logits) − onehot(target)) · mask / count   (overwrites)
// count = count(mask), or `scored_tokens` when > 0: the scored tokens of the whole batch
// when these N positions are one micro batch of it (gradient accumulation).
void cross_entropy_backward(Real* dlogits, const Real* logits, const std::int32_t* targets,
                            const std::uint8_t* mask, int N, int V, long scored_tokens = 0);

}  // namespace poslab::kernels
