// alloc/pymalloc/pymalloc_allocator.h: pymalloc as an allocator of the mem
// and obj domains (the C entry points the allocator table calls).
//
// Each entry point works on the calling thread's current heap
// (alloc/pymalloc/pymalloc.h, CurrentHeap()), which interp's attach sets.

#ifndef INTERPHEAP_ALLOC_PYMALLOC_PYMALLOC_ALLOCATOR_H_
#define INTERPHEAP_ALLOC_PYMALLOC_PYMALLOC_ALLOCATOR_H_

#include "alloc/allocator.h"

namespace interpheap::alloc {

// The pymalloc allocator of the mem and obj domains. A call without a
// current heap (the thread is not attached) is a fatal error.
extern const ih_allocator_t kPymallocAllocator;

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_PYMALLOC_PYMALLOC_ALLOCATOR_H_
