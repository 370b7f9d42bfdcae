// interp/interpreter.h: an interpreter context: a lock and a heap.
//
// Every interpreter has a lock (the analogue of a per-interpreter GIL): its
// own, the main interpreter's, or its host's (LockKind). It owns a heap (its
// allocator state for mem and obj) or shares the main interpreter's. A
// thread attaches to an interpreter, taking its lock unless the lock is the
// host's (interp/thread_state.h). Interpreters are made and destroyed by the
// Runtime (interp/runtime.h).

#ifndef INTERPHEAP_INTERP_INTERPRETER_H_
#define INTERPHEAP_INTERP_INTERPRETER_H_

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "alloc/pymalloc/pymalloc.h"
#include "sync/mutex.h"

namespace interpheap::interp {

// The lock that serializes an interpreter's mem and obj calls.
enum class LockKind {
  // Its own lock, taken by ThreadState::Attach and released by Detach.
  kOwn,
  // The main interpreter's lock (taken and released the same way).
  kMain,
  // A lock that belongs to the host, for CPython the GIL of the CPython
  // interpreter it serves. interpheap never takes it: the host guarantees
  // that the calling thread holds it for every mem/obj call, attaching takes
  // no lock, and "held" (the debug hooks' check, AssertHeld) asks the
  // host's predicate.
  kHost,
};

const char* LockKindName(LockKind kind);  // "own", "main", "host"

// A checked reference to an interpreter, for APIs that outlive it (the C
// API's ih_interp_t*): unique in the process and never reused, unlike an
// Interpreter*, whose address a later interpreter may get. The runtime
// refuses a handle whose interpreter was destroyed (NotFound).
struct InterpreterHandle {
  std::uint64_t value = 0;  // 0: no interpreter
};

struct InterpreterConfig {
  LockKind lock = LockKind::kOwn;
  // Own heap, or the main interpreter's heap. An interpreter with its own or
  // its host's lock must have its own heap: a shared heap touched under two
  // different locks would race, so CreateInterpreter refuses that.
  bool own_heap = true;
  // kHost only (and then required): nonzero when the calling thread holds
  // the host's lock; called with `host_lock_ctx`. Must not call interpheap.
  sync::HostHeldPredicate host_lock_held = nullptr;
  void* host_lock_ctx = nullptr;
};

// Thread-safe: the accessors read immutable fields or atomics.
class Interpreter {
 public:
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // 0 for the main interpreter, then 1, 2, ... in creation order; never
  // reused within a process.
  std::int64_t id() const { return id_; }
  bool is_main() const { return id_ == 0; }
  // This interpreter's handle (see InterpreterHandle).
  InterpreterHandle handle() const { return {handle_}; }
  const InterpreterConfig& config() const { return config_; }

  // The lock of this interpreter's mem/obj calls: its own or main's (taken
  // by attaching), or the stand-in for its host's lock (is_host_lock(),
  // never taken by interpheap; held exactly when the host says so).
  sync::Mutex& lock() const ABSL_LOCK_RETURNED(*lock_) { return *lock_; }
  bool host_locked() const { return config_.lock == LockKind::kHost; }

  // The interpreter whose heap serves this one's mem and obj domains: this
  // one, or main.
  Interpreter& heap_owner() const { return *heap_owner_; }

  // The heap serving this interpreter's mem and obj domains (its own, or
  // main's). Touched only under lock().
  alloc::Heap& heap() const { return *heap_owner_->own_heap_; }

  // Threads attached now.
  int attached_threads() const {
    return attached_threads_.load(std::memory_order_acquire);
  }

 private:
  friend class Runtime;
  friend class ThreadState;

  // `main` is nullptr when making the main interpreter itself.
  Interpreter(std::int64_t id, const InterpreterConfig& config,
              Interpreter* main);

  const std::int64_t id_;
  const std::uint64_t handle_;
  const InterpreterConfig config_;
  // Own lock, or the host lock's stand-in (a Mutex with the host's
  // predicate); unused with LockKind::kMain. Alone on its cache line.
  mutable sync::Mutex own_lock_;
  sync::Mutex* const lock_;
  Interpreter* const heap_owner_;
  // Set when this interpreter has its own heap. A heap still holding live
  // blocks when the interpreter is destroyed outlives it (see Runtime).
  alloc::Heap* own_heap_ = nullptr;
  // Incremented by Attach before taking the lock (a reservation: destroy
  // is refused from then on), decremented by Detach
  // after releasing it (release) as its last touch of the interpreter;
  // Destroy reads it (acquire) and then frees the interpreter without
  // taking its lock.
  std::atomic<int> attached_threads_{0};
};

}  // namespace interpheap::interp

#endif  // INTERPHEAP_INTERP_INTERPRETER_H_
