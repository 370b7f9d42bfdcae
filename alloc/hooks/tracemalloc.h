// alloc/hooks/tracemalloc.h: tracing allocations to their native call stacks.
//
// While tracing, hooks on the raw, mem and obj domains record every
// allocation (pointer, size, the interpreter that made it, and up to
// kMaxFrames return addresses from absl::GetStackTrace) in trace domain 0,
// as CPython's tracemalloc does for Python frames. Only the outermost call
// of a thread records, so a pymalloc fallback to raw is traced once. Other
// trace domains (any unsigned value) are for Track/Untrack, CPython's
// PyTraceMalloc_Track API.
//
// The tables live in memory mapped straight from the OS: tracing never
// allocates from the domains it traces. Starting and stopping go through
// Runtime (interp/runtime.h), which wraps and unwraps the hooks under the
// lifecycle rules.

#ifndef INTERPHEAP_ALLOC_HOOKS_TRACEMALLOC_H_
#define INTERPHEAP_ALLOC_HOOKS_TRACEMALLOC_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "alloc/allocator.h"
#include "alloc/allocator_table.h"

namespace interpheap::alloc {

inline constexpr unsigned kTraceDefaultDomain = 0;
// Native frames kept per traceback (deeper stacks are truncated).
inline constexpr int kMaxFrames = 64;

// CPython's ValueError text for a bad frame limit.
absl::Status CheckFrameLimit(int nframe);

// The tracing hook of `domain` and the storage for what it wraps.
ih_allocator_t TracemallocHook(Domain domain);
HookLink* TracemallocHookLink(Domain domain);

// Recording on/off (Runtime calls these after wrapping / before
// unwrapping). Stopping clears every trace.
void BeginTracing(int nframe);
void EndTracing();
bool IsTracing();

// The `nframe` of the last start (1 before any, as CPython's
// tracemalloc.get_traceback_limit()). Tracebacks keep at most
// min(limit, kMaxFrames) frames.
int TracebackLimit();

// CPython's tracemalloc.get_traced_memory(): the sizes of every trace (all
// trace domains, Track()ed ones included) and their peak since tracing
// started or the last ResetPeak() / ClearTraces(); both 0 when not tracing.
struct TracedMemory {
  std::size_t current = 0;
  std::size_t peak = 0;
};
TracedMemory GetTracedMemory();
// tracemalloc.reset_peak(): the peak becomes the current size. Nothing
// when not tracing.
void ResetPeak();
// tracemalloc.clear_traces(): forgets every trace (both sizes go to 0) and
// keeps tracing. Nothing when not tracing.
void ClearTraces();

// CPython's PyTraceMalloc_Track: 0 on success, -1 if the trace cannot be
// stored, -2 if not tracing. An existing (domain, ptr) trace is replaced
// (new size, traceback captured now).
int Track(unsigned domain, std::uintptr_t ptr, std::size_t size);
// PyTraceMalloc_Untrack: -2 if not tracing, else 0 (also for an unknown
// pointer).
int Untrack(unsigned domain, std::uintptr_t ptr);

struct TraceInfo {
  std::size_t size = 0;
  std::int64_t interpreter = -1;  // the heap owner's id, -1 if none
  std::vector<void*> frames;      // most recent call first
};
// The trace of (domain, ptr), if any.
bool GetTrace(unsigned domain, std::uintptr_t ptr, TraceInfo* info);

// Sum of sizes and number of traces in `domain`.
std::size_t TracedBytes(unsigned domain);
std::size_t TraceCount(unsigned domain);

// Snapshot statistics: allocation sites (identical tracebacks, CPython's
// "traceback" key) in trace domain 0, largest first by bytes or by count.
struct SiteStats {
  std::vector<void*> frames;
  std::size_t bytes = 0;
  std::size_t count = 0;
};
std::vector<SiteStats> TopSites(bool by_bytes, std::size_t limit);

// "symbol" for a return address (or "0x..." when it has none). Does not
// allocate.
void SymbolizeFrame(void* pc, char* out, std::size_t size);

// The tracemalloc part of a debug dump (CPython's _PyMem_DumpTraceback):
// the block's traceback when traced, the "Enable tracemalloc" line when not
// tracing, nothing when tracing but untraced. Does not allocate.
void WriteTracebackSection(int fd, const void* p);

// Lists every traced mem/obj block made by interpreter `interpreter`'s heap
// (size and traceback) to `fd`; returns the number listed. Used when an
// interpreter is destroyed with live blocks.
std::size_t WriteLeakReport(int fd, std::int64_t interpreter);

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_HOOKS_TRACEMALLOC_H_
