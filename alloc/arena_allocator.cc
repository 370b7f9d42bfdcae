#include "alloc/arena_allocator.h"

#include <sys/mman.h>

#include "absl/base/const_init.h"
#include "sync/mutex.h"
#include "sync/mutex_lock.h"

namespace interpheap::alloc {
namespace {

ABSL_CONST_INIT sync::Mutex arena_allocator_mu(absl::kConstInit);
ABSL_CONST_INIT ArenaAllocator installed ABSL_GUARDED_BY(arena_allocator_mu) =
    kMmapArenaAllocator;

}  // namespace

void* MmapArenaAlloc(void*, std::size_t size) noexcept {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
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
