#include "alloc/pymalloc/raw_block_map.h"

#include <sys/mman.h>

#include <new>

#include "alloc/fork.h"
#include "sync/mutex_lock.h"

namespace interpheap::alloc {

ABSL_CONST_INIT internal::RawBlockMapStorage internal::raw_block_map_storage;

namespace {

const bool fork_registered = RegisterForkLock(
    &RawBlockMap::Global().lock_for_fork(), ForkRank::kRawBlockMap);

// Zero-filled memory straight from the OS: a valid empty node.
void* MapZeroed(std::size_t bytes) {
  void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return memory == MAP_FAILED ? nullptr : memory;
}

}  // namespace

RawBlockMap::Leaf* RawBlockMap::CreateLeaf(std::uintptr_t address) {
  if ((address >> kAddressBits) != 0) return nullptr;
  sync::MutexLock lock(&mu_);
  std::atomic<Mid*>& mid_slot = root_[address >> (kLeafBits + kMidBits)];
  Mid* mid = mid_slot.load(std::memory_order_relaxed);
  if (mid == nullptr) {
    void* memory = MapZeroed(sizeof(Mid));
    if (memory == nullptr) return nullptr;
    mid = new (memory) Mid();
    mid_slot.store(mid, std::memory_order_release);
  }
  std::atomic<Leaf*>& leaf_slot =
      mid->leaves[(address >> kLeafBits) & ((1 << kMidBits) - 1)];
  Leaf* leaf = leaf_slot.load(std::memory_order_relaxed);
  if (leaf == nullptr) {
    void* memory = MapZeroed(sizeof(Leaf));
    if (memory == nullptr) return nullptr;
    leaf = new (memory) Leaf();
    leaf_slot.store(leaf, std::memory_order_release);
    ++leaf_count_;
  }
  return leaf;
}

bool RawBlockMap::Contains(const void* p) const {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  const Leaf* leaf = FindLeaf(address);
  if (leaf == nullptr) return false;
  const Bit bit = BitOf(address);
  return (leaf->words[bit.word].load(std::memory_order_relaxed) & bit.mask) !=
         0;
}

std::size_t RawBlockMap::leaf_count() const {
  sync::MutexLock lock(&mu_);
  return leaf_count_;
}

}  // namespace interpheap::alloc
