// bench/bench_mimalloc.cc: the side-by-side benchmarks' mimalloc peer.
// Linking Debian's libmimalloc replaces malloc for the whole process, so the
// workload calls plain malloc/free/realloc; main checks the replacement.

#include <cstdlib>

#include "bench/bench_workloads.h"
#include "mimalloc.h"

namespace {

bool Replaced() {
  // Written first: gcc warns that mi_is_in_heap_region reads the block.
  void* probe = std::calloc(1, 16);
  const bool ours = mi_is_in_heap_region(probe);
  std::free(probe);
  return ours;
}

}  // namespace

int main(int argc, char** argv) {
  return interpheap::bench::MallocPeerMain(argc, argv, "mimalloc",
                                           "thread-local heaps", Replaced);
}
