// bench/bench_glibc.cc: the side-by-side benchmarks' glibc peer: the C
// library's malloc, free and realloc (bench_workloads.h runs the workload).
//
//   bazel-bin/bench/bench_glibc --workload=churn --ops=1000000 --json

#include <cstdlib>

#include "bench/bench_workloads.h"

int main(int argc, char** argv) {
  interpheap::bench::BenchAllocator allocator;
  allocator.name = "glibc";
  allocator.malloc = std::malloc;
  allocator.free = std::free;
  allocator.realloc = std::realloc;
  allocator.threading = "per-thread arenas and tcache";
  return interpheap::bench::BenchMain(argc, argv, &allocator, {});
}
