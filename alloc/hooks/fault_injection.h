// alloc/hooks/fault_injection.h: making allocations fail on purpose, for tests
// (CPython's _testcapi.set_nomemory).
//
// While installed, a hook on each domain counts malloc, calloc and realloc
// calls in all three domains together; calls whose count is in
// (start, stop] return nullptr without reaching the allocator (stop == 0:
// no end). Free never fails. Runtime::SetNoMemory / RemoveNoMemory wrap and
// unwrap the hooks under the lifecycle rules; removing is idempotent.

#ifndef INTERPHEAP_ALLOC_HOOKS_FAULT_INJECTION_H_
#define INTERPHEAP_ALLOC_HOOKS_FAULT_INJECTION_H_

#include <cstdint>

#include "alloc/allocator.h"
#include "alloc/allocator_table.h"

namespace interpheap::alloc {

ih_allocator_t NoMemoryHook(Domain domain);
HookLink* NoMemoryHookLink(Domain domain);

// Resets the call count and sets the failing window (start, stop].
void SetNoMemoryWindow(std::int64_t start, std::int64_t stop);

// Allocation calls counted since the window was set (they stay readable
// after the hooks are removed, until the next SetNoMemoryWindow).
std::int64_t NoMemoryCallCount();
// Of those, the calls that were made to fail.
std::int64_t NoMemoryFailureCount();

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_HOOKS_FAULT_INJECTION_H_
