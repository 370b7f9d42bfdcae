// tests/testing/runtime_testing.h: bringing the process runtime to a known
// state between tests (the runtime is a process singleton).

#ifndef INTERPHEAP_TESTS_TESTING_RUNTIME_TESTING_H_
#define INTERPHEAP_TESTS_TESTING_RUNTIME_TESTING_H_

#include <string>

#include "alloc/allocator.h"
#include "interp/runtime.h"

namespace interpheap::testing {

// Detaches the calling thread, destroys every interpreter but main,
// finalizes and resets: the runtime ends kUninitialized with default
// allocators. Fails the test (ADD_FAILURE) if a step is refused.
void ResetRuntime();

// ResetRuntime(), then pre-initializes with `allocator` (a named
// configuration; the environment is ignored) and initializes.
void InitializeRuntime(const std::string& allocator = "default");

// The same with `arena_allocator` installed in the replace window.
void InitializeRuntimeWithArenas(const std::string& allocator,
                                 const ih_arena_allocator_t& arena_allocator);

}  // namespace interpheap::testing

#endif  // INTERPHEAP_TESTS_TESTING_RUNTIME_TESTING_H_
