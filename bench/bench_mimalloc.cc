// bench/bench_mimalloc.cc: the side-by-side benchmarks' mimalloc peer.
// Linking Debian's libmimalloc replaces malloc for the whole process, so the
// workload calls plain malloc/free/realloc; main checks the replacement.

#include <cstdio>
#include <cstdlib>

#include "bench/bench_workloads.h"
#include "mimalloc.h"

int main(int argc, char** argv) {
  // Written first: gcc warns that mi_is_in_heap_region reads the block.
  void* probe = std::calloc(1, 16);
  if (!mi_is_in_heap_region(probe)) {
    std::fprintf(stderr, "bench_mimalloc: malloc is not mimalloc's\n");
    return 2;
  }
  std::free(probe);
  interpheap::bench::BenchAllocator allocator;
  allocator.name = "mimalloc";
  allocator.malloc = std::malloc;
  allocator.free = std::free;
  allocator.realloc = std::realloc;
  allocator.threading = "thread-local heaps";
  return interpheap::bench::BenchMain(argc, argv, &allocator, {});
}
