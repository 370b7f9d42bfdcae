// alloc/hooks/debug_block_set.h: the blocks the debug hooks handed out.
//
// Every block a debug hook returns is recorded as live, with its layout;
// free marks it freed. The hooks look a pointer up before reading through
// it, so a double free, a realloc of a freed block, and an interior,
// misaligned or foreign pointer (or one into a freed arena) are diagnosed
// with their own message instead of crashing in the dump. Freed entries
// stay, to name a double free, until their address is handed out again,
// their shard needs the room, or they are forgotten (ForgetFreed) because
// the allocator below may have handed their address out without a header.
//
// Sharded by address: each shard is an open-addressed table in memory
// mapped from the OS (no domain is called) under its own lock.

#ifndef INTERPHEAP_ALLOC_HOOKS_DEBUG_BLOCK_SET_H_
#define INTERPHEAP_ALLOC_HOOKS_DEBUG_BLOCK_SET_H_

#include <cstddef>
#include <cstdint>

#include "absl/base/const_init.h"
#include "absl/base/thread_annotations.h"
#include "alloc/hooks/mapped_array.h"
#include "sync/mutex.h"

namespace interpheap::alloc {

enum class DebugBlockState : std::uint8_t { kUnknown = 0, kLive, kFreed };

struct DebugBlockInfo {
  DebugBlockState state = DebugBlockState::kUnknown;
  bool has_serial = false;  // the block carries the serial-number word
};

// Thread-safe.
class DebugBlockSet {
 public:
  // 16: enough to spread threads, and fork() holds them all at once (TSan
  // tracks at most 64 locks held by one thread).
  static constexpr int kShards = 16;

  constexpr DebugBlockSet() = default;

  // The process's set, constant-initialized.
  static DebugBlockSet& Global();

  // Records `p` as live (replacing a freed entry for the same address).
  // False if the table could not grow (nothing recorded).
  bool AddLive(const void* p, bool has_serial);

  DebugBlockInfo Lookup(const void* p);

  // Marks `p` freed if it is live; returns what it was before.
  DebugBlockInfo TakeLive(const void* p);

  // Forgets every freed entry: Lookup answers kUnknown for them from then
  // on (the slot stays, as a tombstone for the probe sequence, until reused
  // or dropped). Live entries are kept.
  void ForgetFreed();

  // Registers every shard's lock with fork() (alloc/fork.h), so a child
  // forked while other threads use the debug hooks finds them free.
  // Returns true (for a namespace-scope initializer).
  bool RegisterForkLocks();

 private:
  struct Entry {
    std::uintptr_t address;  // 0: empty
    DebugBlockState state;
    bool has_serial;
  };
  struct Shard {
    constexpr Shard() : mu(absl::kConstInit) {}
    sync::Mutex mu;
    MappedArray<Entry> table ABSL_GUARDED_BY(mu);
    std::size_t used ABSL_GUARDED_BY(mu) = 0;
    std::size_t live ABSL_GUARDED_BY(mu) = 0;
  };

  static Shard& ShardOf(std::uintptr_t address, DebugBlockSet* set);
  static Entry* Find(Shard& shard, std::uintptr_t address)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  static bool MakeRoom(Shard& shard) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);

  Shard shards_[kShards];
};

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_HOOKS_DEBUG_BLOCK_SET_H_
