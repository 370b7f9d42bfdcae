// interp/thread_state.h: attaching threads to interpreters.
//
// A thread attaches to an interpreter by taking its lock; the interpreter is
// then the thread's current interpreter until it detaches, which releases
// the lock. Mem and obj calls are made by an attached thread, under the lock.
// A host-locked interpreter (LockKind::kHost) is attached to without taking
// any lock: its host holds its own lock around every mem/obj call, and many
// threads may be attached at once.
//
// A thread that exits while attached is detached at its exit (its
// thread_local destructors run), which DetachedAtThreadExit() counts: the
// lock is released, so destroy and finalize are not refused forever, and a
// later thread that reuses the exited one's id does not appear to own it.

#ifndef INTERPHEAP_INTERP_THREAD_STATE_H_
#define INTERPHEAP_INTERP_THREAD_STATE_H_

#include "absl/status/status.h"
#include "interp/interpreter.h"

namespace interpheap::interp {

// The calling thread's attachment. All members are static: the state is one
// thread-local pointer.
class ThreadState {
 public:
  // The interpreter the calling thread is attached to, or nullptr.
  static Interpreter* Current() noexcept;

  // True if the calling thread is attached and holds its current
  // interpreter's lock: the condition for calling mem and obj. Exact (the
  // lock records its owner).
  static bool CurrentLockHeld() noexcept;

  // Takes `interp`'s lock (blocking while another thread holds it; no lock
  // for a host-locked interpreter) and makes it the current interpreter.
  // InvalidArgument for nullptr; FailedPrecondition if the thread is already
  // attached (detach first: attaching twice could deadlock on a shared lock).
  // Requires: `interp` is alive and not being destroyed (a stale pointer
  // cannot be told from a new interpreter at the same address; use
  // Runtime::Attach(InterpreterHandle) for a checked attach).
  [[nodiscard]] static absl::Status Attach(Interpreter* interp);

  // Releases the current interpreter's lock (none for a host-locked one) and
  // clears the attachment.
  // FailedPrecondition if the thread is not attached.
  [[nodiscard]] static absl::Status Detach();

  // Threads that exited while attached and were detached then, so far.
  static std::int64_t DetachedAtThreadExit() noexcept;

 private:
  friend class Runtime;

  // Attach, once the caller has raised interp's attached-thread count (a
  // reservation, which keeps it from being destroyed); drops the
  // reservation if the thread is already attached.
  [[nodiscard]] static absl::Status AttachReserved(Interpreter* interp);
};

// Attaches for the lifetime of the object; dies if attaching fails (use
// ThreadState::Attach for a status instead).
class ScopedAttach {
 public:
  explicit ScopedAttach(Interpreter* interp);
  ~ScopedAttach();
  ScopedAttach(const ScopedAttach&) = delete;
  ScopedAttach& operator=(const ScopedAttach&) = delete;
};

}  // namespace interpheap::interp

#endif  // INTERPHEAP_INTERP_THREAD_STATE_H_
