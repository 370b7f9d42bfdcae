// alloc/pymalloc/heap_registry.h: the live heaps, and the process-wide block
// counts summed over them.
//
// Every Heap registers itself when made and unregisters when retired or
// destroyed; GlobalAllocatedBlocks() sums the registered heaps' counts and
// the counts that retired heaps left behind. The Heap itself is in
// alloc/pymalloc/pymalloc.h.

#ifndef INTERPHEAP_ALLOC_PYMALLOC_HEAP_REGISTRY_H_
#define INTERPHEAP_ALLOC_PYMALLOC_HEAP_REGISTRY_H_

#include <cstdint>

namespace interpheap::alloc {

class Heap;

// Adds `heap` to the live heaps; Heap's constructor calls it.
void RegisterHeap(Heap* heap);
// Removes `heap` (no-op if absent); Heap::Retire() and ~Heap call it.
void UnregisterHeap(Heap* heap);

// The sum over live heaps of AllocatedBlocksRelaxed(), plus the blocks
// leaked by retired heaps and their raw fallback counts: exact when the
// heaps are quiescent.
std::int64_t GlobalAllocatedBlocks();
// Pool blocks that were live when their heap was retired (never reset).
std::int64_t LeakedBlocks();
// Adds to the global leak count (Heap::Retire()).
void AddLeakedBlocks(std::int64_t n);
// Adds a retired heap's raw fallback count (signed: a raw block is counted
// by the heap that frees it) to the global count.
void AddRetiredRawBlocks(std::int64_t n);

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_PYMALLOC_HEAP_REGISTRY_H_
