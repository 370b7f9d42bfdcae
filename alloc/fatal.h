// alloc/fatal.h: fatal errors that must not allocate.
//
// An allocator that finds misuse (a mem/obj call by an unattached thread, a
// corrupted block) cannot report it through anything that might allocate.
// FatalError writes "interpheap: fatal error: <function>: <message>" to
// stderr with write(2) and aborts.

#ifndef INTERPHEAP_ALLOC_FATAL_H_
#define INTERPHEAP_ALLOC_FATAL_H_

namespace interpheap::alloc {

[[noreturn]] void FatalError(const char* function, const char* message);

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_FATAL_H_
