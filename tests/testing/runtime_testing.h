// tests/testing/runtime_testing.h: bringing the process runtime to a known
// state between tests (the runtime is a process singleton).

#ifndef INTERPHEAP_TESTS_TESTING_RUNTIME_TESTING_H_
#define INTERPHEAP_TESTS_TESTING_RUNTIME_TESTING_H_

#include <string>

#include "interp/runtime.h"

namespace interpheap::testing {

// Detaches the calling thread, destroys every interpreter but main,
// finalizes and resets: the runtime ends kUninitialized with default
// allocators. Fails the test (ADD_FAILURE) if a step is refused.
void ResetRuntime();

// ResetRuntime(), then pre-initializes with `allocator` (a named
// configuration; the environment is ignored) and initializes.
void InitializeRuntime(const std::string& allocator = "default");

}  // namespace interpheap::testing

#endif  // INTERPHEAP_TESTS_TESTING_RUNTIME_TESTING_H_
