#include "alloc/hooks/tracemalloc.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "absl/debugging/stacktrace.h"
#include "absl/status/status.h"
#include "alloc/fatal.h"
#include "alloc/hooks/forwarding_hook.h"
#include "alloc/hooks/trace_tables.h"
#include "alloc/pymalloc/pymalloc.h"
#include "sync/mutex_lock.h"

namespace interpheap::alloc {
namespace {

std::atomic<int> frame_limit{1};
ABSL_CONST_INIT thread_local bool inside_hook = false;

HookLink links[kDomainCount] = {HookLink(Domain::kRaw), HookLink(Domain::kMem),
                                HookLink(Domain::kObj)};

// Captures the stack from `caller_pc` (the return address into the code
// that called the hook or Track) outwards. Skip counts are not reliable
// across optimization levels and unwinders, so frames are captured from the
// top and everything above `caller_pc` is dropped; if the unwinder cannot
// find it, the trace keeps `caller_pc` alone.
__attribute__((noinline)) int Capture(void** frames, void* caller_pc) {
  const int limit =
      std::min(frame_limit.load(std::memory_order_relaxed), kMaxFrames);
  void* raw[kMaxFrames + 16];
  const int depth = absl::GetStackTrace(raw, limit + 16, 0);
  for (int i = 0; i < depth; ++i) {
    if (raw[i] == caller_pc) {
      const int n = std::min(depth - i, limit);
      std::memcpy(frames, raw + i, sizeof(void*) * n);
      return n;
    }
  }
  frames[0] = caller_pc;
  return 1;
}

std::int64_t CurrentInterpreterId() {
  const Heap* heap = CurrentHeap();
  return heap == nullptr ? -1 : heap->owner_id();
}

bool Record(std::uintptr_t ptr, std::size_t size, bool from_mem_or_obj,
            void* caller_pc) {
  void* frames[kMaxFrames];
  const int nframes = Capture(frames, caller_pc);
  sync::MutexLock lock(&trace_tables.mu());
  if (!tracing_enabled.load(std::memory_order_relaxed)) return true;
  return trace_tables.Put(kTraceDefaultDomain, ptr, size,
                          CurrentInterpreterId(), from_mem_or_obj, frames,
                          nframes);
}

// The serial of ptr's trace, or 0. Free and realloc remove a trace after
// the block is gone (a debug dump during the free still finds it), but only
// if it is still the same trace: another thread may have been given the
// same address and traced it in between.
std::uint64_t TraceSerial(std::uintptr_t ptr) {
  sync::MutexLock lock(&trace_tables.mu());
  const TraceEntry* entry = trace_tables.Get(kTraceDefaultDomain, ptr);
  return entry == nullptr ? 0 : entry->serial;
}

void ForgetIfSame(std::uintptr_t ptr, std::uint64_t serial) {
  if (serial == 0) return;
  sync::MutexLock lock(&trace_tables.mu());
  const TraceEntry* entry = trace_tables.Get(kTraceDefaultDomain, ptr);
  if (entry != nullptr && entry->serial == serial) {
    trace_tables.Remove(kTraceDefaultDomain, ptr);
  }
}

const HookLink& Link(void* ctx) { return *static_cast<const HookLink*>(ctx); }
bool FromMemOrObj(void* ctx) {
  return static_cast<HookLink*>(ctx) != &links[0];
}

// Records only the outermost call of a thread.
class HookScope {
 public:
  HookScope() : outermost_(!inside_hook) { inside_hook = true; }
  ~HookScope() {
    if (outermost_) inside_hook = false;
  }
  bool records() const {
    return outermost_ && tracing_enabled.load(std::memory_order_relaxed);
  }

 private:
  const bool outermost_;
};

__attribute__((noinline)) void* TraceMalloc(void* ctx, std::size_t n) {
  HookScope scope;
  void* p = LinkedMalloc(Link(ctx), n);
  if (p != nullptr && scope.records() &&
      !Record(reinterpret_cast<std::uintptr_t>(p), n, FromMemOrObj(ctx),
              __builtin_return_address(0))) {
    LinkedFree(Link(ctx), p);  // as CPython: no trace, no block
    return nullptr;
  }
  return p;
}

__attribute__((noinline)) void* TraceCalloc(void* ctx, std::size_t nelem,
                                            std::size_t elsize) {
  HookScope scope;
  void* p = LinkedCalloc(Link(ctx), nelem, elsize);
  if (p != nullptr && scope.records() &&
      !Record(reinterpret_cast<std::uintptr_t>(p), nelem * elsize,
              FromMemOrObj(ctx), __builtin_return_address(0))) {
    LinkedFree(Link(ctx), p);
    return nullptr;
  }
  return p;
}

__attribute__((noinline)) void* TraceRealloc(void* ctx, void* p,
                                             std::size_t n) {
  HookScope scope;
  const std::uint64_t old_serial =
      p != nullptr && scope.records()
          ? TraceSerial(reinterpret_cast<std::uintptr_t>(p))
          : 0;
  void* moved = LinkedRealloc(Link(ctx), p, n);
  if (moved == nullptr || !scope.records()) return moved;
  if (moved != p) ForgetIfSame(reinterpret_cast<std::uintptr_t>(p), old_serial);
  if (!Record(reinterpret_cast<std::uintptr_t>(moved), n, FromMemOrObj(ctx),
              __builtin_return_address(0))) {
    if (p == nullptr) {
      LinkedFree(Link(ctx), moved);
      return nullptr;
    }
    // The block was already resized: it cannot be given back.
    FatalError("tracemalloc_realloc", "failed to allocate a trace");
  }
  return moved;
}

__attribute__((noinline)) void TraceFree(void* ctx, void* p) {
  HookScope scope;
  const std::uint64_t serial =
      p != nullptr && scope.records()
          ? TraceSerial(reinterpret_cast<std::uintptr_t>(p))
          : 0;
  LinkedFree(Link(ctx), p);
  ForgetIfSame(reinterpret_cast<std::uintptr_t>(p), serial);
}

}  // namespace

absl::Status CheckFrameLimit(int nframe) {
  if (nframe < 1 || nframe > 65535) {
    return absl::InvalidArgumentError(
        "the number of frames must be in range [1; 65535]");
  }
  return absl::OkStatus();
}

ih_allocator_t TracemallocHook(Domain domain) {
  return {&links[static_cast<int>(domain)], TraceMalloc, TraceCalloc,
          TraceRealloc, TraceFree};
}

HookLink* TracemallocHookLink(Domain domain) {
  return &links[static_cast<int>(domain)];
}

void BeginTracing(int nframe) {
  frame_limit.store(nframe, std::memory_order_relaxed);
  sync::MutexLock lock(&trace_tables.mu());
  tracing_enabled.store(true, std::memory_order_release);
}

void EndTracing() {
  sync::MutexLock lock(&trace_tables.mu());
  tracing_enabled.store(false, std::memory_order_release);
  trace_tables.Clear();
}

bool IsTracing() { return tracing_enabled.load(std::memory_order_acquire); }

int TracebackLimit() { return frame_limit.load(std::memory_order_relaxed); }

TracedMemory GetTracedMemory() {
  sync::MutexLock lock(&trace_tables.mu());
  return {trace_tables.traced_bytes(), trace_tables.peak_bytes()};
}

void ResetPeak() {
  sync::MutexLock lock(&trace_tables.mu());
  if (tracing_enabled.load(std::memory_order_relaxed)) trace_tables.ResetPeak();
}

void ClearTraces() {
  sync::MutexLock lock(&trace_tables.mu());
  if (tracing_enabled.load(std::memory_order_relaxed)) trace_tables.Clear();
}

__attribute__((noinline)) int Track(unsigned domain, std::uintptr_t ptr,
                                    std::size_t size) {
  void* frames[kMaxFrames];
  const int nframes = Capture(frames, __builtin_return_address(0));
  sync::MutexLock lock(&trace_tables.mu());
  if (!tracing_enabled.load(std::memory_order_relaxed)) return -2;
  return trace_tables.Put(domain, ptr, size, CurrentInterpreterId(), false,
                          frames, nframes)
             ? 0
             : -1;
}

int Untrack(unsigned domain, std::uintptr_t ptr) {
  sync::MutexLock lock(&trace_tables.mu());
  if (!tracing_enabled.load(std::memory_order_relaxed)) return -2;
  trace_tables.Remove(domain, ptr);
  return 0;
}

bool GetTrace(unsigned domain, std::uintptr_t ptr, TraceInfo* info) {
  sync::MutexLock lock(&trace_tables.mu());
  const TraceEntry* entry = trace_tables.Get(domain, ptr);
  if (entry == nullptr) return false;
  info->size = entry->size;
  info->interpreter = entry->interpreter;
  std::uint32_t nframes = 0;
  void* const* frames = trace_tables.FramesOf(entry->traceback, &nframes);
  info->frames.assign(frames, frames + nframes);
  return true;
}

std::size_t TracedBytes(unsigned domain) {
  std::size_t total = 0;
  sync::MutexLock lock(&trace_tables.mu());
  trace_tables.ForEach([&](const TraceEntry& e) {
    if (e.domain == domain) total += e.size;
  });
  return total;
}

std::size_t TraceCount(unsigned domain) {
  std::size_t count = 0;
  sync::MutexLock lock(&trace_tables.mu());
  trace_tables.ForEach([&](const TraceEntry& e) {
    if (e.domain == domain) ++count;
  });
  return count;
}

}  // namespace interpheap::alloc
