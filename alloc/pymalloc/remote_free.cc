// The remote-free protocol: how a block of one heap, freed by a thread
// attached elsewhere, gets back to its heap (see "Ownership" in
// alloc/pymalloc/pymalloc.h).

#include <atomic>
#include <cstdint>

#include "alloc/external/memcheck.h"
#include "alloc/pymalloc/pymalloc.h"

namespace interpheap::alloc {

void Heap::PushRemoteFree(void* p) {
  auto* block = static_cast<FreeBlock*>(p);
  if (memcheck::Watching()) {
    // Freed for the checkers now, although the owner recycles it later.
    memcheck::BlockFreed(p,
                         BlockSizeOf(static_cast<int>(PoolOf(p)->size_class)));
  }
  FreeBlock* head = remote_free_head_.load(std::memory_order_relaxed);
  do {
    WriteLink<true>(block, head);
  } while (!remote_free_head_.compare_exchange_weak(
      head, block, std::memory_order_release, std::memory_order_relaxed));
  remote_pending_.fetch_add(1, std::memory_order_relaxed);
  remote_frees_.fetch_add(1, std::memory_order_relaxed);
}

void Heap::DrainRemoteFrees() {
  FreeBlock* block =
      remote_free_head_.exchange(nullptr, std::memory_order_acquire);
  std::int64_t drained = 0;
  while (block != nullptr) {
    FreeBlock* next = ReadLink<true>(block);
    PushBlock<true>(block);
    block = next;
    ++drained;
  }
  if (drained != 0) {
    remote_pending_.fetch_sub(drained, std::memory_order_relaxed);
  }
}

}  // namespace interpheap::alloc
