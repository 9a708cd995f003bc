#include "train/adamw.h"

#include <cmath>

namespace poslab::inline POSLAB_REAL_NAMESPACE {

AdamW::AdamW(const ParameterSet& params, const AdamWConfig& config)
    : config_(config), m_(params.count(), 0), v_(params.count(), 0), decay_mask_(params.count(), 0) {
  for (const auto& info : params.infos())
    if (info.weight_decay)
      for (std::size_t i = 0; i < info.size; ++i) decay_mask_[info.offset + i] = 1;
}

void AdamW::step(ParameterSet& params, double lr) {
  ++t_;
  const double b1 = config_.beta1, b2 = config_.beta2;
  const double c1 = 1.0 / (1.0 - std::pow(b1, double(t_)));
  const double c2 = 1.0 / (1.0 - std::pow(b2, double(t_)));
  const double decay = lr * config_.weight_decay;
  Real* w = params.values().data();
  const Real* g = params.grads().data();
  const long n = static_cast<long>(params.count());
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; ++i) {
    m_[i] = Real(b1 * m_[i] + (1 - b1) * g[i]);
    v_[i] = Real(b2 * v_[i] + (1 - b2) * double(g[i]) * g[i]);
    const double update = (m_[i] * c1) / (std::sqrt(v_[i] * c2) + config_.eps);
    w[i] = Real(w[i] - lr * update - decay * decay_mask_[i] * w[i]);
  }
}

double clip_grad_norm(ParameterSet& params, double max_norm) {
  double sq = 0;
  for (Real g : params.grads()) sq += double(g) * g;  // serial: reproducible
  const double norm = std::sqrt(sq);
  if (max_norm > 0 && norm > max_norm) {
    const Real scale = Real(max_norm / (norm + 1e-6));
    for (Real& g : params.grads()) g *= scale;
  }
  return norm;
}

double learning_rate(int step, int total_steps, int warmup, double lr, double min_ratio,
                     bool cosine) {
  if (warmup > 0 && step < warmup) return lr * double(step + 1) / double(warmup);
  if (!cosine) return lr;
  const int decay_steps = std::max(1, total_steps - warmup);
  const double progress = std::min(1.0, double(step - warmup) / double(decay_steps));
  const double min_lr = lr * min_ratio;
  return min_lr + 0.5 * (lr - min_lr) * (1.0 + std::cos(M_PI * progress));
}

}  // namespace poslab
