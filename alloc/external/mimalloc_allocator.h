// alloc/external/mimalloc_allocator.h: the mem and obj domains on Debian's
// mimalloc 2.x (the `mimalloc` named configuration).
//
// mimalloc 2.x heaps belong to the thread that made them (allocation must
// happen on that thread; mi_free works from any thread), so "a mimalloc
// heap per interpreter" is one heap per (interpreter heap, thread) pair,
// kept in a small per-thread cache and deleted (its live blocks handed to
// the thread's backing heap, where they stay valid) when evicted or when the
// thread exits.
//
// libmimalloc.so.2 replaces malloc for the whole process when linked, so it
// is loaded with dlopen(RTLD_LOCAL) only when the configuration is applied:
// the C library stays the raw domain's allocator, and programs that never
// choose mimalloc never load it.

#ifndef INTERPHEAP_ALLOC_EXTERNAL_MIMALLOC_ALLOCATOR_H_
#define INTERPHEAP_ALLOC_EXTERNAL_MIMALLOC_ALLOCATOR_H_

#include "absl/status/status.h"
#include "alloc/allocator.h"

namespace interpheap::alloc {

// Loads libmimalloc.so.2 once. FailedPrecondition naming the library and
// the Debian package when it cannot be loaded.
absl::Status LoadMimalloc();

// The allocator of the mem and obj domains under `mimalloc`. Requires
// LoadMimalloc() to have succeeded and the calling thread to be attached.
extern const ih_allocator_t kMimallocAllocator;

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_EXTERNAL_MIMALLOC_ALLOCATOR_H_
