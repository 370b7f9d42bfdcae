// bench/bench_tcmalloc.cc: the side-by-side benchmarks' tcmalloc peer
// (gperftools' tcmalloc_minimal). Linking it replaces malloc for the whole
// process, so the workload calls plain malloc/free/realloc; main checks the
// replacement through tcmalloc's allocated-bytes property.

#include <cstdio>
#include <cstdlib>

#include "bench/bench_workloads.h"
#include "gperftools/malloc_extension_c.h"

namespace {

// Keeps the probe's malloc/free pair from being elided by the compiler.
void* volatile probe_sink;

std::size_t AllocatedBytes() {
  std::size_t value = 0;
  if (!MallocExtension_GetNumericProperty("generic.current_allocated_bytes",
                                          &value)) {
    return 0;
  }
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t before = AllocatedBytes();
  void* probe = std::malloc(1 << 20);
  probe_sink = probe;
  const std::size_t after = AllocatedBytes();
  std::free(probe);
  if (after < before + (1 << 20)) {
    std::fprintf(stderr, "bench_tcmalloc: malloc is not tcmalloc's\n");
    return 2;
  }
  interpheap::bench::BenchAllocator allocator;
  allocator.name = "tcmalloc";
  allocator.malloc = std::malloc;
  allocator.free = std::free;
  allocator.realloc = std::realloc;
  allocator.threading = "per-thread caches";
  return interpheap::bench::BenchMain(argc, argv, &allocator, {});
}
