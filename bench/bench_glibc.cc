// bench/bench_glibc.cc: the side-by-side benchmarks' glibc peer: the C
// library's malloc, free and realloc (bench_workloads.h runs the workload).
//
//   bazel-bin/bench/bench_glibc --workload=churn --ops=1000000 --json

#include "bench/bench_workloads.h"

int main(int argc, char** argv) {
  return interpheap::bench::MallocPeerMain(
      argc, argv, "glibc", "per-thread arenas and tcache", nullptr);
}
