#pragma once
// Training progress: a single updating line on a terminal, plain log lines otherwise
// (so logs and CI output stay readable).
#include <cstdio>
#include <string>

#include "train/run.h"

namespace poslab::cli {

class ProgressPrinter {
 public:
  ProgressPrinter(std::string label, bool terminal) : label_(std::move(label)), terminal_(terminal) {}

  void update(const Progress& p) {
    const int eta = static_cast<int>(p.eta_seconds + 0.5);
    std::fprintf(stderr, "%s[%s] step %d/%d  loss %.4f  lr %.2e  %.0f tok/s  ETA %d:%02d%s",
                 terminal_ ? "\r\033[K" : "", label_.c_str(), p.step, p.total_steps, p.loss, p.lr,
                 p.tokens_per_second, eta / 60, eta % 60, terminal_ ? "" : "\n");
    std::fflush(stderr);
    printed_ = true;
  }
  void finish() {
    if (terminal_ && printed_) std::fprintf(stderr, "\n");
  }

 private:
  std::string label_;
  bool terminal_;
  bool printed_ = false;
};

}  // namespace poslab::cli
