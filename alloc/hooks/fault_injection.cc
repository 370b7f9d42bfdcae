#include "alloc/hooks/fault_injection.h"

#include <atomic>

namespace interpheap::alloc {
namespace {

std::atomic<std::int64_t> calls{0};
std::atomic<std::int64_t> window_start{0};
std::atomic<std::int64_t> window_stop{0};
ih_allocator_t previous[kDomainCount];

// Counts one allocation call; true if it must fail.
bool Fails() {
  const std::int64_t count = calls.fetch_add(1, std::memory_order_relaxed) + 1;
  const std::int64_t stop = window_stop.load(std::memory_order_relaxed);
  return count > window_start.load(std::memory_order_relaxed) &&
         (stop == 0 || count <= stop);
}

ih_allocator_t& Prev(void* ctx) { return *static_cast<ih_allocator_t*>(ctx); }

void* FailingMalloc(void* ctx, std::size_t n) {
  if (Fails()) return nullptr;
  return Prev(ctx).malloc(Prev(ctx).ctx, n);
}
void* FailingCalloc(void* ctx, std::size_t nelem, std::size_t elsize) {
  if (Fails()) return nullptr;
  return Prev(ctx).calloc(Prev(ctx).ctx, nelem, elsize);
}
void* FailingRealloc(void* ctx, void* p, std::size_t n) {
  if (Fails()) return nullptr;
  return Prev(ctx).realloc(Prev(ctx).ctx, p, n);
}
void NeverFailingFree(void* ctx, void* p) { Prev(ctx).free(Prev(ctx).ctx, p); }

}  // namespace

ih_allocator_t NoMemoryHook(Domain domain) {
  return {&previous[static_cast<int>(domain)], FailingMalloc, FailingCalloc,
          FailingRealloc, NeverFailingFree};
}

ih_allocator_t* NoMemoryHookPrevious(Domain domain) {
  return &previous[static_cast<int>(domain)];
}

void SetNoMemoryWindow(std::int64_t start, std::int64_t stop) {
  window_start.store(start, std::memory_order_relaxed);
  window_stop.store(stop, std::memory_order_relaxed);
  calls.store(0, std::memory_order_relaxed);
}

std::int64_t NoMemoryCallCount() {
  return calls.load(std::memory_order_relaxed);
}

}  // namespace interpheap::alloc
