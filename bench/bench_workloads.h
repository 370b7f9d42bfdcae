// bench/bench_workloads.h: the side-by-side allocator benchmarks' workloads,
// written once against a small allocator interface (`BenchAllocator`) so that
// glibc, mimalloc, jemalloc, tcmalloc, CPython's obmalloc and interpheap run
// exactly the same code. Each allocator has its own `main` (bench_*.cc)
// that fills a BenchAllocator and calls `BenchMain` (or, for a peer that is
// the process's malloc, calls `MallocPeerMain`); the runner
// (bench/run_benchmarks.py) runs them in separate processes.
//
// An "op" is one block allocation (malloc, or realloc for realloc_grow) and,
// eventually, the free of that block. Every block carries a tag in its first
// and last 8 bytes, checked before it is freed or reallocated.

#ifndef INTERPHEAP_BENCH_BENCH_WORKLOADS_H_
#define INTERPHEAP_BENCH_BENCH_WORKLOADS_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace interpheap::bench {

// The allocator under test. Plain function pointers, the same indirection for
// every peer. Threads: every workload runs on `threads` worker threads (1 for
// the single-thread workloads); worker `index` calls `thread_begin(index)`
// before its first op and `thread_end(index)` after its last, and brackets
// each batch of ops with `enter()` / `leave()` (CPython takes and releases
// its GIL there; nullptr hooks are skipped).
struct BenchAllocator {
  const char* name = "";
  void* (*malloc)(std::size_t) = nullptr;
  void (*free)(void*) = nullptr;
  void* (*realloc)(void*, std::size_t) = nullptr;
  void (*thread_begin)(int index) = nullptr;
  void (*thread_end)(int index) = nullptr;
  void (*enter)() = nullptr;
  void (*leave)() = nullptr;
  // Printed in the JSON, e.g. "serialized by the GIL".
  const char* threading = "";
};

struct WorkloadOptions {
  std::string workload;
  std::int64_t ops = 0;  // 0: the workload's set-up and tear-down only.
  int threads = 1;
  std::uint64_t seed = 42;
};

struct WorkloadResult {
  std::int64_t ops = 0;
  double seconds = 0;
  bool verified = true;
  std::int64_t bad_blocks = 0;
};

// Names of the workloads, for --help and for validation.
const char* const* WorkloadNames();  // nullptr-terminated

// Threads a workload needs: prodcons is always 2; the others take
// `requested` (only "threads" accepts more than 1).
int WorkloadThreads(const std::string& workload, int requested);

// Runs one workload; InvalidArgument-style failures are reported as false.
bool RunWorkload(const BenchAllocator& allocator,
                 const WorkloadOptions& options, WorkloadResult* result,
                 std::string* error);

// Process memory, in KiB: peak resident (/proc/self/status VmHWM) and
// current resident (/proc/self/statm).
std::int64_t PeakRssKib();
std::int64_t CurrentRssKib();

// Flags and output shared by every bench_* binary. `setup(threads)` is
// called once after flag parsing (before any workload thread starts) and
// `teardown()` after the workload, once RSS is measured. `config` is the
// value of --malloc (an allocator configuration name, "" when the binary
// takes none); `setup` returns false with a message to refuse a
// combination. Returns the process exit status: 0, 1 on failed
// verification, 2 on bad flags (unknown, or a malformed or out-of-range
// value, with a message naming it).
struct BenchHooks {
  bool (*setup)(const std::string& config, int threads,
                const std::string& workload, std::string* error) = nullptr;
  void (*teardown)() = nullptr;
};
int BenchMain(int argc, char** argv, BenchAllocator* allocator,
              const BenchHooks& hooks);

// BenchMain for a peer that is the process's malloc (glibc's, or a
// replacement linked in): the workload calls std::malloc/free/realloc.
// `replaced` (nullptr: none) checks first that the replacement took;
// when it did not, prints "bench_<name>: malloc is not <name>'s" and
// returns 2.
int MallocPeerMain(int argc, char** argv, const char* name,
                   const char* threading, bool (*replaced)());

// True when `counter` (an allocator's allocated-bytes statistic) grows by at
// least `bytes` across a std::malloc(bytes): malloc is that allocator's.
bool CounterSeesMalloc(std::size_t bytes, std::uint64_t (*counter)());

}  // namespace interpheap::bench

#endif  // INTERPHEAP_BENCH_BENCH_WORKLOADS_H_
