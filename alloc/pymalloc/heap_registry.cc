#include "alloc/pymalloc/heap_registry.h"

#include <atomic>
#include <vector>

#include "absl/base/const_init.h"
#include "alloc/fork.h"
#include "alloc/pymalloc/arena_map.h"
#include "alloc/pymalloc/pymalloc.h"
#include "sync/mutex.h"
#include "sync/mutex_lock.h"

namespace interpheap::alloc {
namespace {

ABSL_CONST_INIT sync::Mutex registry_mu(absl::kConstInit);
const bool fork_registered =
    RegisterForkLock(&registry_mu, ForkRank::kHeapRegistry);
// Raw fallback counts of retired heaps (signed: see Heap::AllocatedBlocks()).
ABSL_CONST_INIT std::atomic<std::int64_t> retired_raw_blocks{0};
// Remote frees received by heaps already freed.
ABSL_CONST_INIT std::atomic<std::int64_t> freed_heaps_remote_frees{0};

// Every heap not yet freed (live and orphaned), linked through the heaps
// themselves: no allocation and no limit, and a real reference to each
// orphan (so LeakSanitizer does not report them).
Heap* registered_head ABSL_GUARDED_BY(registry_mu) = nullptr;

}  // namespace

void RegisterHeap(Heap* heap) {
  sync::MutexLock lock(&registry_mu);
  heap->registry_prev_ = nullptr;
  heap->registry_next_ = registered_head;
  if (registered_head != nullptr) registered_head->registry_prev_ = heap;
  registered_head = heap;
}

void UnregisterHeap(Heap* heap) {
  sync::MutexLock lock(&registry_mu);
  if (heap->registry_prev_ != nullptr) {
    heap->registry_prev_->registry_next_ = heap->registry_next_;
  } else if (registered_head == heap) {
    registered_head = heap->registry_next_;
  } else {
    return;  // not registered
  }
  if (heap->registry_next_ != nullptr) {
    heap->registry_next_->registry_prev_ = heap->registry_prev_;
  }
  heap->registry_prev_ = heap->registry_next_ = nullptr;
  // Under the registry lock: GlobalRemoteFrees() sees the heap's count in
  // the list or in the total, never both nor neither.
  freed_heaps_remote_frees.fetch_add(heap->remote_frees(),
                                     std::memory_order_relaxed);
}

// Both sum the heaps' pools under the ownership map's lock, which comes
// before the registry's (Heap::AllocatedBlocksRelaxed()).
std::int64_t GlobalAllocatedBlocks() {
  sync::MutexLock map_lock(&ArenaMap::Global().lock());
  std::int64_t total = retired_raw_blocks.load(std::memory_order_relaxed);
  sync::MutexLock lock(&registry_mu);
  for (Heap* heap = registered_head; heap != nullptr;
       heap = heap->registry_next_) {
    total += heap->AllocatedBlocksMapLocked();
  }
  return total;
}

std::int64_t LeakedBlocks() {
  std::int64_t total = 0;
  sync::MutexLock map_lock(&ArenaMap::Global().lock());
  sync::MutexLock lock(&registry_mu);
  for (Heap* heap = registered_head; heap != nullptr;
       heap = heap->registry_next_) {
    if (heap->orphaned()) total += heap->AllocatedBlocksMapLocked();
  }
  return total;
}

std::int64_t GlobalRemoteFrees() {
  sync::MutexLock lock(&registry_mu);
  std::int64_t total = freed_heaps_remote_frees.load(std::memory_order_relaxed);
  for (Heap* heap = registered_head; heap != nullptr;
       heap = heap->registry_next_) {
    total += heap->remote_frees();
  }
  return total;
}

void ForEachOrphan(absl::FunctionRef<void(Heap&)> visit) {
  // Lock order: the orphan lock, then the registry's. The orphans are
  // gathered first and visited without the registry lock, so that `visit`
  // may take the locks ranked between the two (the arena map's, for
  // Heap::Stats()).
  sync::MutexLock hold(&Heap::OrphanLock());
  std::vector<Heap*> orphans;
  {
    sync::MutexLock lock(&registry_mu);
    for (Heap* heap = registered_head; heap != nullptr;
         heap = heap->registry_next_) {
      if (heap->orphaned()) orphans.push_back(heap);
    }
  }
  for (Heap* heap : orphans) visit(*heap);
}

void AddRetiredRawBlocks(std::int64_t n) {
  retired_raw_blocks.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace interpheap::alloc
