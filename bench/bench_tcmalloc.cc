// bench/bench_tcmalloc.cc: the side-by-side benchmarks' tcmalloc peer
// (gperftools' tcmalloc_minimal). Linking it replaces malloc for the whole
// process, so the workload calls plain malloc/free/realloc; main checks the
// replacement through tcmalloc's allocated-bytes property.

#include <cstddef>
#include <cstdint>

#include "bench/bench_workloads.h"
#include "gperftools/malloc_extension_c.h"

namespace {

std::uint64_t AllocatedBytes() {
  std::size_t value = 0;
  if (!MallocExtension_GetNumericProperty("generic.current_allocated_bytes",
                                          &value)) {
    return 0;
  }
  return value;
}

bool Replaced() {
  return interpheap::bench::CounterSeesMalloc(1 << 20, AllocatedBytes);
}

}  // namespace

int main(int argc, char** argv) {
  return interpheap::bench::MallocPeerMain(argc, argv, "tcmalloc",
                                           "per-thread caches", Replaced);
}
