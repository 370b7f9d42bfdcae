// pool_errors: one deliberate memory error inside a pymalloc pool, chosen
// by argv[1], for valgrind_test.sh to check that memcheck reports it:
//   clean     no error at all
//   uaf       read of a freed block
//   overflow  write one byte past a 20-byte block (its class holds 32)
//   leak      a block that is never freed and no longer referenced

#include <cstdio>
#include <cstring>
#include <string>

#include "alloc/domain.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"

namespace {

using interpheap::alloc::Domain;
using interpheap::interp::Runtime;
using interpheap::interp::ThreadState;

__attribute__((noinline)) unsigned char* AllocateForTest(std::size_t n) {
  return static_cast<unsigned char*>(
      interpheap::alloc::Malloc(Domain::kObj, n));
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "clean";
  Runtime& runtime = Runtime::Get();
  interpheap::interp::RuntimeConfig config;
  config.allocator = "pymalloc";
  config.use_environment = false;
  if (!runtime.PreInitialize(config).ok() || !runtime.Initialize().ok() ||
      !ThreadState::Attach(runtime.main_interpreter()).ok()) {
    std::fprintf(stderr, "pool_errors: set-up failed\n");
    return 2;
  }
  unsigned char* keep = AllocateForTest(32);  // keeps the pool in use
  int sink = 0;
  if (mode == "uaf") {
    unsigned char* p = AllocateForTest(32);
    std::memset(p, 1, 32);
    interpheap::alloc::Free(Domain::kObj, p);
    sink = static_cast<const volatile unsigned char*>(p)[8];
  } else if (mode == "overflow") {
    unsigned char* p = AllocateForTest(20);
    static_cast<volatile unsigned char*>(p)[20] = 7;
    interpheap::alloc::Free(Domain::kObj, p);
  } else if (mode == "leak") {
    unsigned char* p = AllocateForTest(48);
    std::memset(p, 2, 48);
    p = nullptr;  // the only reference is gone
  } else if (mode != "clean") {
    std::fprintf(stderr, "pool_errors: unknown mode %s\n", mode.c_str());
    return 2;
  }
  interpheap::alloc::Free(Domain::kObj, keep);
  std::printf("pool_errors: %s done (%d)\n", mode.c_str(), sink);
  // The runtime is left running: finalizing would release the leaked
  // block's arena and hide the leak from memcheck.
  return 0;
}
