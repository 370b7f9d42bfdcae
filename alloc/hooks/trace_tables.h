// alloc/hooks/trace_tables.h: tracemalloc's storage: traces keyed by
// (trace domain, pointer) in an open-addressed hash table, and interned
// tracebacks (identical stacks stored once). All in mapped memory
// (alloc/hooks/mapped_array.h); one lock guards everything. Read
// alloc/hooks/tracemalloc.h for what is traced.

#ifndef INTERPHEAP_ALLOC_HOOKS_TRACE_TABLES_H_
#define INTERPHEAP_ALLOC_HOOKS_TRACE_TABLES_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/base/const_init.h"
#include "absl/base/thread_annotations.h"
#include "alloc/hooks/mapped_array.h"
#include "sync/mutex.h"

namespace interpheap::alloc {

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

inline std::uint64_t Mix(std::uint64_t x) {
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
    if (entry->slot == Slot::kUsed) {
      traced_bytes_ -= entry->size;  // replaced
    } else {
      if (entry->slot == Slot::kDeleted) --deleted_;
      ++used_;
    }
    traced_bytes_ += size;
    peak_bytes_ = std::max(peak_bytes_, traced_bytes_);
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
    traced_bytes_ -= entry->size;
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

  // Forgets every trace; the traced and peak bytes go back to 0.
  void Clear() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    traces_.Release();
    tracebacks_.Release();
    frames_.Release();
    intern_.Release();
    used_ = deleted_ = tracebacks_used_ = frames_used_ = 0;
    traced_bytes_ = peak_bytes_ = 0;
  }

  // The sizes of every trace, all trace domains (CPython's traced memory),
  // and their highest sum since the last Clear() or ResetPeak().
  std::size_t traced_bytes() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return traced_bytes_;
  }
  std::size_t peak_bytes() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return peak_bytes_;
  }
  void ResetPeak() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    peak_bytes_ = traced_bytes_;
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
  std::size_t traced_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::size_t peak_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  MappedArray<Traceback> tracebacks_ ABSL_GUARDED_BY(mu_);
  std::uint32_t tracebacks_used_ ABSL_GUARDED_BY(mu_) = 0;
  MappedArray<void*> frames_ ABSL_GUARDED_BY(mu_);
  std::size_t frames_used_ ABSL_GUARDED_BY(mu_) = 0;
  // Open-addressed index into tracebacks_, storing index + 1 (0 = empty).
  MappedArray<std::uint32_t> intern_ ABSL_GUARDED_BY(mu_);
};

// The process's trace tables, and whether tracing is on (written under the
// tables' lock, read anywhere). Constant-initialized.
extern TraceTables trace_tables;
extern std::atomic<bool> tracing_enabled;

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_HOOKS_TRACE_TABLES_H_
