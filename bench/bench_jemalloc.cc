// bench/bench_jemalloc.cc: the side-by-side benchmarks' jemalloc peer.
// Linking Debian's libjemalloc replaces malloc for the whole process, so the
// workload calls plain malloc/free/realloc; main checks the replacement
// through jemalloc's per-thread allocation counter.

#include <cstddef>
#include <cstdint>

#include "bench/bench_workloads.h"

extern "C" int mallctl(const char* name, void* oldp, std::size_t* oldlenp,
                       void* newp, std::size_t newlen);

namespace {

std::uint64_t ThreadAllocated() {
  std::uint64_t value = 0;
  std::size_t len = sizeof(value);
  if (mallctl("thread.allocated", &value, &len, nullptr, 0) != 0) return 0;
  return value;
}

bool Replaced() {
  return interpheap::bench::CounterSeesMalloc(4096, ThreadAllocated);
}

}  // namespace

int main(int argc, char** argv) {
  return interpheap::bench::MallocPeerMain(
      argc, argv, "jemalloc", "thread caches over shared arenas", Replaced);
}
