// pyhost/interpreter_map.h: one interpheap interpreter per CPython
// interpreter, found in O(1) without a lock on every mem/obj call.
//
// CPython 3.12+ interpreters created with their own obmalloc state
// (use_main_obmalloc = 0, required for their own GIL) each get an interpheap
// interpreter with its own heap, host-locked by that interpreter's GIL;
// the main interpreter and those sharing its obmalloc state are served by
// the main host interpreter. The map knows CPython interpreters only as
// opaque keys (their PyInterpreterState addresses); pyhost/host_allocator.cc
// supplies what is CPython-specific.
//
// Lookup: a thread-local (map, key, generation -> interpreter, heap) cache
// answers the common case with three compares and no call (CachedHeap is
// the mem/obj fast path's); a miss probes a fixed lock-free table
// (acquire loads), and a key seen for the first time is added under the
// map's lock after the host's Create callback made its interpreter.
//
// Retirement: CPython gives an allocator no "interpreter ended" hook, but
// every ended interpreter's PyInterpreterState is freed through the raw
// domain (free_interpreter() -> PyMem_RawFree) after all of its objects
// and its thread states are gone. The raw free hook calls OnRawFree(p)
// first: when p is a registered key, the entry goes, every thread's cache is
// invalidated (the generation moves), and the host's Retire callback
// destroys the interpheap interpreter with the usual leak accounting. A
// freed PyInterpreterState's address is often reused by the next one, which
// is why retirement, not the address, ends an entry.
//
// Thread-safe.

#ifndef INTERPHEAP_PYHOST_INTERPRETER_MAP_H_
#define INTERPHEAP_PYHOST_INTERPRETER_MAP_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/base/optimization.h"
#include "absl/base/thread_annotations.h"
#include "interp/interpreter.h"
#include "sync/mutex.h"

namespace interpheap::pyhost {

class InterpreterMap;

namespace internal {
// The calling thread's last answer: (map, key, generation) -> interpreter
// and its heap.
// GNU __thread: constant-initialized, no TLS wrapper call.
struct LookupCache {
  const InterpreterMap* map;
  const void* key;
  std::uint64_t generation;
  interp::Interpreter* interp;
  alloc::Heap* heap;  // &interp->heap()
};
extern __thread LookupCache lookup_cache;
}  // namespace internal

class InterpreterMap {
 public:
  // Live CPython interpreters the map can hold besides main: the table has
  // twice as many slots. Past it, a new interpreter is a fatal error that
  // says so (no silent sharing).
  static constexpr std::size_t kMaxInterpreters = 8192;

  struct Callbacks {
    // Makes (or picks: main) the interpheap interpreter serving `key`, and
    // sets *permanent when `key` is never freed (CPython's main
    // interpreter: its state is static). Called under the map's lock, at
    // most once per key between retirements. Must not return nullptr
    // (fatal errors are its own).
    interp::Interpreter* (*create)(const void* key, bool* permanent);
    // Ends `interp`, made by create for `key` (not called for main).
    void (*retire)(const void* key, interp::Interpreter* interp);
  };

  // `main` serves keys for which create returns it; it is never retired.
  constexpr InterpreterMap() = default;
  void Configure(interp::Interpreter* main, Callbacks callbacks);

  // The interpreter serving `key` (not nullptr).
  interp::Interpreter* Lookup(const void* key) {
    const internal::LookupCache& cache = internal::lookup_cache;
    if (cache.key == key && cache.map == this &&
        cache.generation == generation_.load(std::memory_order_acquire)) {
      return cache.interp;
    }
    return LookupSlow(key);
  }

  // &Lookup(key)->heap(), answered from the same cache without reaching
  // into the interpreter (the mem/obj fast path).
  alloc::Heap* LookupHeap(const void* key) {
    alloc::Heap* heap = CachedHeap(key);
    if (ABSL_PREDICT_TRUE(heap != nullptr)) return heap;
    return &LookupSlow(key)->heap();
  }

  // The cache's answer for `key`, or nullptr on a miss. Never locks or
  // calls.
  alloc::Heap* CachedHeap(const void* key) const {
    const internal::LookupCache& cache = internal::lookup_cache;
    if (cache.key == key && cache.map == this &&
        cache.generation == generation_.load(std::memory_order_acquire)) {
      return cache.heap;
    }
    return nullptr;
  }

  // Retires `p` if it is a registered key; cheap otherwise (one relaxed
  // load while only permanent keys are registered).
  void OnRawFree(const void* p) {
    if (retirable_.load(std::memory_order_relaxed) == 0) return;
    OnRawFreeSlow(p);
  }

  // Live entries (every key seen and not retired, main's included).
  std::size_t live() const { return live_.load(std::memory_order_relaxed); }
  // Entries retired so far.
  std::uint64_t retired() const {
    return retired_.load(std::memory_order_relaxed);
  }

 private:
  static constexpr std::size_t kSlots = 2 * kMaxInterpreters;
  static_assert((kSlots & (kSlots - 1)) == 0);

  interp::Interpreter* LookupSlow(const void* key);
  void OnRawFreeSlow(const void* p);
  // The slot holding `key`, or -1. Lock-free.
  long Find(const void* key) const;
  // Inserts `key` (absent) with `interp`; fatal when the table is full.
  void InsertLocked(const void* key, interp::Interpreter* interp,
                    bool permanent) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable sync::Mutex mu_{absl::kConstInit};
  interp::Interpreter* main_ = nullptr;
  Callbacks callbacks_ = {nullptr, nullptr};
  // keys_[i]: nullptr (never used), kTombstone (retired), or a key whose
  // interpreter is interps_[i] (written before the key's release store).
  std::atomic<const void*> keys_[kSlots] = {};
  interp::Interpreter* interps_[kSlots] = {};
  // Moves at every retirement; caches of an older generation miss once.
  std::atomic<std::uint64_t> generation_{1};
  std::atomic<std::size_t> live_{0};
  // Live entries that a raw free may retire (all but permanent ones);
  // permanent_[i] marks the others.
  std::atomic<std::size_t> retirable_{0};
  bool permanent_[kSlots] = {};
  std::atomic<std::uint64_t> retired_{0};
};

}  // namespace interpheap::pyhost

#endif  // INTERPHEAP_PYHOST_INTERPRETER_MAP_H_
