// alloc/domain.h: the data plane: malloc, calloc, realloc and free per domain.
//
// Each call reads the domain's outermost allocator (one acquire load, see
// alloc/allocator_table.h) and calls it, after CPython's size checks:
//   - a size above PTRDIFF_MAX, or a calloc whose product overflows, returns
//     nullptr before any allocator is called;
//   - everything else (zero sizes, realloc(nullptr, n), free(nullptr)) is the
//     allocator's contract (alloc/allocator.h), which ours all keep.
// These functions never allocate a status, never throw and take no lock.
// Mem and obj callers must hold their interpreter's lock (interp/).
//
// The typed helpers New/Resize/Delete play the role of PyMem_New,
// PyMem_Resize and PyMem_Del, with the element-count overflow check.

#ifndef INTERPHEAP_ALLOC_DOMAIN_H_
#define INTERPHEAP_ALLOC_DOMAIN_H_

#include <cstddef>
#include <cstdint>

#include "alloc/allocator_table.h"

namespace interpheap::alloc {

// The largest request any domain accepts (CPython's PY_SSIZE_T_MAX).
inline constexpr std::size_t kMaxRequest = PTRDIFF_MAX;

inline void* Malloc(Domain domain, std::size_t size) noexcept {
  if (size > kMaxRequest) return nullptr;
  const auto f = AllocatorTable::Global().LoadMalloc(domain);
  return f.fn(f.ctx, size);
}

inline void* Calloc(Domain domain, std::size_t nelem,
                    std::size_t elsize) noexcept {
  if (elsize != 0 && nelem > kMaxRequest / elsize) return nullptr;
  const auto f = AllocatorTable::Global().LoadCalloc(domain);
  return f.fn(f.ctx, nelem, elsize);
}

// On failure returns nullptr and `ptr` stays valid and unchanged.
inline void* Realloc(Domain domain, void* ptr, std::size_t new_size) noexcept {
  if (new_size > kMaxRequest) return nullptr;
  const auto f = AllocatorTable::Global().LoadRealloc(domain);
  return f.fn(f.ctx, ptr, new_size);
}

inline void Free(Domain domain, void* ptr) noexcept {
  const auto f = AllocatorTable::Global().LoadFree(domain);
  f.fn(f.ctx, ptr);
}

// An array of `count` T from `domain`; nullptr if count * sizeof(T) would
// exceed kMaxRequest (no allocator is called then). T must be trivially
// constructible: no constructor runs.
template <typename T>
T* New(Domain domain, std::size_t count) noexcept {
  if (count > kMaxRequest / sizeof(T)) return nullptr;
  return static_cast<T*>(Malloc(domain, count * sizeof(T)));
}

// Resizes an array from New(); nullptr on overflow or failure, and then
// `ptr` stays valid (unlike PyMem_Resize, which overwrites its argument).
template <typename T>
T* Resize(Domain domain, T* ptr, std::size_t count) noexcept {
  if (count > kMaxRequest / sizeof(T)) return nullptr;
  return static_cast<T*>(Realloc(domain, ptr, count * sizeof(T)));
}

template <typename T>
void Delete(Domain domain, T* ptr) noexcept {
  Free(domain, ptr);
}

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_DOMAIN_H_
