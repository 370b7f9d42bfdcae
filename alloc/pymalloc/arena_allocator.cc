#include "alloc/pymalloc/arena_allocator.h"

#include <sys/mman.h>

#include <cstdint>

#include "absl/base/const_init.h"
#include "alloc/fork.h"
#include "sync/mutex.h"
#include "sync/mutex_lock.h"

namespace interpheap::alloc {
namespace {

ABSL_CONST_INIT sync::Mutex arena_allocator_mu(absl::kConstInit);
const bool fork_registered =
    RegisterForkLock(&arena_allocator_mu, ForkRank::kArenaAllocator);
ABSL_CONST_INIT ArenaAllocator installed ABSL_GUARDED_BY(arena_allocator_mu) =
    kMmapArenaAllocator;

}  // namespace

void* MmapArenaAlloc(void*, std::size_t size) noexcept {
  // Aligned to its own size (a power of two: the arena size), so that an
  // arena fills one chunk of the ownership map and all 64 of its pools are
  // usable: map twice the size and give back the unaligned ends.
  if ((size & (size - 1)) != 0) {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }
  void* mapped = mmap(nullptr, 2 * size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<std::uintptr_t>(mapped);
  const std::uintptr_t aligned = (start + size - 1) & ~(size - 1);
  if (aligned > start) munmap(mapped, aligned - start);
  const std::uintptr_t tail = aligned + size;
  const std::uintptr_t end = start + 2 * size;
  if (end > tail) munmap(reinterpret_cast<void*>(tail), end - tail);
  return reinterpret_cast<void*>(aligned);
}

void MmapArenaFree(void*, void* ptr, std::size_t size) noexcept {
  if (ptr != nullptr) munmap(ptr, size);
}

ArenaAllocator GetArenaAllocator() noexcept {
  sync::MutexLock lock(&arena_allocator_mu);
  return installed;
}

absl::Status SetArenaAllocator(const ArenaAllocator& allocator) {
  if (allocator.alloc == nullptr || allocator.free == nullptr) {
    return absl::InvalidArgumentError(
        "set arena allocator refused: alloc and free must both be set");
  }
  sync::MutexLock lock(&arena_allocator_mu);
  installed = allocator;
  return absl::OkStatus();
}

}  // namespace interpheap::alloc
