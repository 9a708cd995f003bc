#pragma once
// AdamW (Loshchilov & Hutter 2019) over the model's flat parameter buffer: Adam moments
// with bias correction, and weight decay applied directly to the weights (decoupled), only
// to tensors flagged weight_decay (matrices; not norms, biases, embeddings or positions).
#include <vector>

#include "core/parameters.h"
#include "core/real.h"  // POSLAB_REAL_NAMESPACE

namespace poslab::inline POSLAB_REAL_NAMESPACE {

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.01;
};

class AdamW {
 public:
  AdamW(const ParameterSet& params, const AdamWConfig& config);
  // One update with learning rate lr, using params.grads().
  void step(ParameterSet& params, double lr);
  long steps_taken() const { return t_; }

  // Moments [parameter count] and step count, for checkpoints.
  RealBuffer& first_moment() { return m_; }
  const RealBuffer& first_moment() const { return m_; }
  RealBuffer& second_moment() { return v_; }
  const RealBuffer& second_moment() const { return v_; }
  void set_steps_taken(long t) { t_ = t; }

 private:
  AdamWConfig config_;
  RealBuffer m_, v_;
  RealBuffer decay_mask_;  // 1 where weight decay applies, per element
  long t_ = 0;
};

// Scales all gradients so their global L2 norm is at most max_norm (0 = off). Returns the
// norm before clipping.
double clip_grad_norm(ParameterSet& params, double max_norm);

// Linear warm-up from 0 to lr over warmup steps, then cosine decay to lr·min_ratio at
// total_steps (or constant).
double learning_rate(int step, int total_steps, int warmup, double lr, double min_ratio,
                     bool cosine);

}  // namespace poslab
