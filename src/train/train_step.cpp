#include "train/train_step.h"

#include <cmath>

namespace poslab::inline POSLAB_REAL_NAMESPACE {

StepResult train_step(Transformer& model, BatchGradientComputer& gradient, AdamW& optimizer,
                      const TrainSpec& ts, int step, const Batch& batch, int local_stop) {
  ParameterSet& params = model.params();
  StepResult out;
  out.gradient = gradient.compute(model, batch, local_stop);
  out.grad_norm = clip_grad_norm(params, ts.grad_clip);
  out.lr = learning_rate(step, ts.steps, ts.warmup_steps, ts.lr, ts.min_lr_ratio,
                         ts.schedule == "cosine");
  out.updated = std::isfinite(out.gradient.loss) && std::isfinite(out.grad_norm);
  if (out.updated) optimizer.step(params, out.lr);
  return out;
}

}  // namespace poslab
