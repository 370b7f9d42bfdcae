// sync/mutex.h: sync::Mutex, the one lock type of interpheap.
//
// An interpreter's lock (the analogue of CPython's per-interpreter GIL), the
// runtime's control-plane lock and every other lock in the project are a
// sync::Mutex: a futex word plus the owner's id, alone on one cache line.
//   - It records its owner, so IsHeldByCurrentThread() and AssertHeld() are
//     exact, which the debug hooks' "lock held for mem/obj" check relies on.
//   - Lock and Unlock touch only the mutex's own cache line: no process-wide
//     state (Debian's absl::Mutex runs deadlock detection under one global
//     spinlock on every call, about 370 instructions a pair). An uncontended
//     pair costs about 25 instructions (bench/bench_mutex.cc measures it).
//   - Under TSan it announces lock and unlock to the sanitizer (sync/tsan.h).
//   - It can stand for a lock that belongs to the host (for CPython: the
//     GIL): interpheap never takes such a lock, and "held" asks the host.
//   - Deadlock (lock-order) detection exists only in a debug build that asks
//     for it: `--define=ih_deadlock_detection=1` (never in an NDEBUG build).
// The scoped holder is sync::MutexLock (sync/mutex_lock.h).
//
// States of the futex word (Drepper's "Futexes are tricky", mutex 2):
//   0  unlocked;  1  locked, no waiter;  2  locked, a waiter may sleep.

#ifndef INTERPHEAP_SYNC_MUTEX_H_
#define INTERPHEAP_SYNC_MUTEX_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/base/const_init.h"
#include "absl/base/internal/raw_logging.h"
#include "absl/base/optimization.h"
#include "absl/base/thread_annotations.h"
#include "sync/thread_id.h"
#include "sync/tsan.h"

#ifdef IH_MUTEX_DEADLOCK_DETECTION
#ifdef NDEBUG
#error "IH_MUTEX_DEADLOCK_DETECTION is for debug builds only (drop -c opt)"
#endif
#include "absl/synchronization/mutex.h"
#endif

namespace interpheap::sync {

// The line size a lock owns alone, so that two interpreters' locks never
// share a written cache line.
inline constexpr std::size_t kCacheLineSize = 64;

// For a lock held by the host (see Mutex(HostHeldPredicate, void*)): returns
// nonzero when the calling thread holds it. Must not take any sync::Mutex.
// An int, not a bool, so that C hosts pass theirs (api/interpheap.h) as is.
using HostHeldPredicate = int (*)(void* ctx);

// A non-recursive exclusive lock that knows its owner.
//
// Thread-safe.
class ABSL_LOCKABLE alignas(kCacheLineSize) Mutex {
 public:
  Mutex() noexcept { IH_TSAN_MUTEX_CREATE(this, 0); }

  // For globals: `ABSL_CONST_INIT sync::Mutex mu(absl::kConstInit);`. Usable
  // before main() and after static destructors.
  constexpr explicit Mutex(absl::ConstInitType) noexcept
#ifdef IH_MUTEX_DEADLOCK_DETECTION
      : detector_(absl::kConstInit)
#endif
  {
  }

  // A stand-in for a lock that belongs to the host, for clang's analysis and
  // for the "held" checks: interpheap never takes it (Lock, TryLock and
  // Unlock are fatal errors), and IsHeldByCurrentThread() returns
  // `held(ctx) != 0`. For CPython, `held` asks PyGILState_Check(). A null
  // `held` makes an ordinary lock, as Mutex() does.
  Mutex(HostHeldPredicate held, void* ctx) noexcept
      : host_held_(held), host_ctx_(held == nullptr ? nullptr : ctx) {
    IH_TSAN_MUTEX_CREATE(this, 0);
  }

  ~Mutex() { IH_TSAN_MUTEX_DESTROY(this, 0); }

  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // Blocks until the lock is free, then takes it.
  // Requires: the calling thread does not hold it (checked: locking twice is
  // a deadlock, reported as a fatal error instead); not a host lock.
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    const ThreadId self = CurrentThreadId();
    CheckLockable(self);
    IH_TSAN_MUTEX_PRE_LOCK(this, 0);
    std::uint32_t expected = 0;
    // Acquire: pairs with the release in Unlock(); the guarded data written
    // by the previous owner is visible from here on.
    if (ABSL_PREDICT_FALSE(!state_.compare_exchange_strong(
            expected, 1, std::memory_order_acquire,
            std::memory_order_relaxed))) {
      LockSlow();
    }
    IH_TSAN_MUTEX_POST_LOCK(this, 0, 0);
    OnLocked(self);
  }

  // Takes the lock if it is free; returns whether it did.
  // Requires: not a host lock.
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) {
    const ThreadId self = CurrentThreadId();
    CheckLockable(self);
    IH_TSAN_MUTEX_PRE_LOCK(this, IH_TSAN_FLAG_TRY_LOCK);
    std::uint32_t expected = 0;
    const bool locked = state_.compare_exchange_strong(
        expected, 1, std::memory_order_acquire, std::memory_order_relaxed);
    IH_TSAN_MUTEX_POST_LOCK(
        this,
        IH_TSAN_FLAG_TRY_LOCK | (locked ? 0 : IH_TSAN_FLAG_TRY_LOCK_FAILED), 0);
    if (locked) OnLocked(self);
    return locked;
  }

  // Releases the lock.
  // Requires: held by the calling thread (checked); not a host lock.
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    ABSL_RAW_CHECK(host_held_ == nullptr,
                   "sync::Mutex::Unlock: a host lock is released by its host, "
                   "never by interpheap");
    ABSL_RAW_CHECK(owner_.load(std::memory_order_relaxed) == CurrentThreadId(),
                   "sync::Mutex::Unlock: not held by the calling thread");
#ifdef IH_MUTEX_DEADLOCK_DETECTION
    detector_.Unlock();
#endif
    owner_.store(kNoThread, std::memory_order_relaxed);
    IH_TSAN_MUTEX_PRE_UNLOCK(this, 0);
    // Release: publishes the guarded data to the next owner.
    if (ABSL_PREDICT_FALSE(state_.exchange(0, std::memory_order_release) ==
                           2)) {
      WakeOne();
    }
    IH_TSAN_MUTEX_POST_UNLOCK(this, 0);
  }

  // Tells clang's analysis that the lock is held, and checks it in debug
  // builds only (!NDEBUG): for hot paths whose callers already guarantee it.
  void AssumeHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {
#ifndef NDEBUG
    AssertHeld();
#endif
  }

  // Lock() and Unlock() hidden from clang's static analysis, for a lock held
  // across function boundaries: an attached thread holds its interpreter's
  // lock from ThreadState::Attach() until ThreadState::Detach(), which no
  // single scope can show. Code in between states the fact with AssertHeld().
  void LockAcrossScopes() ABSL_NO_THREAD_SAFETY_ANALYSIS { Lock(); }
  void UnlockAcrossScopes() ABSL_NO_THREAD_SAFETY_ANALYSIS { Unlock(); }

  // Exact: true if and only if the calling thread holds the lock (for a host
  // lock: what the host's predicate says).
  bool IsHeldByCurrentThread() const noexcept {
    if (ABSL_PREDICT_FALSE(host_held_ != nullptr)) {
      return host_held_(host_ctx_) != 0;
    }
    return owner_.load(std::memory_order_relaxed) == CurrentThreadId();
  }

  // True for a lock constructed as a host lock.
  bool is_host_lock() const noexcept { return host_held_ != nullptr; }

  // Dies with a message unless the calling thread holds the lock. Also tells
  // clang's thread-safety analysis that the lock is held from here on.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {
    ABSL_RAW_CHECK(IsHeldByCurrentThread(),
                   "sync::Mutex::AssertHeld: not held by the calling thread");
  }

 private:
  void CheckLockable(ThreadId self) const {
    ABSL_RAW_CHECK(host_held_ == nullptr,
                   "sync::Mutex::Lock: a host lock is taken by its host, "
                   "never by interpheap");
    ABSL_RAW_CHECK(owner_.load(std::memory_order_relaxed) != self,
                   "sync::Mutex::Lock: already held by the calling thread");
  }

  void OnLocked(ThreadId self) {
    // Relaxed: only the owner writes its own id, and a thread reading
    // owner_ in IsHeldByCurrentThread() compares against itself, so it sees
    // its own id exactly when it wrote it (program order).
    owner_.store(self, std::memory_order_relaxed);
#ifdef IH_MUTEX_DEADLOCK_DETECTION
    // Never contended (we hold the futex): it only feeds Abseil's lock-order
    // graph, which aborts on a cycle.
    detector_.Lock();
#endif
  }

  // Contended paths (sync/mutex.cc): spin briefly, then sleep on the futex.
  void LockSlow();
  void WakeOne();

  // The futex word: 0, 1 or 2 (see the file comment).
  std::atomic<std::uint32_t> state_{0};
  // The holder's CurrentThreadId(), or kNoThread.
  std::atomic<ThreadId> owner_{kNoThread};
  // Set only for a host lock; immutable after construction.
  const HostHeldPredicate host_held_ = nullptr;
  void* const host_ctx_ = nullptr;
#ifdef IH_MUTEX_DEADLOCK_DETECTION
  absl::Mutex detector_;
#endif
};

// Each lock owns its cache line: two interpreters' locks never share a
// written line (tests/sync/mutex_test.cc checks two interpreters' addresses).
static_assert(alignof(Mutex) == kCacheLineSize);
static_assert(sizeof(Mutex) == kCacheLineSize);

}  // namespace interpheap::sync

#endif  // INTERPHEAP_SYNC_MUTEX_H_
