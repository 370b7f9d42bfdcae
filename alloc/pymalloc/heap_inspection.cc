// Reading a heap without changing its structure: block counts, the stats
// numbers and the invariant checker.

#include <atomic>
#include <cstdint>

#include "absl/base/const_init.h"
#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "alloc/external/memcheck.h"
#include "alloc/pymalloc/arena_map.h"
#include "alloc/pymalloc/pymalloc.h"
#include "sync/mutex_lock.h"

namespace interpheap::alloc {
namespace {
ABSL_CONST_INIT std::atomic<Heap::CountSeam> count_seam{nullptr};
}  // namespace

void Heap::SetCountSeamForTesting(CountSeam seam) {
  count_seam.store(seam, std::memory_order_release);
}

// A block on the remote-free list, or about to be (remote_pending_ is
// raised before publication), is freed: the counts subtract them rather
// than drain the list, which would change the heap's structure.

//
// Pool blocks are not counted on each allocation and free: as CPython's
// _Py_GetAllocatedBlocks(), a count sums the carved pools' ref_count.

std::int64_t Heap::SumPoolCounts() const {
  std::int64_t n = 0;
  for (std::uint32_t i = 0; i < arena_slots_; ++i) {
    const ArenaObject& arena = arenas_[i];
    if (arena.address == 0) continue;
    std::uintptr_t base = arena.address;
    if ((base & (kPoolSize - 1)) != 0) {
      base = (base & ~(kPoolSize - 1)) + kPoolSize;
    }
    for (; base < arena.carve_address; base += kPoolSize) {
      n += reinterpret_cast<const PoolHeader*>(base)->ref_count.load(
          std::memory_order_relaxed);
    }
  }
  return n;
}

// Without the heap's guard: the map's lock keeps the arena records
// (arenas_, arena_slots_, each address) from changing and every arena
// read from being returned, since the guard holder changes them only under
// it; carve_address is release-stored after each pool header it
// publishes; ref_count is a relaxed atomic. Thread-safety analysis cannot
// express "written under both locks, read under either".
std::int64_t Heap::SumPoolCountsMapLocked() const
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  std::int64_t n = 0;
  const CountSeam seam = count_seam.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < arena_slots_; ++i) {
    const ArenaObject& arena = arenas_[i];
    if (arena.address == 0) continue;
    if (ABSL_PREDICT_FALSE(seam != nullptr)) seam(arena.address);
    std::uintptr_t base = arena.address;
    if ((base & (kPoolSize - 1)) != 0) {
      base = (base & ~(kPoolSize - 1)) + kPoolSize;
    }
    const std::uintptr_t carved =
        __atomic_load_n(&arena.carve_address, __ATOMIC_ACQUIRE);
    for (; base < carved; base += kPoolSize) {
      n += reinterpret_cast<const PoolHeader*>(base)->ref_count.load(
          std::memory_order_relaxed);
    }
  }
  return n;
}

std::int64_t Heap::AllocatedBlocks() const {
  return SumPoolCounts() + raw_blocks_.load(std::memory_order_relaxed) -
         remote_pending_.load(std::memory_order_relaxed);
}

std::int64_t Heap::PoolBlocks() const {
  return SumPoolCounts() - remote_pending_.load(std::memory_order_relaxed);
}

std::int64_t Heap::AllocatedBlocksRelaxed() const {
  sync::MutexLock lock(&ArenaMap::Global().lock());
  return AllocatedBlocksMapLocked();
}

std::int64_t Heap::AllocatedBlocksMapLocked() const {
  return SumPoolCountsMapLocked() +
         raw_blocks_.load(std::memory_order_relaxed) -
         remote_pending_.load(std::memory_order_relaxed);
}

HeapStats Heap::Stats() const {
  HeapStats stats;
  for (std::uint32_t i = 0; i < arena_slots_; ++i) {
    const ArenaObject& arena = arenas_[i];
    if (arena.address == 0) continue;
    stats.free_pools += arena.free_pool_count;
    std::uintptr_t base = arena.address;
    if ((base & (kPoolSize - 1)) != 0) {
      stats.arena_alignment_bytes += kPoolSize;
      base = (base & ~(kPoolSize - 1)) + kPoolSize;
    }
    for (; base < arena.carve_address; base += kPoolSize) {
      const auto* pool = reinterpret_cast<const PoolHeader*>(base);
      const std::uint32_t count =
          pool->ref_count.load(std::memory_order_relaxed);
      if (count == 0) continue;
      const int c = static_cast<int>(pool->size_class);
      ++stats.pools[c];
      stats.blocks_in_use[c] += count;
      stats.blocks_available[c] += BlocksPerPool(c) - count;
    }
  }
  stats.arenas_allocated_total = arenas_allocated_total_;
  stats.arenas_current = arenas_current_;
  stats.arenas_highwater = arenas_highwater_;
  stats.map_leaf_count = ArenaMap::Global().leaf_count();
  return stats;
}

absl::Status Heap::Validate() const {
  std::uint32_t with_free_pools = 0;
  std::uint32_t usable_seen = 0;
  std::int64_t linked_pools = 0;
  for (std::uint32_t i = 0; i < arena_slots_; ++i) {
    const ArenaObject& arena = arenas_[i];
    if (arena.address == 0) continue;
    if (arena.free_pool_count != 0) ++with_free_pools;
    std::uint32_t listed_free = 0;
    for (const PoolHeader* p = arena.free_pools; p != nullptr; p = p->next) {
      if (p->ref_count.load(std::memory_order_relaxed) != 0 || p->linked) {
        return absl::InternalError(absl::StrFormat(
            "arena %d: pool %p in free_pools has %d blocks (linked %d)", i, p,
            p->ref_count.load(std::memory_order_relaxed), p->linked));
      }
      ++listed_free;
    }
    std::uint32_t uncarved = 0;
    for (std::uintptr_t a = arena.carve_address;
         a + kPoolSize <= arena.address + kArenaSize; a += kPoolSize) {
      ++uncarved;
    }
    if (arena.free_pool_count !=
        listed_free + uncarved + arena.decommitted_pools) {
      return absl::InternalError(absl::StrFormat(
          "arena %d: free_pool_count %d != %d listed + %d uncarved + %d "
          "decommitted",
          i, arena.free_pool_count, listed_free, uncarved,
          arena.decommitted_pools));
    }
    std::uint32_t zeroed = 0;
    std::uintptr_t base = arena.address;
    if ((base & (kPoolSize - 1)) != 0) {
      base = (base & ~(kPoolSize - 1)) + kPoolSize;
    }
    for (; base < arena.carve_address; base += kPoolSize) {
      const auto* pool = reinterpret_cast<const PoolHeader*>(base);
      // A decommitted pool reads as zeros (a carved pool's max_next_offset
      // never is 0).
      if (pool->max_next_offset == 0 &&
          pool->ref_count.load(std::memory_order_relaxed) == 0) {
        ++zeroed;
        continue;
      }
      if (pool->arena_index != i) {
        return absl::InternalError(
            absl::StrFormat("pool %p: arena_index %d, expected %d", pool,
                            pool->arena_index, i));
      }
      const std::uint32_t count =
          pool->ref_count.load(std::memory_order_relaxed);
      if (count == 0) continue;
      if (pool->size_class >= static_cast<std::uint32_t>(kSizeClassCount)) {
        return absl::InternalError(
            absl::StrFormat("pool %p: %d blocks but size class %d", pool, count,
                            pool->size_class));
      }
      if (pool->linked) ++linked_pools;
      // An orphan's pool with given-back pages: its free list may run into
      // them (it reads as cut short there), so it is never walked.
      if (pool->decommitted_pages != 0) continue;
      // Every block of the pool is allocated (ref_count), on its free
      // list, or never carved.
      const int c = static_cast<int>(pool->size_class);
      const auto capacity = static_cast<std::uint32_t>(BlocksPerPool(c));
      std::uint32_t listed = 0;
      for (FreeBlock* b = pool->free_list; b != nullptr && listed <= capacity;
           b = ReadLink<true>(b)) {
        ++listed;
      }
      std::uint32_t never_carved = 0;
      if (pool->next_offset <= pool->max_next_offset) {
        never_carved = (pool->max_next_offset - pool->next_offset) /
                           static_cast<std::uint32_t>(BlockSizeOf(c)) +
                       1;
      }
      if (std::uint64_t{count} + listed + never_carved != capacity) {
        return absl::InternalError(absl::StrFormat(
            "pool %p (class %d): ref_count %d + %d free + %d never carved != "
            "%d blocks",
            pool, c, count, listed, never_carved, capacity));
      }
      if (!pool->linked && (listed != 0 || never_carved != 0)) {
        return absl::InternalError(absl::StrFormat(
            "pool %p (class %d) is not in used_pools_ but has %d free and %d "
            "never carved blocks",
            pool, c, listed, never_carved));
      }
    }
    if (zeroed > arena.decommitted_pools) {
      return absl::InternalError(
          absl::StrFormat("arena %d: %d zeroed pool headers, %d decommitted", i,
                          zeroed, arena.decommitted_pools));
    }
  }
  // The used lists: exactly the linked pools, each of its class, intact,
  // and current_ pointing at each list's first pool (at its sentinel in
  // checked mode).
  for (int c = 0; c < kSizeClassCount; ++c) {
    const PoolHeader* sentinel = &used_pools_[c];
    if (sentinel->free_list != nullptr) {
      return absl::InternalError(
          absl::StrFormat("used_pools_[%d]: the sentinel has a free list", c));
    }
    const PoolHeader* expected_current =
        fast_paths_ ? sentinel->next : sentinel;
    if (current_[c] != expected_current) {
      return absl::InternalError(
          absl::StrFormat("current_[%d] is %p, not the first used pool %p", c,
                          current_[c], expected_current));
    }
    std::int64_t steps = 0;
    for (const PoolHeader* p = sentinel->next; p != sentinel; p = p->next) {
      if (p->next->prev != p || !p->linked ||
          p->size_class != static_cast<std::uint32_t>(c) ||
          p->ref_count.load(std::memory_order_relaxed) == 0) {
        return absl::InternalError(
            absl::StrFormat("used_pools_[%d]: pool %p is misplaced", c, p));
      }
      if (++steps > linked_pools) break;
    }
    linked_pools -= steps;
  }
  if (linked_pools != 0) {
    return absl::InternalError(absl::StrFormat(
        "%d pools marked linked are not in used_pools_", linked_pools));
  }
  std::uint32_t previous_count = 0;
  for (const ArenaObject* a = usable_arenas_; a != nullptr; a = a->next) {
    ++usable_seen;
    if (a->free_pool_count < previous_count || a->free_pool_count == 0) {
      return absl::InternalError(
          "usable_arenas_ is not ascending by free_pool_count");
    }
    if (a->next != nullptr && a->next->prev != a) {
      return absl::InternalError("usable_arenas_ links are broken");
    }
    const bool rightmost =
        a->next == nullptr || a->next->free_pool_count != a->free_pool_count;
    if (rightmost != (last_with_free_[a->free_pool_count] == a)) {
      return absl::InternalError(absl::StrFormat(
          "last_with_free_[%d] does not point at the rightmost arena",
          a->free_pool_count));
    }
    previous_count = a->free_pool_count;
  }
  for (int k = 0; k <= kPoolsPerArena; ++k) {
    const ArenaObject* a = last_with_free_[k];
    if (a != nullptr && (a->free_pool_count != static_cast<std::uint32_t>(k) ||
                         a->address == 0)) {
      return absl::InternalError(
          absl::StrFormat("last_with_free_[%d] points at a wrong arena", k));
    }
  }
  if (usable_seen != with_free_pools) {
    return absl::InternalError(absl::StrFormat(
        "usable_arenas_ lists %d arenas, but %d arenas have a free pool",
        usable_seen, with_free_pools));
  }
  return absl::OkStatus();
}

}  // namespace interpheap::alloc
