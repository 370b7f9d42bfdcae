// bench/bench_jemalloc.cc: the side-by-side benchmarks' jemalloc peer.
// Linking Debian's libjemalloc replaces malloc for the whole process, so the
// workload calls plain malloc/free/realloc; main checks the replacement
// through jemalloc's per-thread allocation counter.

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "bench/bench_workloads.h"

extern "C" int mallctl(const char* name, void* oldp, std::size_t* oldlenp,
                       void* newp, std::size_t newlen);

namespace {

// Keeps the probe's malloc/free pair from being elided by the compiler.
void* volatile probe_sink;

std::uint64_t ThreadAllocated() {
  std::uint64_t value = 0;
  std::size_t len = sizeof(value);
  if (mallctl("thread.allocated", &value, &len, nullptr, 0) != 0) return 0;
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t before = ThreadAllocated();
  void* probe = std::malloc(4096);
  probe_sink = probe;
  const std::uint64_t after = ThreadAllocated();
  std::free(probe);
  if (after < before + 4096) {
    std::fprintf(stderr, "bench_jemalloc: malloc is not jemalloc's\n");
    return 2;
  }
  interpheap::bench::BenchAllocator allocator;
  allocator.name = "jemalloc";
  allocator.malloc = std::malloc;
  allocator.free = std::free;
  allocator.realloc = std::realloc;
  allocator.threading = "thread caches over shared arenas";
  return interpheap::bench::BenchMain(argc, argv, &allocator, {});
}
