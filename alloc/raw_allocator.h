// alloc/raw_allocator.h: the C library allocator in the ih_allocator_t shape.
//
// The default allocator of the raw domain (and, until a named configuration
// says otherwise, of mem and obj). It maps CPython's zero-size rules onto
// malloc: malloc(0) becomes malloc(1), calloc with a zero argument becomes
// calloc(1, 1), realloc(p, 0) becomes realloc(p, 1), so every zero-size
// request returns a distinct non-NULL block.

#ifndef INTERPHEAP_ALLOC_RAW_ALLOCATOR_H_
#define INTERPHEAP_ALLOC_RAW_ALLOCATOR_H_

#include <cstddef>

#include "alloc/allocator.h"

namespace interpheap::alloc {

void* LibcMalloc(void* ctx, std::size_t size) noexcept;
void* LibcCalloc(void* ctx, std::size_t nelem, std::size_t elsize) noexcept;
void* LibcRealloc(void* ctx, void* ptr, std::size_t new_size) noexcept;
void LibcFree(void* ctx, void* ptr) noexcept;

// The C library allocator; ctx is unused (nullptr).
inline constexpr ih_allocator_t kLibcAllocator = {
    nullptr, LibcMalloc, LibcCalloc, LibcRealloc, LibcFree};

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_RAW_ALLOCATOR_H_
