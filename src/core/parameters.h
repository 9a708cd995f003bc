#pragma once
// One flat parameter buffer and one flat gradient buffer (as in llm.c): every tensor of the
// model, its encoder included, is a named slice. The optimizer and the gradient-norm clip
// work on the whole buffer at once; HDF5 checkpoints and parity fixtures address slices
// by name.
#include <cstddef>
#include <string>
#include <vector>

#include "core/real.h"
#include "core/rng.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {

enum class Init { Normal, Zeros, Ones };

struct ParamInfo {
  std::string name;         // e.g. "layers.0.attn.qkv.weight"
  std::vector<int> shape;   // row-major
  std::size_t offset = 0;   // into values()/grads()
  std::size_t size = 0;
  Init init = Init::Normal;
  double init_std = 0.02;
  bool weight_decay = true;  // AdamW decays matrices, not norms, biases or position tables
};

class ParameterSet {
 public:
  using Handle = int;
  // Declare before allocate(); handles stay valid for the set's lifetime.
  Handle declare(std::string name, std::vector<int> shape, Init init, double init_std,
                 bool weight_decay);
  void allocate();             // sizes the buffers (zeros)
  void initialize(Rng& rng);   // fills every tensor by its Init rule, in declaration order

  Real* value(Handle h) { return values_.data() + infos_[h].offset; }
  const Real* value(Handle h) const { return values_.data() + infos_[h].offset; }
  Real* grad(Handle h) { return grads_.data() + infos_[h].offset; }
  const ParamInfo& info(Handle h) const { return infos_[h]; }
  const std::vector<ParamInfo>& infos() const { return infos_; }
  int find(const std::string& name) const;  // -1 if absent

  RealBuffer& values() { return values_; }
  const RealBuffer& values() const { return values_; }
  RealBuffer& grads() { return grads_; }
  void zero_grads();
  std::size_t count() const { return values_.size(); }

 private:
  std::vector<ParamInfo> infos_;
  RealBuffer values_, grads_;
  bool allocated_ = false;
};

}  // namespace poslab
