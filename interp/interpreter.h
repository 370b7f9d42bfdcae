// interp/interpreter.h: an interpreter context: a lock and a heap.
//
// Every interpreter owns a lock (the analogue of a per-interpreter GIL) or
// shares the main interpreter's, and owns a heap (its allocator state for
// mem and obj) or shares the main interpreter's. A thread attaches to an
// interpreter by taking its lock (interp/thread_state.h). Interpreters are
// made and destroyed by the Runtime (interp/runtime.h).

#ifndef INTERPHEAP_INTERP_INTERPRETER_H_
#define INTERPHEAP_INTERP_INTERPRETER_H_

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "alloc/pymalloc/pymalloc.h"
#include "sync/mutex.h"

namespace interpheap::interp {

// A checked reference to an interpreter, for APIs that outlive it (the C
// API's ih_interp_t*): unique in the process and never reused, unlike an
// Interpreter*, whose address a later interpreter may get. The runtime
// refuses a handle whose interpreter was destroyed (NotFound).
struct InterpreterHandle {
  std::uint64_t value = 0;  // 0: no interpreter
};

struct InterpreterConfig {
  // Own lock, or the main interpreter's lock.
  bool own_lock = true;
  // Own heap, or the main interpreter's heap. An interpreter with its own
  // lock must have its own heap: a shared heap touched under two different
  // locks would race, so CreateInterpreter refuses that combination.
  bool own_heap = true;
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

  // The lock a thread takes to attach: this interpreter's own, or main's.
  sync::Mutex& lock() const ABSL_LOCK_RETURNED(*lock_) { return *lock_; }

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
