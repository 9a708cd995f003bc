#pragma once
// The FLOPs of one training step of the Transformer (model/transformer.h): the one
// formula behind `poslab bench`'s GFLOP/s, and, through `poslab bench --step-flops`, behind
// scripts/bench.sh and bench/pytorch_reference.py (bench/README.md explains it).
//
//   forward = 2·N·(L·(3D² + D² + 2·D·F) + D·V)   linear layers (qkv, out, fc1, fc2), the head
//           + L·B·H·4·T²·d_h                      q·kᵀ and α·v over full T×T blocks (H·d_h = D)
//   step    = 3 · forward                         forward + backward
// with N = B·T tokens, L layers, D = d_model, F = d_ff, V = vocabulary. Element-wise work
// (norms, GELU, softmax, encoders, the optimizer) is not counted, and the causal half of
// each attention block is counted as computed, although training skips most of it
// (model/attention_products.h): the formula stays the one PyTorch's twin is measured by.
#include "model/transformer.h"
#include "core/real.h"  // POSLAB_REAL_NAMESPACE

namespace poslab::inline POSLAB_REAL_NAMESPACE {

// `batch` sequences of `seq_len` tokens; in double, so large shapes neither overflow nor
// round before the final product.
double training_step_flops(const TransformerConfig& model, long batch, long seq_len);

}  // namespace poslab
