// alloc/pymalloc/arena_map.h: the process-wide "which heap owns this address?"
// map.
//
// pymalloc must tell its own blocks from others' in O(1) without reading
// memory that is not its own (so valgrind and ASan stay clean without a
// suppression file). The map is a two-level radix tree over 48-bit
// addresses, keyed by 1 MiB chunk (the arena size):
//
//   address bits: [47..34] root index | [33..20] leaf index | [19..0] offset
//
// An arena need not be 1 MiB aligned, so it can cover the end of one chunk
// and the start of the next. Each chunk's leaf entry therefore records two
// owners, CPython's tail_hi/tail_lo scheme extended with the owner:
//   - `starts_at`: offset in this chunk where an arena begins (kAligned for
//     offset 0), and `starts_owner`, the heap owning it;
//   - `ends_before`: offset in this chunk where an arena that began in the
//     previous chunk ends, and `ends_owner`.
// Address p with offset t is owned by `ends_owner` if t < ends_before, else
// by `starts_owner` if starts_at != 0 and t >= starts_at, else by no heap.
//
// Concurrency: lookups are lock-free (any thread, any interpreter, on every
// free). Registration and removal take the map's lock. Entries are atomics:
// an owner is stored before its offset (release) when registering, and the
// offset cleared before the owner when removing; a lookup loads the offset
// (acquire) before the owner. A pointer into a live arena is never looked up
// while that arena is being added or removed, because no block of it is
// live then; foreign pointers in the same chunk see either value, and both
// answer "not ours". Leaves are created on demand and kept for the life of
// the process (concurrent lookups may be reading them).

#ifndef INTERPHEAP_ALLOC_PYMALLOC_ARENA_MAP_H_
#define INTERPHEAP_ALLOC_PYMALLOC_ARENA_MAP_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/base/const_init.h"
#include "absl/base/thread_annotations.h"
#include "sync/mutex.h"

namespace interpheap::alloc {

class Heap;

inline constexpr int kArenaBits = 20;
inline constexpr std::size_t kArenaSize = std::size_t{1} << kArenaBits;

// Thread-safe.
class ArenaMap {
 public:
  static constexpr int kAddressBits = 48;
  static constexpr int kLeafBits = 14;
  static constexpr int kRootBits = kAddressBits - kArenaBits - kLeafBits;
  static constexpr std::size_t kRootEntries = std::size_t{1} << kRootBits;
  static constexpr std::size_t kLeafEntries = std::size_t{1} << kLeafBits;

  struct Entry {
    std::atomic<std::int32_t> starts_at{0};
    std::atomic<std::int32_t> ends_before{0};
    std::atomic<Heap*> starts_owner{nullptr};
    std::atomic<Heap*> ends_owner{nullptr};
  };
  struct Leaf {
    Entry entries[kLeafEntries];
  };

  // The process's map: constant-initialized and never destroyed, so it
  // works before main() and during static destruction.
  static ArenaMap& Global() noexcept;

  constexpr ArenaMap() : mu_(absl::kConstInit) {}

  // The heap owning the arena that contains `p`, or nullptr. Reads only the
  // map.
  Heap* Owner(const void* p) const noexcept {
    const auto address = reinterpret_cast<std::uintptr_t>(p);
    if ((address >> kAddressBits) != 0) return nullptr;
    const Leaf* leaf = root_[address >> (kArenaBits + kLeafBits)].load(
        std::memory_order_acquire);
    if (leaf == nullptr) return nullptr;
    const Entry& entry =
        leaf->entries[(address >> kArenaBits) & (kLeafEntries - 1)];
    const std::int32_t starts_at =
        entry.starts_at.load(std::memory_order_acquire);
    if (starts_at == kAligned) {
      // An aligned arena fills the whole chunk (the default arena
      // allocator's case): one entry, one compare.
      return entry.starts_owner.load(std::memory_order_relaxed);
    }
    const auto offset = static_cast<std::int32_t>(address & (kArenaSize - 1));
    if (offset < entry.ends_before.load(std::memory_order_acquire)) {
      return entry.ends_owner.load(std::memory_order_relaxed);
    }
    if (starts_at != 0 && offset >= starts_at) {
      return entry.starts_owner.load(std::memory_order_relaxed);
    }
    return nullptr;
  }

  // Records that [base, base + kArenaSize) belongs to `owner`. False (and
  // nothing recorded) if the address is outside the map or a leaf cannot be
  // allocated.
  bool Register(std::uintptr_t base, Heap* owner) ABSL_LOCKS_EXCLUDED(mu_);
  bool RegisterLocked(std::uintptr_t base, Heap* owner)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Forgets the arena at `base`.
  void Unregister(std::uintptr_t base) ABSL_LOCKS_EXCLUDED(mu_);
  void UnregisterLocked(std::uintptr_t base) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The lock of Register and Unregister. Heaps also hold it while they add,
  // move or forget arena records, so that a count summed under it
  // (Heap::AllocatedBlocksRelaxed()) reads only arenas that stay mapped;
  // and the fork handlers (alloc/fork.h) take it.
  sync::Mutex& lock() const ABSL_LOCK_RETURNED(mu_) { return mu_; }
  sync::Mutex& lock_for_fork() const ABSL_LOCK_RETURNED(mu_) { return mu_; }

  // Leaves allocated so far (each kLeafBytes).
  std::size_t leaf_count() const ABSL_LOCKS_EXCLUDED(mu_);

  static constexpr std::size_t kRootBytes = kRootEntries * sizeof(void*);
  static constexpr std::size_t kLeafBytes = sizeof(Leaf);

 private:
  // starts_at value for an arena that begins at offset 0 (0 means "none").
  static constexpr std::int32_t kAligned = -1;

  Entry* EntryLocked(std::uintptr_t address, bool create)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable sync::Mutex mu_;
  // Release-stored under mu_ when a leaf is created; acquire-loaded by Owner.
  std::atomic<Leaf*> root_[kRootEntries] = {};
  std::size_t leaf_count_ ABSL_GUARDED_BY(mu_) = 0;
};

namespace internal {
// A union member is never destroyed: the map outlives static destructors.
union ArenaMapStorage {
  constexpr ArenaMapStorage() : map() {}
  ~ArenaMapStorage() {}
  ArenaMap map;
};
extern ArenaMapStorage arena_map_storage;
}  // namespace internal

inline ArenaMap& ArenaMap::Global() noexcept {
  return internal::arena_map_storage.map;
}

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_PYMALLOC_ARENA_MAP_H_
