// tests/testing/counting_hook.h: a hook that counts calls and forwards to the
// allocator it wraps. Its ctx points at the hook object, whose `previous`
// field is the storage Wrap fills.

#ifndef INTERPHEAP_TESTS_TESTING_COUNTING_HOOK_H_
#define INTERPHEAP_TESTS_TESTING_COUNTING_HOOK_H_

#include <atomic>
#include <cstddef>

#include "alloc/allocator.h"

namespace interpheap::testing {

struct CountingHook {
  ih_allocator_t previous = {};
  std::atomic<long> mallocs{0};
  std::atomic<long> callocs{0};
  std::atomic<long> reallocs{0};
  std::atomic<long> frees{0};

  long total() const {
    return mallocs.load() + callocs.load() + reallocs.load() + frees.load();
  }

  // The allocator to pass to Wrap/Unwrap.
  ih_allocator_t allocator() {
    return ih_allocator_t{this, &Malloc, &Calloc, &Realloc, &Free};
  }

 private:
  static CountingHook* Self(void* ctx) {
    return static_cast<CountingHook*>(ctx);
  }
  static void* Malloc(void* ctx, size_t size) {
    CountingHook* self = Self(ctx);
    self->mallocs.fetch_add(1, std::memory_order_relaxed);
    return self->previous.malloc(self->previous.ctx, size);
  }
  static void* Calloc(void* ctx, size_t nelem, size_t elsize) {
    CountingHook* self = Self(ctx);
    self->callocs.fetch_add(1, std::memory_order_relaxed);
    return self->previous.calloc(self->previous.ctx, nelem, elsize);
  }
  static void* Realloc(void* ctx, void* ptr, size_t size) {
    CountingHook* self = Self(ctx);
    self->reallocs.fetch_add(1, std::memory_order_relaxed);
    return self->previous.realloc(self->previous.ctx, ptr, size);
  }
  static void Free(void* ctx, void* ptr) {
    CountingHook* self = Self(ctx);
    self->frees.fetch_add(1, std::memory_order_relaxed);
    self->previous.free(self->previous.ctx, ptr);
  }
};

}  // namespace interpheap::testing

#endif  // INTERPHEAP_TESTS_TESTING_COUNTING_HOOK_H_
