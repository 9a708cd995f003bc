#pragma once
// Numeric buffers whose first element is always 64-byte aligned.
//
// Why: Eigen's vectorised loops over a Map peel scalar elements until the first aligned
// address (element-wise assignments) and start reductions there (sum()), so with
// std::vector's 16-byte malloc alignment the rounding of a result depended on where the
// heap happened to place the buffer — i.e. on what ran earlier in the process (a run alone
// and the same run after others differed by ~1e-8; issue 18). With every buffer on a
// 64-byte boundary (a whole AVX-512 packet, two AVX2 packets) the peel of a view at a given
// offset is the same in every run, so results depend only on shapes, binary and threads.
#include <cstddef>
#include <new>
#include <vector>

namespace poslab {

inline constexpr std::size_t kBufferAlignment = 64;

template <class T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() noexcept = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kBufferAlignment)));
  }
  void deallocate(T* p, std::size_t) noexcept {
    ::operator delete(p, std::align_val_t(kBufferAlignment));
  }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const noexcept { return true; }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace poslab
