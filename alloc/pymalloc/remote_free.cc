// The remote-free protocol and the end of a heap: how a block of one heap,
// freed by a thread attached elsewhere, gets back to its heap, and how a
// retired heap lives on as an orphan until its last block comes home (see
// "Synchronization" in alloc/pymalloc/pymalloc.h).

#include <atomic>
#include <cstdint>
#include <cstdlib>

#include "absl/base/const_init.h"
#include "absl/base/optimization.h"
#include "alloc/external/memcheck.h"
#include "alloc/fork.h"
#include "alloc/pymalloc/heap_registry.h"
#include "alloc/pymalloc/pymalloc.h"
#include "sync/mutex_lock.h"

namespace interpheap::alloc {
namespace {

ABSL_CONST_INIT sync::Mutex orphan_mu(absl::kConstInit);
ABSL_CONST_INIT std::atomic<Heap::RemoteFreeSeam> remote_free_seam{nullptr};
const bool fork_registered = RegisterForkLock(&orphan_mu, ForkRank::kOrphans);

}  // namespace

sync::Mutex& Heap::OrphanLock() { return orphan_mu; }

void Heap::SetRemoteFreeSeamForTesting(RemoteFreeSeam seam) {
  remote_free_seam.store(seam, std::memory_order_release);
}

void Heap::PushRemoteFree(void* p) {
  // `p` is a live block of this heap that no one else can publish, so the
  // heap cannot be freed before this thread publishes it: a heap is freed
  // only with no live block and no push in flight. Everything this thread
  // does to the heap after publishing happens while its push is counted in
  // flight, which keeps the heap alive until LeaveRemoteFree().
  auto* block = static_cast<FreeBlock*>(p);
  if (memcheck::Watching()) {
    // Freed for the checkers now, although the owner recycles it later.
    memcheck::BlockFreed(p,
                         BlockSizeOf(static_cast<int>(PoolOf(p)->size_class)));
  }
  // Counters first: a heap retired from here on counts the block as freed.
  remote_pending_.fetch_add(1, std::memory_order_relaxed);
  remote_frees_.fetch_add(1, std::memory_order_relaxed);
  // Release: Retire()'s acquire fetch_or then sees remote_pending_ raised.
  push_state_.fetch_add(kPushInFlight, std::memory_order_acq_rel);
  const RemoteFreeSeam seam = remote_free_seam.load(std::memory_order_acquire);
  if (ABSL_PREDICT_FALSE(seam != nullptr)) seam(RemoteFreeStep::kCounted, p);
  FreeBlock* head = remote_free_head_.load(std::memory_order_relaxed);
  do {
    WriteLink<true>(block, head);
  } while (!remote_free_head_.compare_exchange_weak(
      head, block, std::memory_order_release, std::memory_order_relaxed));
  if (ABSL_PREDICT_FALSE(seam != nullptr)) seam(RemoteFreeStep::kPublished, p);
  LeaveRemoteFree();
}

void Heap::LeaveRemoteFree() {
  std::uint64_t state = push_state_.load(std::memory_order_acquire);
  while ((state & kOrphaned) == 0) {
    // Not an orphan: leave. From here on this thread touches nothing of the
    // heap, which its owner may retire and free at any time.
    if (push_state_.compare_exchange_weak(state, state - kPushInFlight,
                                          std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
      return;
    }
  }
  // An orphan (already, or retired while this push was in flight). The
  // push still counts in flight, so no one frees the heap before this
  // thread leaves under the orphan lock, where it drains the heap and frees
  // it if its last block just came home.
  sync::MutexLock hold(&OrphanLock());
  push_state_.fetch_sub(kPushInFlight, std::memory_order_acq_rel);
  ReclaimIfEmptyLocked(this);
}

std::int64_t Heap::DrainRemoteFrees() {
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
  return drained;
}

Heap::RetireResult Heap::Retire(Heap* heap) {
  sync::MutexLock hold(&OrphanLock());
  // Quiescent (see Requires), so the guard may change hands: from now on
  // the heap is touched only under the orphan lock.
  heap->guard_ = &OrphanLock();
  heap->guard().AssumeHeld();
  // Acquire: pushes that entered before this see the orphan bit when they
  // leave, and their raised remote_pending_ is visible below.
  heap->push_state_.fetch_or(kOrphaned, std::memory_order_acq_rel);
  heap->DrainRemoteFrees();
  AddRetiredRawBlocks(heap->raw_blocks_.load(std::memory_order_relaxed));
  heap->raw_blocks_.store(0, std::memory_order_relaxed);
  // From here on the heap's pool blocks are counted, not summed: each
  // block coming home lowers the count (ReclaimIfEmptyLocked()).
  heap->orphan_pool_blocks_ = heap->SumPoolCounts();
  // Blocks counted but not yet published are being freed, not leaked.
  const std::int64_t leaked =
      heap->orphan_pool_blocks_ -
      heap->remote_pending_.load(std::memory_order_relaxed);
  // An orphan from here on: its empty pools go back to the OS (the ones a
  // later free empties follow in PoolBecameEmpty).
  if (!ReclaimIfEmptyLocked(heap)) heap->DecommitFreePools();
  return {leaked};
}

bool Heap::ReclaimIfEmptyLocked(Heap* heap) {
  heap->guard().AssumeHeld();
  heap->orphan_pool_blocks_ -= heap->DrainRemoteFrees();
  if (heap->orphan_pool_blocks_ != 0 ||
      heap->push_state_.load(std::memory_order_acquire) != kOrphaned) {
    return false;
  }
  heap->ReleaseAllArenas();
  delete heap;  // unregisters it
  return true;
}

}  // namespace interpheap::alloc
