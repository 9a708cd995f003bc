#include "shifted_new.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace {

std::atomic<std::size_t> g_shift{0};

// [raw ... | raw pointer (8 bytes) | user block ...]; the user block starts at a 64-byte
// boundary plus g_shift, at least 16 bytes after raw so the raw pointer fits before it.
void* shifted_alloc(std::size_t n) {
  const std::size_t shift = g_shift.load(std::memory_order_relaxed);
  char* raw = static_cast<char*>(std::malloc(n + 64 + 16 + shift));
  if (!raw) throw std::bad_alloc();
  const auto base = (reinterpret_cast<std::uintptr_t>(raw) + 16 + 63) & ~std::uintptr_t(63);
  char* user = reinterpret_cast<char*>(base + shift);
  reinterpret_cast<void**>(user)[-1] = raw;
  return user;
}

void shifted_free(void* p) noexcept {
  if (p) std::free(static_cast<void**>(p)[-1]);
}

}  // namespace

namespace poslab::testing {
void set_new_shift(std::size_t bytes) { g_shift.store(bytes % 64 / 16 * 16); }
}  // namespace poslab::testing

void* operator new(std::size_t n) { return shifted_alloc(n); }
void* operator new[](std::size_t n) { return shifted_alloc(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return shifted_alloc(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { shifted_free(p); }
void operator delete[](void* p) noexcept { shifted_free(p); }
void operator delete(void* p, std::size_t) noexcept { shifted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { shifted_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { shifted_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { shifted_free(p); }
