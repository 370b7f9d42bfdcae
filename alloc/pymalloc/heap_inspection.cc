// Reading a heap without changing its structure: block counts, the stats
// numbers and the invariant checker.

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "alloc/external/memcheck.h"
#include "alloc/pymalloc/arena_map.h"
#include "alloc/pymalloc/pymalloc.h"

namespace interpheap::alloc {

// A block on the remote-free list, or about to be (remote_pending_ is
// raised before publication), is freed: the counts subtract them rather
// than drain the list, which would change the heap's structure.

std::int64_t Heap::AllocatedBlocks() const { return AllocatedBlocksRelaxed(); }

std::int64_t Heap::PoolBlocks() const {
  return blocks_in_pools_.load(std::memory_order_relaxed) -
         remote_pending_.load(std::memory_order_relaxed);
}

std::int64_t Heap::AllocatedBlocksRelaxed() const {
  return blocks_in_pools_.load(std::memory_order_relaxed) +
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
      if (pool->ref_count == 0) continue;
      const int c = static_cast<int>(pool->size_class);
      ++stats.pools[c];
      stats.blocks_in_use[c] += pool->ref_count;
      stats.blocks_available[c] += BlocksPerPool(c) - pool->ref_count;
    }
  }
  stats.arenas_allocated_total = arenas_allocated_total_;
  stats.arenas_current = arenas_current_;
  stats.arenas_highwater = arenas_highwater_;
  stats.map_leaf_count = ArenaMap::Global().leaf_count();
  return stats;
}

absl::Status Heap::Validate() const {
  std::int64_t in_pools = 0;
  std::uint32_t with_free_pools = 0;
  std::uint32_t usable_seen = 0;
  for (std::uint32_t i = 0; i < arena_slots_; ++i) {
    const ArenaObject& arena = arenas_[i];
    if (arena.address == 0) continue;
    if (arena.free_pool_count != 0) ++with_free_pools;
    std::uint32_t listed_free = 0;
    for (const PoolHeader* p = arena.free_pools; p != nullptr; p = p->next) {
      if (p->ref_count != 0) {
        return absl::InternalError(
            absl::StrFormat("arena %d: pool %p in free_pools has %d blocks", i,
                            p, p->ref_count));
      }
      ++listed_free;
    }
    std::uint32_t uncarved = 0;
    for (std::uintptr_t a = arena.carve_address;
         a + kPoolSize <= arena.address + kArenaSize; a += kPoolSize) {
      ++uncarved;
    }
    if (arena.free_pool_count != listed_free + uncarved) {
      return absl::InternalError(absl::StrFormat(
          "arena %d: free_pool_count %d != %d listed + %d uncarved", i,
          arena.free_pool_count, listed_free, uncarved));
    }
    std::uintptr_t base = arena.address;
    if ((base & (kPoolSize - 1)) != 0) {
      base = (base & ~(kPoolSize - 1)) + kPoolSize;
    }
    for (; base < arena.carve_address; base += kPoolSize) {
      const auto* pool = reinterpret_cast<const PoolHeader*>(base);
      in_pools += pool->ref_count;
      if (pool->arena_index != i) {
        return absl::InternalError(
            absl::StrFormat("pool %p: arena_index %d, expected %d", pool,
                            pool->arena_index, i));
      }
    }
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
  const std::int64_t pending = remote_pending_.load(std::memory_order_relaxed);
  if (in_pools != blocks_in_pools_.load(std::memory_order_relaxed)) {
    return absl::InternalError(absl::StrFormat(
        "blocks_in_pools_ %d != %d counted in pools (%d remote frees "
        "pending)",
        blocks_in_pools_.load(), in_pools, pending));
  }
  return absl::OkStatus();
}

}  // namespace interpheap::alloc
