#pragma once
// Collectives built on Communicator whose results do not depend on timing: sums are taken
// on rank 0 in rank order and broadcast, so a run with N ranks is bit-identical to itself
// and its numbers depend on N only through that fixed order of additions.
#include <cstddef>
#include <string>
#include <vector>

#include "dist/communicator.h"

namespace poslab::dist {

// data[i] ← Σ_r data_r[i], summed on rank 0 as ((data_0 + data_1) + data_2) + ...,
// then broadcast: every rank ends with the same bits. `scratch` is reused between calls.
void sum_in_rank_order(Communicator& comm, float* data, std::size_t n, std::vector<float>& scratch);
void sum_in_rank_order(Communicator& comm, double* data, std::size_t n, std::vector<double>& scratch);

// Whether every rank succeeded at a stage that may fail on some ranks only (e.g. a file
// one node cannot read). Each rank passes "" on success or its error message; all ranks
// get the same answer: "" if all succeeded, else "rank R: message" of the lowest failing
// rank (just the message without MPI, or when every rank failed with the same message).
struct Agreement {
  std::string failure;     // "" when every rank succeeded
  bool all_failed = false;  // every rank failed (e.g. a configuration error seen by all)
};
Agreement agree(Communicator& comm, const std::string& local_failure);

// Whether these bytes are the same on every rank (compared by a 64-bit FNV-1a hash of
// each rank's bytes on rank 0); every rank gets the answer.
bool same_on_all_ranks(Communicator& comm, const void* data, std::size_t bytes);

// Bytes of root broadcast to every rank (any length).
std::string broadcast_string(Communicator& comm, std::string bytes, int root);

}  // namespace poslab::dist
