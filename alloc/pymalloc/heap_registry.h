// alloc/pymalloc/heap_registry.h: the live heaps, and the process-wide block
// counts summed over them.
//
// Every Heap registers itself when made and unregisters when freed (an
// orphan stays registered until its last block comes home);
// GlobalAllocatedBlocks() sums the registered heaps' counts and the raw
// counts that retired heaps left behind. The Heap itself is in
// alloc/pymalloc/pymalloc.h.

#ifndef INTERPHEAP_ALLOC_PYMALLOC_HEAP_REGISTRY_H_
#define INTERPHEAP_ALLOC_PYMALLOC_HEAP_REGISTRY_H_

#include <cstdint>

#include "absl/functional/function_ref.h"

namespace interpheap::alloc {

class Heap;

// Adds `heap` to the registry (no limit, no allocation); Heap's
// constructor calls it.
void RegisterHeap(Heap* heap);
// Removes `heap` (no-op if absent); Heap's destructor calls it.
void UnregisterHeap(Heap* heap);

// Blocks allocated and not freed, process-wide: the sum over registered
// heaps (live and orphaned) of AllocatedBlocksRelaxed(), plus the raw
// fallback counts of retired heaps. Exact when the heaps are quiescent.
std::int64_t GlobalAllocatedBlocks();
// Pool blocks of destroyed interpreters not freed yet: the blocks of the
// orphaned heaps (Heap::Retire()). Goes down as they are freed.
std::int64_t LeakedBlocks();
// Blocks handed back to their heap by threads of other heaps (remote
// frees), process-wide: the registered heaps' counts plus those of every
// heap freed so far. Only grows.
std::int64_t GlobalRemoteFrees();
// Calls `visit` for every orphaned heap (see Heap::Retire()), holding
// Heap::OrphanLock(), which is each orphan's guard and keeps it from being
// freed; the registry's lock is not held during the calls.
void ForEachOrphan(absl::FunctionRef<void(Heap&)> visit);
// Adds a retired heap's raw fallback count (signed: a raw block is counted
// by the heap that frees it) to the global count.
void AddRetiredRawBlocks(std::int64_t n);

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_PYMALLOC_HEAP_REGISTRY_H_
