#pragma once
// Replaces the global operator new of this test executable so that every plain `new`
// (and so every std::vector<T> with the default allocator) returns an address whose
// offset from a 64-byte boundary is set by the test: 0, 16, 32 or 48 bytes (all valid
// 16-byte-aligned addresses). This is the heap "perturbation" of the determinism tests made
// exact: a kernel whose rounding depends on where its buffer starts gives different bits
// at different shifts. Aligned `new` (the RealBuffer allocator, core/aligned_buffer.h) and
// malloc (Eigen, HDF5) are not affected.
#include <cstddef>

namespace poslab::testing {

// Bytes (a multiple of 16, below 64) added to 64-byte-aligned addresses from now on.
void set_new_shift(std::size_t bytes);

}  // namespace poslab::testing
