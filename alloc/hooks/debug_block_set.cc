#include "alloc/hooks/debug_block_set.h"

#include "alloc/fork.h"
#include "alloc/hooks/trace_tables.h"  // Mix
#include "sync/mutex_lock.h"

namespace interpheap::alloc {
namespace {

ABSL_CONST_INIT DebugBlockSet global_set;
const bool global_set_fork_registered = global_set.RegisterForkLocks();

std::size_t Hash(std::uintptr_t address) { return Mix(address >> 4); }

}  // namespace

DebugBlockSet& DebugBlockSet::Global() { return global_set; }

bool DebugBlockSet::RegisterForkLocks() {
  for (Shard& shard : shards_) {
    RegisterForkLock(&shard.mu, ForkRank::kDebugBlockSet);
  }
  return true;
}

DebugBlockSet::Shard& DebugBlockSet::ShardOf(std::uintptr_t address,
                                             DebugBlockSet* set) {
  return set->shards_[Hash(address) % kShards];
}

// The entry for `address`, or the empty slot where it would go; nullptr
// only when the table has no slot yet.
DebugBlockSet::Entry* DebugBlockSet::Find(Shard& shard,
                                          std::uintptr_t address) {
  if (shard.table.capacity() == 0) return nullptr;
  const std::size_t mask = shard.table.capacity() - 1;
  for (std::size_t i = (Hash(address) / kShards) & mask;; i = (i + 1) & mask) {
    Entry& entry = shard.table[i];
    if (entry.address == 0 || entry.address == address) return &entry;
  }
}

// Keeps the load at most one half: drops freed entries when they are the
// majority, otherwise doubles. False if memory ran out.
bool DebugBlockSet::MakeRoom(Shard& shard) {
  if ((shard.used + 1) * 2 <= shard.table.capacity()) return true;
  std::size_t capacity =
      shard.table.capacity() == 0 ? 256 : shard.table.capacity();
  if (shard.live * 4 > capacity) capacity *= 2;
  MappedArray<Entry> old = shard.table;
  MappedArray<Entry> fresh;
  if (!fresh.ResetTo(capacity)) return false;
  shard.table = fresh;
  shard.used = 0;
  for (std::size_t i = 0; i < old.capacity(); ++i) {
    if (old[i].state != DebugBlockState::kLive) continue;
    *Find(shard, old[i].address) = old[i];
    ++shard.used;
  }
  old.Release();
  return true;
}

bool DebugBlockSet::AddLive(const void* p, bool has_serial) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  Shard& shard = ShardOf(address, this);
  sync::MutexLock lock(&shard.mu);
  if (!MakeRoom(shard)) return false;
  Entry* entry = Find(shard, address);
  if (entry->address == 0) {
    ++shard.used;
  } else if (entry->state == DebugBlockState::kLive) {
    --shard.live;  // replaced below; cannot happen for a correct allocator
  }
  *entry = Entry{address, DebugBlockState::kLive, has_serial};
  ++shard.live;
  return true;
}

DebugBlockInfo DebugBlockSet::Lookup(const void* p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  Shard& shard = ShardOf(address, this);
  sync::MutexLock lock(&shard.mu);
  const Entry* entry = Find(shard, address);
  if (entry == nullptr || entry->address == 0) return {};
  return {entry->state, entry->has_serial};
}

DebugBlockInfo DebugBlockSet::TakeLive(const void* p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  Shard& shard = ShardOf(address, this);
  sync::MutexLock lock(&shard.mu);
  Entry* entry = Find(shard, address);
  if (entry == nullptr || entry->address == 0) return {};
  const DebugBlockInfo before{entry->state, entry->has_serial};
  if (entry->state == DebugBlockState::kLive) {
    entry->state = DebugBlockState::kFreed;
    --shard.live;
  }
  return before;
}

void DebugBlockSet::ForgetFreed() {
  for (Shard& shard : shards_) {
    sync::MutexLock lock(&shard.mu);
    for (std::size_t i = 0; i < shard.table.capacity(); ++i) {
      Entry& entry = shard.table[i];
      if (entry.state == DebugBlockState::kFreed) {
        entry.state = DebugBlockState::kUnknown;
      }
    }
  }
}

}  // namespace interpheap::alloc
