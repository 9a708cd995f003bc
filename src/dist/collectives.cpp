#include "dist/collectives.h"

#include <algorithm>
#include <cstdint>

namespace poslab::dist {

namespace {

template <class T>
void sum_fixed_order(Communicator& comm, T* data, std::size_t n, std::vector<T>& scratch) {
  const int size = comm.size();
  if (size == 1) return;
  const bool root = comm.rank() == 0;
  if (root) scratch.resize(n * std::size_t(size));
  comm.gather_bytes(data, n * sizeof(T), root ? scratch.data() : nullptr, 0);
  if (root) {
    // Rank 0's own part is already in data; add the others in rank order.
    for (int r = 1; r < size; ++r) {
      const T* part = scratch.data() + std::size_t(r) * n;
      for (std::size_t i = 0; i < n; ++i) data[i] += part[i];
    }
  }
  comm.broadcast(data, n * sizeof(T), 0);
}

}  // namespace

void sum_in_rank_order(Communicator& comm, float* data, std::size_t n, std::vector<float>& scratch) {
  sum_fixed_order(comm, data, n, scratch);
}
void sum_in_rank_order(Communicator& comm, double* data, std::size_t n, std::vector<double>& scratch) {
  sum_fixed_order(comm, data, n, scratch);
}

bool same_on_all_ranks(Communicator& comm, const void* data, std::size_t bytes) {
  if (comm.size() == 1) return true;
  std::uint64_t hash = 1469598103934665603ull;
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < bytes; ++i) hash = (hash ^ p[i]) * 1099511628211ull;
  std::vector<std::uint64_t> all(std::size_t(comm.size()));
  comm.gather_bytes(&hash, sizeof hash, all.data(), 0);
  unsigned char same = 1;
  if (comm.rank() == 0)
    for (std::uint64_t h : all) same = same && h == hash;
  comm.broadcast(&same, 1, 0);
  return same != 0;
}

std::string broadcast_string(Communicator& comm, std::string bytes, int root) {
  if (comm.size() == 1) return bytes;
  unsigned long long length = bytes.size();
  comm.broadcast(&length, sizeof length, root);
  bytes.resize(length);
  if (length > 0) comm.broadcast(bytes.data(), length, root);
  return bytes;
}

Agreement agree(Communicator& comm, const std::string& local_failure) {
  if (comm.size() == 1) return {local_failure, !local_failure.empty()};
  // One byte says failed or not (an empty message must still count as a failure).
  const std::vector<std::string> all = comm.gather((local_failure.empty() ? "0" : "1") + local_failure, 0);
  std::string verdict;  // "<all_failed><message>" decided on rank 0
  if (comm.rank() == 0) {
    std::string first;
    bool any = false, every = true, alike = true;
    for (std::size_t r = 0; r < all.size(); ++r) {
      const bool failed = !all[r].empty() && all[r][0] == '1';
      every = every && failed;
      alike = alike && all[r] == all[0];
      if (failed && !any) first = "rank " + std::to_string(r) + ": " + all[r].substr(1);
      any = any || failed;
    }
    // The same error on every rank needs no rank named.
    if (any && every && alike) first = all[0].substr(1);
    verdict = (any && every ? "1" : "0") + (any ? first : std::string());
  }
  verdict = broadcast_string(comm, verdict, 0);
  return {verdict.substr(1), verdict[0] == '1'};
}

}  // namespace poslab::dist
