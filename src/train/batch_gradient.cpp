#include "train/batch_gradient.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>

#include "dist/collectives.h"

namespace poslab::inline POSLAB_REAL_NAMESPACE {

namespace {

long count_scored(const std::uint8_t* mask, std::size_t n) {
  long count = 0;
  for (std::size_t i = 0; i < n; ++i) count += mask[i] ? 1 : 0;
  return count;
}

// The batch's mean loss from its blocks' [mean loss, scored tokens] pairs, in block order.
// One function for one process and for many ranks: the same additions (and the same
// fused multiply-adds the compiler may form) whoever computed the blocks.
double batch_loss(const std::vector<double>& blocks, long scored) {
  double sum = 0;
  for (std::size_t k = 0; k + 1 < blocks.size(); k += 2) sum += blocks[k] * blocks[k + 1];
  return scored > 0 ? sum / double(scored) : 0.0;
}

}  // namespace

BatchGradientComputer::BatchGradientComputer(dist::Communicator& comm, int micro_batches)
    : comm_(comm), micro_batches_(micro_batches) {
  if (micro_batches < 1) throw std::invalid_argument("micro_batches must be >= 1");
}

BatchGradient BatchGradientComputer::compute(Transformer& model, const Batch& batch, int local_stop) {
  ParameterSet& params = model.params();
  const int B = batch.batch_size, T = batch.seq_len;
  const int blocks = comm_.size() * micro_batches_;
  if (B % blocks != 0)
    throw std::invalid_argument("batch of " + std::to_string(B) + " sequences cannot be split into " +
                                std::to_string(blocks) + " equal blocks (ranks x micro_batches)");
  BatchGradient out;
  const int* positions = batch.positions.empty() ? nullptr : batch.positions.data();  // shared by every block
  if (blocks == 1) {  // the plain step: one forward, one backward, no extra copies
    model.forward(batch.inputs.data(), B, T, positions);
    out.loss = model.loss(batch.targets.data(), batch.loss_mask.data());
    params.zero_grads();
    model.backward(batch.targets.data(), batch.loss_mask.data());
    out.stop_signal = local_stop;
    return out;
  }

  const long scored = count_scored(batch.loss_mask.data(), batch.loss_mask.size());
  const int rows = B / blocks;
  const std::size_t block_size = std::size_t(rows) * T;
  RealBuffer& grads = params.grads();
  // [stop flag, then per block of this rank: mean loss, scored tokens]
  std::vector<double> mine = {local_stop != 0 ? 1.0 : 0.0};
  for (int k = 0; k < micro_batches_; ++k) {
    const std::size_t offset = std::size_t(comm_.rank() * micro_batches_ + k) * block_size;
    const std::int32_t* inputs = batch.inputs.data() + offset;
    const std::int32_t* targets = batch.targets.data() + offset;
    const std::uint8_t* mask = batch.loss_mask.data() + offset;
    model.forward(inputs, rows, T, positions);
    const double block_loss = model.loss(targets, mask);
    mine.push_back(block_loss);
    mine.push_back(double(count_scored(mask, block_size)));
    params.zero_grads();
    model.backward(targets, mask, scored);  // divided by the whole batch's scored tokens
    if (k == 0) {
      sum_.assign(grads.begin(), grads.end());
    } else {
      for (std::size_t i = 0; i < grads.size(); ++i) sum_[i] += grads[i];
    }
  }
  std::copy(sum_.begin(), sum_.end(), grads.begin());

  if (comm_.size() == 1) {
    out.loss = batch_loss(std::vector<double>(mine.begin() + 1, mine.end()), scored);
    out.stop_signal = local_stop;
    return out;
  }
  const auto start = std::chrono::steady_clock::now();
  dist::sum_in_rank_order(comm_, grads.data(), grads.size(), reduce_scratch_);
  // Every rank's block losses, in rank (= block) order, to every rank.
  std::vector<double>& all = loss_scratch_;
  all.resize(mine.size() * std::size_t(comm_.size()));
  comm_.gather_bytes(mine.data(), mine.size() * sizeof(double), all.data(), 0);
  comm_.broadcast(all.data(), all.size() * sizeof(double), 0);
  out.comm_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> block_losses;
  bool any_stop = false;
  for (int r = 0; r < comm_.size(); ++r) {
    const auto first = all.begin() + std::ptrdiff_t(std::size_t(r) * mine.size());
    any_stop = any_stop || *first != 0;
    block_losses.insert(block_losses.end(), first + 1, first + std::ptrdiff_t(mine.size()));
  }
  out.loss = batch_loss(block_losses, scored);
  out.stop_signal = local_stop != 0 ? local_stop : (any_stop ? SIGTERM : 0);
  return out;
}

}  // namespace poslab
