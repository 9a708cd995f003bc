#pragma once
// Upper bounds shared by the experiment schema (io/config.cpp) and the plugins.
// Every size a configuration can set has an upper bound, so that a typo (an extra zero,
// 2^31-1) is refused with a message that states the bound instead of overflowing an int
// or failing an allocation after training. The memory estimate (model/memory_estimate.h)
// then refuses shapes that are in bounds but do not fit in this machine's memory.
#include <cstddef>

namespace poslab {

// Task lengths (task.length, task.min_length, eval.lengths): the longest model sequence
// any task makes from it (counting: 4n + 106) still fits an int, and so does B·T.
inline constexpr int kMaxTaskLength = 1'000'000;
// OpenMP threads (train.threads, --threads); far above any machine's core count, far
// below what makes libgomp fail to create its thread pool.
inline constexpr int kMaxThreads = 1024;

// Run names (and --suffix) become file names "<dir>/<run>.h5" and temporary names
// "<run>.h5.tmp.<pid>.<random>", which must stay under the usual 255-byte limit.
inline constexpr std::size_t kMaxRunNameBytes = 120;

}  // namespace poslab
