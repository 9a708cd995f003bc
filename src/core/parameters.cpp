#include "core/parameters.h"

#include <algorithm>
#include <stdexcept>

namespace poslab::inline POSLAB_REAL_NAMESPACE {

ParameterSet::Handle ParameterSet::declare(std::string name, std::vector<int> shape, Init init,
                                           double init_std, bool weight_decay) {
  if (allocated_) throw std::logic_error("ParameterSet: declare after allocate: " + name);
  ParamInfo info;
  info.name = std::move(name);
  info.shape = std::move(shape);
  info.size = 1;
  for (int s : info.shape) info.size *= static_cast<std::size_t>(s);
  info.offset = infos_.empty() ? 0 : infos_.back().offset + infos_.back().size;
  info.init = init;
  info.init_std = init_std;
  info.weight_decay = weight_decay;
  infos_.push_back(std::move(info));
  return static_cast<Handle>(infos_.size() - 1);
}

void ParameterSet::allocate() {
  const std::size_t total = infos_.empty() ? 0 : infos_.back().offset + infos_.back().size;
  values_.assign(total, Real(0));
  grads_.assign(total, Real(0));
  allocated_ = true;
}

void ParameterSet::initialize(Rng& rng) {
  for (const auto& info : infos_) {
    Real* v = values_.data() + info.offset;
    for (std::size_t i = 0; i < info.size; ++i) {
      switch (info.init) {
        case Init::Normal: v[i] = static_cast<Real>(info.init_std * rng.normal()); break;
        case Init::Zeros: v[i] = Real(0); break;
        case Init::Ones: v[i] = Real(1); break;
      }
    }
  }
}

int ParameterSet::find(const std::string& name) const {
  for (std::size_t i = 0; i < infos_.size(); ++i)
    if (infos_[i].name == name) return static_cast<int>(i);
  return -1;
}

void ParameterSet::zero_grads() { std::fill(grads_.begin(), grads_.end(), Real(0)); }

}  // namespace poslab
