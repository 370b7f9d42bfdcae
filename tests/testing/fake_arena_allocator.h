// tests/testing/fake_arena_allocator.h: an arena allocator that counts
// allocations and frees and can be told to fail, over mmap/munmap.

#ifndef INTERPHEAP_TESTS_TESTING_FAKE_ARENA_ALLOCATOR_H_
#define INTERPHEAP_TESTS_TESTING_FAKE_ARENA_ALLOCATOR_H_

#include <atomic>
#include <cstddef>

#include "alloc/pymalloc/arena_allocator.h"

namespace interpheap::testing {

struct FakeArenaAllocator {
  std::atomic<int> allocs{0};
  std::atomic<int> frees{0};
  std::atomic<bool> fail{false};

  int live() const { return allocs.load() - frees.load(); }

  ih_arena_allocator_t allocator() {
    return ih_arena_allocator_t{this, &Alloc, &Free};
  }

 private:
  static void* Alloc(void* ctx, std::size_t size) {
    auto* self = static_cast<FakeArenaAllocator*>(ctx);
    if (self->fail.load()) return nullptr;
    void* p = alloc::MmapArenaAlloc(nullptr, size);
    if (p != nullptr) self->allocs.fetch_add(1);
    return p;
  }
  static void Free(void* ctx, void* p, std::size_t size) {
    auto* self = static_cast<FakeArenaAllocator*>(ctx);
    self->frees.fetch_add(1);
    alloc::MmapArenaFree(nullptr, p, size);
  }
};

}  // namespace interpheap::testing

#endif  // INTERPHEAP_TESTS_TESTING_FAKE_ARENA_ALLOCATOR_H_
