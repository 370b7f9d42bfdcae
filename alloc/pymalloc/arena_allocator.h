// alloc/pymalloc/arena_allocator.h: where pymalloc's 1 MiB arenas come from.
//
// One process-wide arena allocator serves every heap: anonymous private
// mmap/munmap by default, each arena aligned to the arena size (one chunk of
// the ownership map, 64 usable pools). Other allocators may return any
// address; pymalloc handles unaligned arenas too (63 pools). It may be replaced
// only in the replace window (interp/runtime.h checks the state); arenas are
// always returned through the allocator that gave them, because each heap
// records it per arena.

#ifndef INTERPHEAP_ALLOC_PYMALLOC_ARENA_ALLOCATOR_H_
#define INTERPHEAP_ALLOC_PYMALLOC_ARENA_ALLOCATOR_H_

#include <cstddef>

#include "absl/status/status.h"
#include "alloc/allocator.h"

namespace interpheap::alloc {

using ArenaAllocator = ih_arena_allocator_t;

void* MmapArenaAlloc(void* ctx, std::size_t size) noexcept;
void MmapArenaFree(void* ctx, void* ptr, std::size_t size) noexcept;

inline constexpr ArenaAllocator kMmapArenaAllocator = {nullptr, MmapArenaAlloc,
                                                       MmapArenaFree};

// The installed arena allocator (a copy). Thread-safe.
ArenaAllocator GetArenaAllocator() noexcept;

// Installs `allocator`. InvalidArgument if a function is null. The caller
// (Runtime) checks the lifecycle state. Thread-safe.
absl::Status SetArenaAllocator(const ArenaAllocator& allocator);

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_PYMALLOC_ARENA_ALLOCATOR_H_
