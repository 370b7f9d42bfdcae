#include "alloc/hooks/tracemalloc.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "absl/base/const_init.h"
#include "absl/debugging/stacktrace.h"
#include "absl/debugging/symbolize.h"
#include "absl/status/status.h"
#include "alloc/fatal.h"
#include "alloc/pymalloc/pymalloc.h"
#include "sync/mutex.h"
#include "sync/mutex_lock.h"

namespace interpheap::alloc {
namespace {

// A growable array in memory mapped from the OS (zero-filled).
template <typename T>
class MappedArray {
 public:
  T* data() const { return data_; }
  std::size_t capacity() const { return capacity_; }
  T& operator[](std::size_t i) const { return data_[i]; }

  // Grows to at least `n` elements, keeping the contents. False on failure.
  bool Reserve(std::size_t n) {
    if (n <= capacity_) return true;
    std::size_t capacity = capacity_ == 0 ? 1024 : capacity_;
    while (capacity < n) capacity *= 2;
    void* memory = mmap(nullptr, capacity * sizeof(T), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) return false;
    if (data_ != nullptr) {
      std::memcpy(memory, data_, capacity_ * sizeof(T));
      munmap(data_, capacity_ * sizeof(T));
    }
    data_ = static_cast<T*>(memory);
    capacity_ = capacity;
    return true;
  }

  // A fresh zeroed array of exactly `n` (a power of two) elements.
  bool ResetTo(std::size_t n) {
    Release();
    return Reserve(n);
  }

  void Release() {
    if (data_ != nullptr) munmap(data_, capacity_ * sizeof(T));
    data_ = nullptr;
    capacity_ = 0;
  }

 private:
  T* data_ = nullptr;
  std::size_t capacity_ = 0;
};

enum class Slot : std::uint32_t { kEmpty = 0, kUsed = 1, kDeleted = 2 };

struct TraceEntry {
  std::uintptr_t ptr;
  std::uint32_t domain;
  Slot slot;
  std::size_t size;
  std::int64_t interpreter;
  std::uint32_t traceback;
  std::uint32_t from_mem_or_obj;  // 1 if recorded by a mem/obj hook
  std::uint64_t serial;           // unique per Put, never 0
};

struct Traceback {
  std::uint64_t hash;
  std::uint32_t offset;  // into frames_
  std::uint32_t nframes;
};

std::uint64_t Mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// All trace state, guarded by one lock. Thread-safe.
class TraceTables {
 public:
  constexpr TraceTables() : mu_(absl::kConstInit) {}

  sync::Mutex& mu() ABSL_LOCK_RETURNED(mu_) { return mu_; }

  // Stores or replaces (domain, ptr). False when memory ran out.
  bool Put(unsigned domain, std::uintptr_t ptr, std::size_t size,
           std::int64_t interpreter, bool from_mem_or_obj, void* const* frames,
           int nframes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::uint32_t traceback = 0;
    if (!InternTraceback(frames, nframes, &traceback)) return false;
    if ((used_ + deleted_ + 1) * 2 > traces_.capacity() && !Rehash()) {
      return false;
    }
    TraceEntry* entry = Find(domain, ptr, /*for_insert=*/true);
    if (entry->slot != Slot::kUsed) {
      if (entry->slot == Slot::kDeleted) --deleted_;
      ++used_;
    }
    entry->ptr = ptr;
    entry->domain = domain;
    entry->slot = Slot::kUsed;
    entry->size = size;
    entry->interpreter = interpreter;
    entry->traceback = traceback;
    entry->from_mem_or_obj = from_mem_or_obj ? 1 : 0;
    entry->serial = ++last_serial_;
    return true;
  }

  void Remove(unsigned domain, std::uintptr_t ptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (traces_.capacity() == 0) return;
    TraceEntry* entry = Find(domain, ptr, /*for_insert=*/false);
    if (entry == nullptr || entry->slot != Slot::kUsed) return;
    entry->slot = Slot::kDeleted;
    --used_;
    ++deleted_;
  }

  const TraceEntry* Get(unsigned domain, std::uintptr_t ptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (traces_.capacity() == 0) return nullptr;
    const TraceEntry* entry = Find(domain, ptr, /*for_insert=*/false);
    return entry != nullptr && entry->slot == Slot::kUsed ? entry : nullptr;
  }

  void* const* FramesOf(std::uint32_t traceback, std::uint32_t* nframes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const Traceback& tb = tracebacks_[traceback];
    *nframes = tb.nframes;
    return &frames_[tb.offset];
  }

  template <typename Visit>
  void ForEach(Visit visit) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (std::size_t i = 0; i < traces_.capacity(); ++i) {
      if (traces_[i].slot == Slot::kUsed) visit(traces_[i]);
    }
  }

  void Clear() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    traces_.Release();
    tracebacks_.Release();
    frames_.Release();
    intern_.Release();
    used_ = deleted_ = tracebacks_used_ = frames_used_ = 0;
  }

 private:
  TraceEntry* Find(unsigned domain, std::uintptr_t ptr, bool for_insert)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::size_t mask = traces_.capacity() - 1;
    std::size_t i = Mix(ptr ^ (std::uint64_t{domain} << 48)) & mask;
    TraceEntry* first_deleted = nullptr;
    for (;;) {
      TraceEntry& entry = traces_[i];
      if (entry.slot == Slot::kEmpty) {
        if (!for_insert) return nullptr;
        return first_deleted != nullptr ? first_deleted : &entry;
      }
      if (entry.slot == Slot::kDeleted) {
        if (first_deleted == nullptr) first_deleted = &entry;
      } else if (entry.ptr == ptr && entry.domain == domain) {
        return &entry;
      }
      i = (i + 1) & mask;
    }
  }

  bool Rehash() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    MappedArray<TraceEntry> old = traces_;
    const std::size_t capacity = std::max<std::size_t>(1024, (used_ + 1) * 4);
    std::size_t pow2 = 1;
    while (pow2 < capacity) pow2 *= 2;
    MappedArray<TraceEntry> fresh;
    if (!fresh.ResetTo(pow2)) return false;
    traces_ = fresh;
    deleted_ = 0;
    for (std::size_t i = 0; i < old.capacity(); ++i) {
      if (old[i].slot != Slot::kUsed) continue;
      *Find(old[i].domain, old[i].ptr, true) = old[i];
    }
    old.Release();
    return true;
  }

  bool InternTraceback(void* const* frames, int nframes, std::uint32_t* index)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::uint64_t hash = 0x9E3779B97F4A7C15ULL ^ static_cast<unsigned>(nframes);
    for (int i = 0; i < nframes; ++i) {
      hash = Mix(hash ^ reinterpret_cast<std::uintptr_t>(frames[i]));
    }
    if ((tracebacks_used_ + 1) * 2 > intern_.capacity()) {
      // Rebuild the intern index at twice the size.
      const std::size_t capacity =
          std::max<std::size_t>(1024, intern_.capacity() * 2);
      MappedArray<std::uint32_t> fresh;
      if (!fresh.ResetTo(capacity)) return false;
      intern_.Release();
      intern_ = fresh;
      for (std::uint32_t t = 0; t < tracebacks_used_; ++t) {
        std::size_t i = tracebacks_[t].hash & (intern_.capacity() - 1);
        while (intern_[i] != 0) i = (i + 1) & (intern_.capacity() - 1);
        intern_[i] = t + 1;
      }
    }
    const std::size_t mask = intern_.capacity() - 1;
    std::size_t i = hash & mask;
    for (; intern_[i] != 0; i = (i + 1) & mask) {
      const Traceback& tb = tracebacks_[intern_[i] - 1];
      if (tb.hash == hash &&
          tb.nframes == static_cast<std::uint32_t>(nframes) &&
          std::memcmp(&frames_[tb.offset], frames, sizeof(void*) * nframes) ==
              0) {
        *index = intern_[i] - 1;
        return true;
      }
    }
    if (!tracebacks_.Reserve(tracebacks_used_ + 1) ||
        !frames_.Reserve(frames_used_ + nframes)) {
      return false;
    }
    tracebacks_[tracebacks_used_] =
        Traceback{hash, static_cast<std::uint32_t>(frames_used_),
                  static_cast<std::uint32_t>(nframes)};
    std::memcpy(&frames_[frames_used_], frames, sizeof(void*) * nframes);
    frames_used_ += nframes;
    *index = tracebacks_used_;
    intern_[i] = ++tracebacks_used_;
    return true;
  }

  sync::Mutex mu_;
  MappedArray<TraceEntry> traces_ ABSL_GUARDED_BY(mu_);
  std::size_t used_ ABSL_GUARDED_BY(mu_) = 0;
  std::size_t deleted_ ABSL_GUARDED_BY(mu_) = 0;
  std::uint64_t last_serial_ ABSL_GUARDED_BY(mu_) = 0;
  MappedArray<Traceback> tracebacks_ ABSL_GUARDED_BY(mu_);
  std::uint32_t tracebacks_used_ ABSL_GUARDED_BY(mu_) = 0;
  MappedArray<void*> frames_ ABSL_GUARDED_BY(mu_);
  std::size_t frames_used_ ABSL_GUARDED_BY(mu_) = 0;
  // Open-addressed index into tracebacks_, storing index + 1 (0 = empty).
  MappedArray<std::uint32_t> intern_ ABSL_GUARDED_BY(mu_);
};

ABSL_CONST_INIT TraceTables tables;
std::atomic<bool> tracing{false};
std::atomic<int> frame_limit{1};
ABSL_CONST_INIT thread_local bool inside_hook = false;

ih_allocator_t previous[kDomainCount];

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
  sync::MutexLock lock(&tables.mu());
  if (!tracing.load(std::memory_order_relaxed)) return true;
  return tables.Put(kTraceDefaultDomain, ptr, size, CurrentInterpreterId(),
                    from_mem_or_obj, frames, nframes);
}

// The serial of ptr's trace, or 0. Free and realloc remove a trace after
// the block is gone (a debug dump during the free still finds it), but only
// if it is still the same trace: another thread may have been given the
// same address and traced it in between.
std::uint64_t TraceSerial(std::uintptr_t ptr) {
  sync::MutexLock lock(&tables.mu());
  const TraceEntry* entry = tables.Get(kTraceDefaultDomain, ptr);
  return entry == nullptr ? 0 : entry->serial;
}

void ForgetIfSame(std::uintptr_t ptr, std::uint64_t serial) {
  if (serial == 0) return;
  sync::MutexLock lock(&tables.mu());
  const TraceEntry* entry = tables.Get(kTraceDefaultDomain, ptr);
  if (entry != nullptr && entry->serial == serial) {
    tables.Remove(kTraceDefaultDomain, ptr);
  }
}

ih_allocator_t& Prev(void* ctx) { return *static_cast<ih_allocator_t*>(ctx); }
bool FromMemOrObj(void* ctx) {
  return static_cast<ih_allocator_t*>(ctx) != &previous[0];
}

// Records only the outermost call of a thread.
class HookScope {
 public:
  HookScope() : outermost_(!inside_hook) { inside_hook = true; }
  ~HookScope() {
    if (outermost_) inside_hook = false;
  }
  bool records() const {
    return outermost_ && tracing.load(std::memory_order_relaxed);
  }

 private:
  const bool outermost_;
};

__attribute__((noinline)) void* TraceMalloc(void* ctx, std::size_t n) {
  HookScope scope;
  void* p = Prev(ctx).malloc(Prev(ctx).ctx, n);
  if (p != nullptr && scope.records() &&
      !Record(reinterpret_cast<std::uintptr_t>(p), n, FromMemOrObj(ctx),
              __builtin_return_address(0))) {
    Prev(ctx).free(Prev(ctx).ctx, p);  // as CPython: no trace, no block
    return nullptr;
  }
  return p;
}

__attribute__((noinline)) void* TraceCalloc(void* ctx, std::size_t nelem,
                                            std::size_t elsize) {
  HookScope scope;
  void* p = Prev(ctx).calloc(Prev(ctx).ctx, nelem, elsize);
  if (p != nullptr && scope.records() &&
      !Record(reinterpret_cast<std::uintptr_t>(p), nelem * elsize,
              FromMemOrObj(ctx), __builtin_return_address(0))) {
    Prev(ctx).free(Prev(ctx).ctx, p);
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
  void* moved = Prev(ctx).realloc(Prev(ctx).ctx, p, n);
  if (moved == nullptr || !scope.records()) return moved;
  if (moved != p) ForgetIfSame(reinterpret_cast<std::uintptr_t>(p), old_serial);
  if (!Record(reinterpret_cast<std::uintptr_t>(moved), n, FromMemOrObj(ctx),
              __builtin_return_address(0))) {
    if (p == nullptr) {
      Prev(ctx).free(Prev(ctx).ctx, moved);
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
  Prev(ctx).free(Prev(ctx).ctx, p);
  ForgetIfSame(reinterpret_cast<std::uintptr_t>(p), serial);
}

void WriteFrames(int fd, void* const* frames, std::uint32_t nframes) {
  char line[512];
  char symbol[400];
  for (std::uint32_t i = 0; i < nframes; ++i) {
    SymbolizeFrame(frames[i], symbol, sizeof(symbol));
    const int n = std::snprintf(
        line, sizeof(line), "  File \"%s\", address %p\n", symbol, frames[i]);
    if (n > 0) {
      WriteFully(fd, line,
                 std::min(static_cast<std::size_t>(n), sizeof(line) - 1));
    }
  }
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
  return {&previous[static_cast<int>(domain)], TraceMalloc, TraceCalloc,
          TraceRealloc, TraceFree};
}

ih_allocator_t* TracemallocHookPrevious(Domain domain) {
  return &previous[static_cast<int>(domain)];
}

void BeginTracing(int nframe) {
  frame_limit.store(nframe, std::memory_order_relaxed);
  sync::MutexLock lock(&tables.mu());
  tracing.store(true, std::memory_order_release);
}

void EndTracing() {
  sync::MutexLock lock(&tables.mu());
  tracing.store(false, std::memory_order_release);
  tables.Clear();
}

bool IsTracing() { return tracing.load(std::memory_order_acquire); }

__attribute__((noinline)) int Track(unsigned domain, std::uintptr_t ptr,
                                    std::size_t size) {
  void* frames[kMaxFrames];
  const int nframes = Capture(frames, __builtin_return_address(0));
  sync::MutexLock lock(&tables.mu());
  if (!tracing.load(std::memory_order_relaxed)) return -2;
  return tables.Put(domain, ptr, size, CurrentInterpreterId(), false, frames,
                    nframes)
             ? 0
             : -1;
}

int Untrack(unsigned domain, std::uintptr_t ptr) {
  sync::MutexLock lock(&tables.mu());
  if (!tracing.load(std::memory_order_relaxed)) return -2;
  tables.Remove(domain, ptr);
  return 0;
}

bool GetTrace(unsigned domain, std::uintptr_t ptr, TraceInfo* info) {
  sync::MutexLock lock(&tables.mu());
  const TraceEntry* entry = tables.Get(domain, ptr);
  if (entry == nullptr) return false;
  info->size = entry->size;
  info->interpreter = entry->interpreter;
  std::uint32_t nframes = 0;
  void* const* frames = tables.FramesOf(entry->traceback, &nframes);
  info->frames.assign(frames, frames + nframes);
  return true;
}

std::size_t TracedBytes(unsigned domain) {
  std::size_t total = 0;
  sync::MutexLock lock(&tables.mu());
  tables.ForEach([&](const TraceEntry& e) {
    if (e.domain == domain) total += e.size;
  });
  return total;
}

std::size_t TraceCount(unsigned domain) {
  std::size_t count = 0;
  sync::MutexLock lock(&tables.mu());
  tables.ForEach([&](const TraceEntry& e) {
    if (e.domain == domain) ++count;
  });
  return count;
}

std::vector<SiteStats> TopSites(bool by_bytes, std::size_t limit) {
  // Keyed by the whole traceback, as CPython's
  // Snapshot.statistics("traceback").
  std::unordered_map<std::uint32_t, SiteStats> sites;
  {
    sync::MutexLock lock(&tables.mu());
    tables.ForEach([&](const TraceEntry& e) {
      if (e.domain != kTraceDefaultDomain) return;
      tables.mu().AssumeHeld();  // ForEach runs under the lock
      std::uint32_t nframes = 0;
      void* const* frames = tables.FramesOf(e.traceback, &nframes);
      SiteStats& site = sites[e.traceback];
      if (site.count == 0) site.frames.assign(frames, frames + nframes);
      site.bytes += e.size;
      ++site.count;
    });
  }
  std::vector<SiteStats> result;
  result.reserve(sites.size());
  for (auto& [id, site] : sites) result.push_back(std::move(site));
  std::sort(result.begin(), result.end(),
            [by_bytes](const SiteStats& a, const SiteStats& b) {
              return by_bytes ? a.bytes > b.bytes : a.count > b.count;
            });
  if (result.size() > limit) result.resize(limit);
  return result;
}

void SymbolizeFrame(void* pc, char* out, std::size_t size) {
  // The return address points after the call; look up the call itself.
  void* call = static_cast<char*>(pc) - 1;
  if (!absl::Symbolize(call, out, static_cast<int>(size))) {
    std::snprintf(out, size, "%p", pc);
  }
}

void WriteTracebackSection(int fd, const void* p) {
  if (!IsTracing()) {
    WriteFully(fd,
               "Enable tracemalloc to get the memory block allocation "
               "traceback\n\n");
    return;
  }
  void* frames[kMaxFrames];
  std::uint32_t nframes = 0;
  {
    // A fatal path: if this thread already holds the tables' lock (a
    // corrupted block found inside a tracing hook), skip the traceback.
    if (tables.mu().IsHeldByCurrentThread()) return;
    sync::MutexLock lock(&tables.mu());
    const TraceEntry* entry =
        tables.Get(kTraceDefaultDomain, reinterpret_cast<std::uintptr_t>(p));
    if (entry == nullptr) return;
    void* const* stored = tables.FramesOf(entry->traceback, &nframes);
    std::memcpy(frames, stored, sizeof(void*) * nframes);
  }
  WriteFully(fd, "Memory block allocated at (most recent call first):\n");
  WriteFrames(fd, frames, nframes);
  WriteFully(fd, "\n");
}

std::size_t WriteLeakReport(int fd, std::int64_t interpreter) {
  std::size_t listed = 0;
  sync::MutexLock lock(&tables.mu());
  tables.ForEach([&](const TraceEntry& e) {
    if (e.domain != kTraceDefaultDomain || e.interpreter != interpreter ||
        e.from_mem_or_obj == 0) {
      return;
    }
    char line[128];
    const int n = std::snprintf(line, sizeof(line),
                                "Leaked block of %zu bytes at %p, allocated "
                                "at (most recent call first):\n",
                                e.size, reinterpret_cast<void*>(e.ptr));
    if (n > 0) WriteFully(fd, line, static_cast<std::size_t>(n));
    tables.mu().AssumeHeld();  // ForEach runs under the lock
    std::uint32_t nframes = 0;
    void* const* frames = tables.FramesOf(e.traceback, &nframes);
    WriteFrames(fd, frames, nframes);
    ++listed;
  });
  return listed;
}

}  // namespace interpheap::alloc
