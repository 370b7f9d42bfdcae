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

// The C library allocator of the mem and obj domains (the `malloc`
// configuration, and every domain after Runtime::Reset): malloc and calloc
// are kLibcAllocator's (alloc/raw_allocator.h); free and realloc first ask
// pymalloc's ownership map (one O(1) lookup) and route a pool block, made
// under an earlier configuration, to its heap instead of the C library
// (alloc/pymalloc/pymalloc.h, "Pool blocks reaching an allocator other than
// pymalloc"). A realloc of one takes a new C library block, copies, and
// frees the pool block. The raw domain keeps kLibcAllocator: it never holds
// pool blocks and pays nothing for this.
extern const ih_allocator_t kLibcMemAllocator;

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_PYMALLOC_PYMALLOC_ALLOCATOR_H_
