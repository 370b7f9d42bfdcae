#include "alloc/pymalloc/arena_map.h"

#include <sys/mman.h>

#include <new>

#include "alloc/fork.h"
#include "sync/mutex_lock.h"

namespace interpheap::alloc {

ABSL_CONST_INIT internal::ArenaMapStorage internal::arena_map_storage;

namespace {
const bool fork_registered =
    RegisterForkLock(&ArenaMap::Global().lock_for_fork(), ForkRank::kArenaMap);
}  // namespace

ArenaMap::Entry* ArenaMap::EntryLocked(std::uintptr_t address, bool create) {
  if ((address >> kAddressBits) != 0) return nullptr;
  std::atomic<Leaf*>& slot = root_[address >> (kArenaBits + kLeafBits)];
  Leaf* leaf = slot.load(std::memory_order_relaxed);
  if (leaf == nullptr) {
    if (!create) return nullptr;
    // Straight from the OS: the map serves the mem and obj domains and must
    // not allocate from them. mmap memory is zero, which is a valid Leaf.
    void* memory = mmap(nullptr, sizeof(Leaf), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) return nullptr;
    leaf = new (memory) Leaf();
    slot.store(leaf, std::memory_order_release);
    ++leaf_count_;
  }
  return &leaf->entries[(address >> kArenaBits) & (kLeafEntries - 1)];
}

bool ArenaMap::Register(std::uintptr_t base, Heap* owner) {
  sync::MutexLock lock(&mu_);
  return RegisterLocked(base, owner);
}

bool ArenaMap::RegisterLocked(std::uintptr_t base, Heap* owner) {
  const std::uintptr_t last = base + kArenaSize - 1;
  const auto offset = static_cast<std::int32_t>(base & (kArenaSize - 1));
  Entry* first = EntryLocked(base, /*create=*/true);
  if (first == nullptr) return false;
  if (offset == 0) {
    first->starts_owner.store(owner, std::memory_order_relaxed);
    first->starts_at.store(kAligned, std::memory_order_release);
    return true;
  }
  Entry* second = EntryLocked(last, /*create=*/true);
  if (second == nullptr) return false;
  first->starts_owner.store(owner, std::memory_order_relaxed);
  first->starts_at.store(offset, std::memory_order_release);
  second->ends_owner.store(owner, std::memory_order_relaxed);
  second->ends_before.store(offset, std::memory_order_release);
  return true;
}

void ArenaMap::Unregister(std::uintptr_t base) {
  sync::MutexLock lock(&mu_);
  UnregisterLocked(base);
}

void ArenaMap::UnregisterLocked(std::uintptr_t base) {
  const auto offset = static_cast<std::int32_t>(base & (kArenaSize - 1));
  if (Entry* first = EntryLocked(base, /*create=*/false)) {
    first->starts_at.store(0, std::memory_order_release);
    first->starts_owner.store(nullptr, std::memory_order_relaxed);
  }
  if (offset != 0) {
    if (Entry* second = EntryLocked(base + kArenaSize - 1, /*create=*/false)) {
      second->ends_before.store(0, std::memory_order_release);
      second->ends_owner.store(nullptr, std::memory_order_relaxed);
    }
  }
}

std::size_t ArenaMap::leaf_count() const {
  sync::MutexLock lock(&mu_);
  return leaf_count_;
}

}  // namespace interpheap::alloc
