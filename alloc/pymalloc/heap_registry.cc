#include "alloc/pymalloc/heap_registry.h"

#include <atomic>

#include "absl/base/const_init.h"
#include "alloc/pymalloc/pymalloc.h"
#include "sync/mutex.h"
#include "sync/mutex_lock.h"

namespace interpheap::alloc {
namespace {

ABSL_CONST_INIT sync::Mutex registry_mu(absl::kConstInit);
ABSL_CONST_INIT std::atomic<std::int64_t> leaked_blocks{0};
// Raw fallback counts of retired heaps (signed: see Heap::AllocatedBlocks()).
ABSL_CONST_INIT std::atomic<std::int64_t> retired_raw_blocks{0};

// Live heaps are few (one per interpreter with its own heap); a fixed array,
// searched linearly under registry_mu, needs no allocation.
constexpr int kMaxRegisteredHeaps = 4096;
Heap* registered_heaps[kMaxRegisteredHeaps] ABSL_GUARDED_BY(registry_mu);
int registered_count ABSL_GUARDED_BY(registry_mu) = 0;

}  // namespace

void RegisterHeap(Heap* heap) {
  sync::MutexLock lock(&registry_mu);
  if (registered_count < kMaxRegisteredHeaps) {
    registered_heaps[registered_count++] = heap;
  }
}

void UnregisterHeap(Heap* heap) {
  sync::MutexLock lock(&registry_mu);
  for (int i = 0; i < registered_count; ++i) {
    if (registered_heaps[i] == heap) {
      registered_heaps[i] = registered_heaps[--registered_count];
      return;
    }
  }
}

std::int64_t GlobalAllocatedBlocks() {
  std::int64_t total =
      LeakedBlocks() + retired_raw_blocks.load(std::memory_order_relaxed);
  sync::MutexLock lock(&registry_mu);
  for (int i = 0; i < registered_count; ++i) {
    total += registered_heaps[i]->AllocatedBlocksRelaxed();
  }
  return total;
}

std::int64_t LeakedBlocks() {
  return leaked_blocks.load(std::memory_order_relaxed);
}

void AddLeakedBlocks(std::int64_t n) {
  leaked_blocks.fetch_add(n, std::memory_order_relaxed);
}

void AddRetiredRawBlocks(std::int64_t n) {
  retired_raw_blocks.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace interpheap::alloc
