#include "alloc/hooks/debug_block_set.h"

#include <sys/mman.h>

#include "alloc/fork.h"
#include "sync/mutex_lock.h"

namespace interpheap::alloc {
namespace {

const bool global_set_fork_registered =
    DebugBlockSet::Global().RegisterForkLocks();

// Zeroed memory straight from the OS; nullptr on failure.
void* MapZeroed(std::size_t bytes) {
  void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return memory == MAP_FAILED ? nullptr : memory;
}

}  // namespace

ABSL_CONST_INIT DebugBlockSet DebugBlockSet::global_;

bool DebugBlockSet::RegisterForkLocks() {
  RegisterForkLock(&make_mu_, ForkRank::kDebugBlockSet);
  return true;
}

DebugBlockSet::Cell* DebugBlockSet::MakeCell(const void* p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  if ((address & (kGranule - 1)) != 0 || (address >> kAddressBits) != 0) {
    return nullptr;
  }
  {
    sync::MutexLock lock(&make_mu_);
    std::atomic<Mid*>& mid_slot = top_[address >> kTopShift];
    Mid* mid = mid_slot.load(std::memory_order_relaxed);
    if (mid == nullptr) {
      mid = static_cast<Mid*>(MapZeroed(sizeof(Mid)));
      if (mid == nullptr) return nullptr;
      mid_slot.store(mid, std::memory_order_release);
    }
    std::atomic<Leaf*>& leaf_slot =
        mid->leaves[(address >> kMidShift) & (kMidFanout - 1)];
    if (leaf_slot.load(std::memory_order_relaxed) == nullptr) {
      Leaf* leaf = static_cast<Leaf*>(MapZeroed(sizeof(Leaf)));
      if (leaf == nullptr) return nullptr;
      leaf_slot.store(leaf, std::memory_order_release);
    }
  }
  return CellFor(p);
}

// A walk over every cell of the map (64 Ki per leaf) and every leaf slot:
// rare (once per installation of the debug hooks), but under the fuzzing
// build's comparison tracing it was two thirds of the fuzz target's time
// and taught libFuzzer nothing, so it is left out of coverage.
#if defined(__clang__)
__attribute__((no_sanitize("coverage")))
#endif
void DebugBlockSet::ForgetFreed() {
  for (std::atomic<Mid*>& mid_slot : top_) {
    Mid* mid = mid_slot.load(std::memory_order_acquire);
    if (mid == nullptr) continue;
    for (std::atomic<Leaf*>& leaf_slot : mid->leaves) {
      Leaf* leaf = leaf_slot.load(std::memory_order_acquire);
      if (leaf == nullptr) continue;
      for (Cell& cell : leaf->cells) {
        std::uint8_t value = cell.load(std::memory_order_relaxed);
        // A cell made live meanwhile keeps its new value.
        while (Unpack(value).state == DebugBlockState::kFreed &&
               !cell.compare_exchange_weak(value, 0, std::memory_order_relaxed,
                                           std::memory_order_relaxed)) {
        }
      }
    }
  }
}

}  // namespace interpheap::alloc
