// alloc/pymalloc/raw_block_map.h: the raw fallback blocks pymalloc has
// counted.
//
// pymalloc serves requests of 0 and above 512 bytes (and pool exhaustion)
// from the raw domain and counts them (Heap::AllocatedBlocks()). A pointer
// outside every pymalloc arena reaching pymalloc's free is either such a
// block or one the mem/obj domains never handed out (ih_mem_free(malloc(16))),
// and only the first may lower the count. This map tells them apart, so
// counts never go negative: a pointer not in it is passed to the raw domain
// uncounted.
//
// One bit per 16-byte granule of the address space (blocks are 16-byte
// aligned), in a three-level radix tree over 48-bit addresses:
//
//   address bits: [47..34] root index | [33..20] mid index |
//                 [19..4] bit in the leaf | [3..0] zero
//
// A leaf is the 8 KiB bitmap of one 1 MiB chunk. Setting and clearing a
// bit is one atomic read-modify-write after two acquire loads: lock-free,
// about 15 instructions, and two blocks share a 64-bit word only when they
// lie within 1 KiB of each other. Mid nodes (128 KiB) and leaves are
// mapped from the OS on first use (so no domain is ever called for the
// bookkeeping) under the map's lock, a leaf lock, and kept for the life
// of the process, as the ownership map's leaves are (lookups may be
// reading them): 8 KiB per MiB of address space that ever held a raw
// fallback block.

#ifndef INTERPHEAP_ALLOC_PYMALLOC_RAW_BLOCK_MAP_H_
#define INTERPHEAP_ALLOC_PYMALLOC_RAW_BLOCK_MAP_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/base/attributes.h"
#include "absl/base/const_init.h"
#include "absl/base/optimization.h"
#include "absl/base/thread_annotations.h"
#include "sync/mutex.h"

namespace interpheap::alloc {

// Thread-safe.
class RawBlockMap {
 public:
  static constexpr int kAddressBits = 48;
  static constexpr int kGranuleBits = 4;
  static constexpr int kLeafBits = 20;  // a leaf covers 1 MiB
  static constexpr int kMidBits = 14;
  static constexpr int kRootBits = kAddressBits - kLeafBits - kMidBits;
  static constexpr std::size_t kWordsPerLeaf =
      (std::size_t{1} << (kLeafBits - kGranuleBits)) / 64;

  enum class AddResult {
    kAdded,
    // Already recorded: a block counted earlier and then freed where
    // pymalloc could not see it (through the raw domain, or through the C
    // library after a configuration change), whose address came back. The
    // count it still holds is this block's now.
    kAlreadyRecorded,
    kNoMemory,  // a node could not be mapped (or the address is beyond
                // 48 bits): nothing recorded
  };

  constexpr RawBlockMap() : mu_(absl::kConstInit) {}

  // The process's map, constant-initialized and never destroyed.
  static RawBlockMap& Global();

  // Inline: the common case is two loads and one atomic operation.
  AddResult Add(const void* p) ABSL_LOCKS_EXCLUDED(mu_);
  // Clears `p`; true if it was recorded.
  bool Remove(const void* p);
  bool Contains(const void* p) const;

  // Leaves mapped so far (each kWordsPerLeaf * 8 bytes).
  std::size_t leaf_count() const ABSL_LOCKS_EXCLUDED(mu_);

  // The lock that creates nodes, for the fork handlers (alloc/fork.h) only.
  sync::Mutex& lock_for_fork() const ABSL_LOCK_RETURNED(mu_) { return mu_; }

 private:
  struct Leaf {
    std::atomic<std::uint64_t> words[kWordsPerLeaf];
  };
  struct Mid {
    std::atomic<Leaf*> leaves[std::size_t{1} << kMidBits];
  };

  struct Bit {
    std::size_t word;
    std::uint64_t mask;
  };
  static Bit BitOf(std::uintptr_t address) {
    const std::size_t bit =
        (address >> kGranuleBits) &
        ((std::size_t{1} << (kLeafBits - kGranuleBits)) - 1);
    return {bit / 64, std::uint64_t{1} << (bit % 64)};
  }

  // The leaf holding `address`'s bit, or nullptr (none yet, or beyond 48
  // bits).
  Leaf* FindLeaf(std::uintptr_t address) const {
    if (ABSL_PREDICT_FALSE((address >> kAddressBits) != 0)) return nullptr;
    const Mid* mid = root_[address >> (kLeafBits + kMidBits)].load(
        std::memory_order_acquire);
    if (ABSL_PREDICT_FALSE(mid == nullptr)) return nullptr;
    return mid->leaves[(address >> kLeafBits) & ((1 << kMidBits) - 1)].load(
        std::memory_order_acquire);
  }
  // Maps the mid node and the leaf of `address` if needed; nullptr when
  // the OS refuses or the address is beyond 48 bits.
  ABSL_ATTRIBUTE_NOINLINE Leaf* CreateLeaf(std::uintptr_t address)
      ABSL_LOCKS_EXCLUDED(mu_);

  mutable sync::Mutex mu_;
  // Release-stored under mu_ when a node is created; acquire-loaded by the
  // lock-free paths.
  std::atomic<Mid*> root_[std::size_t{1} << kRootBits] = {};
  std::size_t leaf_count_ ABSL_GUARDED_BY(mu_) = 0;
};

namespace internal {
// A union member is never destroyed: the map outlives static destructors
// (a block may be freed from one).
union RawBlockMapStorage {
  constexpr RawBlockMapStorage() : map() {}
  ~RawBlockMapStorage() {}
  RawBlockMap map;
};
extern RawBlockMapStorage raw_block_map_storage;
}  // namespace internal

inline RawBlockMap& RawBlockMap::Global() {
  return internal::raw_block_map_storage.map;
}

// Relaxed read-modify-writes: a block's Add and its Remove are ordered by
// whatever handed the block from its allocating thread to its freeing one,
// and all changes to one word are totally ordered.

inline RawBlockMap::AddResult RawBlockMap::Add(const void* p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  Leaf* leaf = FindLeaf(address);
  if (ABSL_PREDICT_FALSE(leaf == nullptr)) {
    leaf = CreateLeaf(address);
    if (leaf == nullptr) return AddResult::kNoMemory;
  }
  const Bit bit = BitOf(address);
  const std::uint64_t before =
      leaf->words[bit.word].fetch_or(bit.mask, std::memory_order_relaxed);
  return (before & bit.mask) == 0 ? AddResult::kAdded
                                  : AddResult::kAlreadyRecorded;
}

inline bool RawBlockMap::Remove(const void* p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  Leaf* leaf = FindLeaf(address);
  if (leaf == nullptr) return false;
  const Bit bit = BitOf(address);
  const std::uint64_t before =
      leaf->words[bit.word].fetch_and(~bit.mask, std::memory_order_relaxed);
  return (before & bit.mask) != 0;
}

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_PYMALLOC_RAW_BLOCK_MAP_H_
